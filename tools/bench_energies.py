#!/usr/bin/env python
"""Wall time of the five-energy study against the single-energy one, and the bitwise check.

    python tools/bench_energies.py [--np 2] [--out DIR] [--set time.duration_days=5 ...]

Runs, one after the other in this session under ``mpirun -n NP`` (exact method as shipped):
  1. ``inputs/watt2021.toml``           (0.5 MeV on inputs/hiss_L3_0.5MeV.h5)
  2. ``inputs/watt2021_energies.toml``  (0.1, 0.2, 0.5, 1, 2 MeV on inputs/hiss_L3_energies.h5)
and prints both wall times and their ratio (issue 14's target: at most 5), then compares every
per-member dataset of the four 0.5 MeV groups ``<experiment>_E0.5MeV`` of run 2 with the groups
``<experiment>`` of run 1, bit for bit (exit 1 on any difference).  ``--set`` overrides are
passed to both runs (e.g. a shorter duration); ``--repeat`` runs the single-energy study again
after the multi-energy one, so that a change of the machine's load during the benchmark shows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PER_MEMBER = ("f", "daa_integral", "profile_index", "member_checksum", "member_done")


def run(study: Path, out: Path, np_: int, sets: list[str]) -> float:
    cmd = [shutil.which("mpirun") or "mpirun", "-n", str(np_), str(ROOT / ".venv/bin/hpcbelt"), "run", str(study),
           "-o", str(out), "--overwrite", "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr}")
    return wall


def compare(single: Path, multi: Path, energy: float = 0.5) -> list[str]:
    bad = []
    with h5py.File(single, "r") as a, h5py.File(multi, "r") as b:
        names = [e["name"] for e in json.loads(a.attrs["study_config_json"])["experiment"]]
        for n in names:
            g = f"{n}_E{energy:g}MeV"
            for k in PER_MEMBER:
                if not np.array_equal(a[n][k][()], b[g][k][()]):
                    bad.append(f"{g}/{k} differs from {n}/{k}")
        print(f"compared {len(names)} experiments x {len(PER_MEMBER)} datasets: "
              f"{'all bitwise identical' if not bad else f'{len(bad)} differ'}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--np", type=int, default=2, help="MPI ranks (default 2)")
    ap.add_argument("--out", type=Path, default=Path("results/bench_energies"), help="output directory")
    ap.add_argument("--set", action="append", default=[], dest="sets", help="override for both runs")
    ap.add_argument("--repeat", action="store_true", help="run the single-energy study again at the end")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    single, multi = args.out / "watt2021.h5", args.out / "watt2021_energies.h5"
    t1 = run(ROOT / "inputs/watt2021.toml", single, args.np, args.sets)
    print(f"single energy (inputs/watt2021.toml):            {t1:8.1f} s wall on {args.np} ranks", flush=True)
    t5 = run(ROOT / "inputs/watt2021_energies.toml", multi, args.np, args.sets)
    print(f"five energies (inputs/watt2021_energies.toml):   {t5:8.1f} s wall on {args.np} ranks", flush=True)
    if args.repeat:
        t1b = run(ROOT / "inputs/watt2021.toml", args.out / "watt2021_again.h5", args.np, args.sets)
        print(f"single energy again:                              {t1b:8.1f} s", flush=True)
        t1 = 0.5 * (t1 + t1b)
    print(f"ratio five / one energy: {t5 / t1:.2f} (target <= 5)")
    bad = compare(single, multi)
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
