#!/usr/bin/env python3
"""Benchmark the hiss diffusion-coefficient calculator.

    python tools/bench_dxx.py                 # profiles per second per core, both wave models
    python tools/bench_dxx.py --build 2       # + the 2,377-profile default build under mpirun -n 2

The per-core rate times single profiles (91 pitch angles, the default database settings of
inputs/hiss_L3_0.5MeV.toml) after a warm-up call that compiles or loads the numba cache.  The
build benchmark runs ``mpirun -n N python -m hpcbelt.dxx build --config <toml>`` into a
temporary file and reports the wall time (target: <= 2 min for the oblique model, N = 2).
Run it on an otherwise idle machine: other processes on the same cores slow it down.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")


def rate(cfg, n: int) -> float:
    from hpcbelt.dxx import calculator as C

    C.unit_profile(cfg, 9.3, 1100.0)                       # warm-up / compile
    xs = [6.0 + 8.0 * i / max(n - 1, 1) for i in range(n)]
    t = time.perf_counter()
    for x in xs:
        C.unit_profile(cfg, x, 1100.0)
    return n / (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "inputs" / "hiss_L3_0.5MeV.toml"))
    ap.add_argument("--profiles", type=int, default=8, help="profiles timed per model")
    ap.add_argument("--build", type=int, metavar="N", help="also time the full build on N ranks")
    ap.add_argument("--wave-model", default="oblique", help="wave model of the build benchmark")
    args = ap.parse_args(argv)

    from hpcbelt.config import read_toml, validate
    from hpcbelt.dxx.config import DxxConfig, full_schema

    doc, _ = read_toml(args.config)
    cfg = DxxConfig.from_doc(validate(doc, full_schema(), args.config))
    for model in ("field_aligned", "oblique"):
        c = dataclasses.replace(cfg, wave_model=model)
        r = rate(c, args.profiles)
        print(f"{model:14s} n_lat={c.n_lat:4d} n_alpha={c.n_alpha}: {r:.2f} profiles/s/core "
              f"({1 / r:.3f} s per profile)")
    if args.build:
        mpirun = shutil.which("mpirun")
        if mpirun is None:
            print("mpirun not found: build benchmark skipped")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "bench.h5"
            cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "-n", str(args.build),
                   sys.executable, "-m", "hpcbelt.dxx", "build", "--config", args.config,
                   "--wave-model", args.wave_model, "-o", str(out), "--quiet"]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env)
            el = time.perf_counter() - t
            import h5py
            with h5py.File(out, "r") as fh:
                n = fh["daa"].shape[0]
        print(f"build: {n} profiles, {args.wave_model}, mpirun -n {args.build}: {el:.1f} s wall "
              f"(target <= 120 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
