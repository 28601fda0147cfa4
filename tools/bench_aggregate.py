#!/usr/bin/env python
"""Benchmark 'hpcbelt aggregate' on a large synthetic pitch-angle run: wall time and peak memory.

    .venv/bin/python tools/bench_aggregate.py                       # 10,000 members x 121 times x 91 angles
    .venv/bin/python tools/bench_aggregate.py --members 2000 --ranks 2 --memory-mb 64

Writes a synthetic run file in the pitch-angle driver's layout (one ensemble of --members plus
the two constant runs) into a temporary directory, runs the real command line (under mpirun
with --ranks), prints the wall time, the peak resident memory of the aggregating process(es)
next to the size of the member data, and removes the files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_run(path: Path, members: int, n_time: int, n_alpha: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 30 * 86400.0, n_time)
    a = np.linspace(0, 90, n_alpha)
    shape = 0.2 + np.sin(np.radians(a)) ** 2
    exps = (("drand", "random", members), ("mean_of_profiles", "mean_of_profiles", 1),
            ("mean_inputs", "mean_inputs", 1))
    with h5py.File(path, "w") as h5:
        h5.attrs.update({"kind": "pitch_angle", "layout_version": 1, "status": "complete", "title": "benchmark",
                         "f_units": "cm^-2 s^-1 sr^-1 keV^-1",
                         "study_config_json": json.dumps({"experiment": [{"name": n} for n, _, _ in exps]})})
        h5["time_s"], h5["alpha_deg"] = t, a
        h5.create_group("grid").attrs["loss_cone_deg"] = 8.62
        for name, mode, m in exps:
            g = h5.create_group(name)
            g.attrs.update({"mode": mode, "switch_every_s": 21600.0 if mode == "random" else np.nan})
            f = g.create_dataset("f", (m, n_time, n_alpha), "f8", chunks=(1, n_time, n_alpha))
            d = g.create_dataset("daa_integral", (m, n_time, n_alpha), "f8", chunks=(1, n_time, n_alpha))
            g["member_done"] = np.ones(m, np.uint8)
            for m0 in range(0, m, 500):
                m1 = min(m, m0 + 500)
                rate = 0.2 * rng.lognormal(0, 0.5, (m1 - m0, 1, 1))
                f[m0:m1] = 5e3 * np.exp(-rate * (t / 86400.0)[None, :, None] / shape[None, None, :])
                d[m0:m1] = rate * (t / 86400.0)[None, :, None] * shape[None, None, :]
    return 2 * members * n_time * n_alpha * 8


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=10_000)
    p.add_argument("--times", type=int, default=121)
    p.add_argument("--alphas", type=int, default=91)
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--memory-mb", type=float, default=64.0)
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hpcbelt-bench-agg-"))
    try:
        t0 = time.monotonic()
        data = write_run(tmp / "run.h5", args.members, args.times, args.alphas)
        print(f"wrote {tmp / 'run.h5'}: {os.path.getsize(tmp / 'run.h5') / 2**20:.0f} MiB "
              f"({data / 2**20:.0f} MiB of ensemble data) in {time.monotonic() - t0:.1f} s")
        cmd = [sys.executable, "-m", "hpcbelt", "aggregate", str(tmp / "run.h5"), "-o", str(tmp / "s.h5"),
               "--memory-mb", str(args.memory_mb), "--bootstrap", str(args.bootstrap), "--no-checksum",
               "--figures", str(tmp / "figs")]
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1")
        if args.ranks > 1:
            cmd = [shutil.which("mpirun"), "-n", str(args.ranks), *cmd]
        t0 = time.monotonic()
        r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        wall = time.monotonic() - t0
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return r.returncode
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"aggregate: {args.members} members, {args.ranks} rank(s), --memory-mb {args.memory_mb:g}, "
              f"--bootstrap {args.bootstrap}: {wall:.1f} s wall, peak RSS of the largest process "
              f"{peak:.0f} MiB (imports, matplotlib and HDF5 included)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
