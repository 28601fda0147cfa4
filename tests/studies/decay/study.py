"""Schema and loader of the ``kind = "decay"`` test study."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpcbelt.config import Key, StudyFile, apply_overrides, non_negative, positive, validate
from hpcbelt.errors import InputError

SCHEMA = {
    "kind": Key("str", doc="study type", choices=("decay",)),
    "seed": Key("int", 0, doc="member streams derive from (seed, member)", check=non_negative),
    "title": Key("str", "", doc="free text"),
    "decay": {
        "members": Key("int", 6, doc="ensemble members", check=positive),
        "rate_per_s": Key("float", 1e-3, "1/s", "median decay rate", check=positive),
        "spread": Key("float", 0.5, "", "standard deviation of ln k", check=non_negative),
        "y0": Key("float", 1.0, "", "initial value", check=positive),
        "duration_s": Key("float", 3600.0, "s", "integration time", check=positive),
        "output_every_s": Key("float", 600.0, "s", "output cadence", check=positive),
        "dt_s": Key("float", 10.0, "s", "RK4 step", check=positive),
        "pause_s": Key("float", 0.0, "s", "wall-clock pause per member (for the restart test)",
                       check=non_negative),
    },
}


@dataclass
class Study:
    path: str
    text: str
    doc: dict
    overrides: tuple
    out_t: np.ndarray

    @property
    def seed(self) -> int:
        return self.doc["seed"]

    def input_files(self) -> dict:
        """The one file a decay study reads: its study file."""
        return {"study file": Path(self.path)}

    @property
    def members(self) -> int:
        return self.doc["decay"]["members"]

    def rate(self, m: int) -> float:
        d = self.doc["decay"]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, m]))
        return float(d["rate_per_s"] * np.exp(d["spread"] * rng.standard_normal()))


def load_study(source, overrides=None, experiments=None):
    src = StudyFile.coerce(source)
    if experiments is not None:
        raise InputError("--experiments: a decay study has no experiments")
    doc = validate(apply_overrides(src.doc, overrides, str(src.path)), SCHEMA, str(src.path))
    d = doc["decay"]
    n = d["duration_s"] / d["output_every_s"]
    if abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise InputError(f"{src.path}: decay.output_every_s: expected a divisor of duration_s")
    steps = d["output_every_s"] / d["dt_s"]
    if abs(steps - round(steps)) > 1e-9:
        raise InputError(f"{src.path}: decay.dt_s: expected a divisor of output_every_s")
    out_t = d["output_every_s"] * np.arange(int(round(n)) + 1)
    return Study(str(Path(src.path)), src.text, doc, tuple(overrides or ()), out_t)


def integrate(k: float, y0: float, out_t: np.ndarray, dt: float) -> np.ndarray:
    """RK4 for dy/dt = -k y, sampled at out_t."""
    y = np.empty(out_t.size)
    y[0] = cur = y0
    steps = int(round((out_t[1] - out_t[0]) / dt))
    for i in range(1, out_t.size):
        for _ in range(steps):
            k1 = -k * cur
            k2 = -k * (cur + 0.5 * dt * k1)
            k3 = -k * (cur + 0.5 * dt * k2)
            k4 = -k * (cur + dt * k3)
            cur = cur + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        y[i] = cur
    return y
