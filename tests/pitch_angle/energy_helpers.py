"""Tiny multi-energy databases and study files for the tests of a study over energies."""

from pathlib import Path

import numpy as np

from hpcbelt import daa_database as database

from .helpers import STUDY

ENERGIES = (0.2, 0.5, 1.0)


def write_energy_database(path, energies=ENERGIES, n_profiles=30, seed=0, n_alpha=91, L=3.0):
    """A multi-energy database: the same drawn amplitudes (one per observation) at every energy,
    times an energy-dependent shape, so D differs between energies but the rows correspond."""
    rng = np.random.default_rng(seed)
    alpha = np.linspace(0, 90, n_alpha)
    a = np.radians(alpha)
    amp = 2e-6 * rng.lognormal(0, 1.0, (n_profiles, 1)) * rng.uniform(0.5, 1.5, (n_profiles, 1))
    daa = []
    for E in energies:
        cut = 60.0 + 20.0 * np.log10(E / 0.1)       # resonance moves with energy
        shape = (0.5 + np.sin(a) ** 2) * np.exp(-((alpha / cut) ** 12)) / (1.0 + E)
        daa.append(amp * shape[None, :])
    daa = np.stack(daa)
    database.write(path, alpha, daa, daa_of_mean_inputs=0.5 * daa.mean(axis=1), L=L,
                   energy_MeV=list(energies), description="test multi-energy database")
    return path


def energy_list(energies) -> str:
    return "[" + ", ".join(f"{e:g}" for e in energies) + "]"


def make_energy_study(directory, energies=ENERGIES, method="exact", dalpha=5.0, days=2.0, members=3, dt=1.0,
                      db="db_energies.h5", name="study.toml", **replace):
    """The helpers' five-experiment study over ``energies`` (a list) or at one energy (a number)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "db_energies.h5").exists():
        write_energy_database(directory / "db_energies.h5")
    text = STUDY.format(method=method, dalpha=dalpha, days=days, members=members, dt=dt)
    value = energy_list(energies) if isinstance(energies, (list, tuple)) else f"{energies:g}"
    text = text.replace("energy_MeV = 0.5", f"energy_MeV = {value}").replace('path = "db.h5"', f'path = "{db}"')
    for old, new in replace.items():
        text = text.replace(old, new)
    path = directory / name
    path.write_text(text)
    return path
