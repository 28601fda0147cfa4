#!/usr/bin/env python
"""sha256 of every dataset of the shipped studies' outputs: record them, or check against a record.

    python tools/output_hashes.py record docs/output_hashes.json    # before a change
    python tools/output_hashes.py check docs/output_hashes.json     # after it: exit 1 on any difference
    python tools/output_hashes.py files A.h5 [B.h5 ...]             # just print the hashes of files

The runs (each on ``--np`` MPI ranks, default 2):
  watt2021_exact      inputs/watt2021.toml as shipped (exact propagators), and its aggregation
  watt2021_explicit   the same study, explicit scheme, dt = 1 s for half a day
  lejosne2023_small   inputs/lejosne2023.toml for 2 h with 6 permutations x 500 particles, and its
                      aggregation
  hiss_database       the default database build (inputs/hiss_L3_0.5MeV.toml)

Only dataset values are hashed (bytes of the array in its stored dtype, plus its shape and dtype):
attributes hold times, hosts and commits that differ between any two runs.  A refactoring that
must not change results keeps every hash; a speed-up that changes round-off is checked with
``--rtol`` instead (relative difference of every value, needs both sets of files: ``compare``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

RUNS = {
    "watt2021_exact": (["run", "inputs/watt2021.toml"], True),
    "watt2021_explicit": (["run", "inputs/watt2021.toml", "--set", "time.method=explicit",
                           "--set", "time.dt_s=1.0", "--set", "time.duration_days=0.5"], False),
    "lejosne2023_small": (["run", "inputs/lejosne2023.toml", "--set", "time.duration_h=2",
                           "--set", "particles.duration_h=2", "--set", "particles.permutations=6",
                           "--set", "particles.per_permutation=500"], True),
    "hiss_database": (["dxx", "build", "--config", "inputs/hiss_L3_0.5MeV.toml"], False),
}


def dataset_hashes(path: Path) -> dict:
    import h5py

    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            arr = obj[()]
            h = hashlib.sha256()
            h.update(f"{obj.shape}|{obj.dtype.str}|".encode())
            if isinstance(arr, np.ndarray) and arr.dtype != object:
                h.update(np.ascontiguousarray(arr).tobytes())
            else:   # variable-length strings: their values (the bytes would be pointers)
                h.update(repr(arr.tolist() if isinstance(arr, np.ndarray) else arr).encode())
            out[name] = h.hexdigest()

    with h5py.File(path, "r") as fh:
        fh.visititems(visit)
    return dict(sorted(out.items()))


def _mpirun(n: int) -> list:
    return ["mpirun", "--oversubscribe", "-n", str(n)] if n > 1 else []


def produce(workdir: Path, n: int, source: Path) -> dict:
    """Run every study of RUNS into ``workdir`` with the hpcbelt source tree ``source``
    (its ``inputs/`` too); returns name -> list of files."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=str(source))
    hpcbelt = [sys.executable, "-m", "hpcbelt"]
    files = {}
    for name, (args, aggregate) in RUNS.items():
        out = workdir / f"{name}.h5"
        cmd = _mpirun(n) + hpcbelt + [*args, "-o", str(out), "--overwrite", "--quiet"]
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, cwd=source, env=env, check=True)
        files[name] = [out]
        if aggregate:
            summ = workdir / f"{name}_summary.h5"
            cmd = _mpirun(n) + hpcbelt + ["aggregate", str(out), "-o", str(summ), "--quiet",
                                          "--no-checksum"]
            print("+", " ".join(cmd), file=sys.stderr, flush=True)
            subprocess.run(cmd, cwd=source, env=env, check=True)
            files[name].append(summ)
    return files


def record(n: int, source: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="hpcbelt-hashes-") as tmp:
        files = produce(Path(tmp), n, source)
        return {name: {p.name.replace(f"{name}", "<run>"): dataset_hashes(p) for p in paths}
                for name, paths in files.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for c in ("record", "check"):
        p = sub.add_parser(c)
        p.add_argument("json")
        p.add_argument("--np", type=int, default=2, help="MPI ranks of the runs (default 2)")
        p.add_argument("--source", type=Path, default=ROOT,
                       help="hpcbelt source tree to run (default: this one), e.g. a git worktree of "
                            "the commit before a change")
    p = sub.add_parser("files")
    p.add_argument("paths", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "files":
        for p in args.paths:
            for k, v in dataset_hashes(Path(p)).items():
                print(f"{v}  {p}:{k}")
        return 0
    now = record(args.np, args.source.resolve())
    if args.cmd == "record":
        Path(args.json).write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        n = sum(len(d) for f in now.values() for d in f.values())
        print(f"recorded {n} dataset hashes in {args.json}")
        return 0
    ref = json.loads(Path(args.json).read_text())
    bad = 0
    total = 0
    for run, per_file in ref.items():
        for fname, hashes in per_file.items():
            got = now.get(run, {}).get(fname, {})
            for dset, h in hashes.items():
                total += 1
                if got.get(dset) != h:
                    bad += 1
                    print(f"DIFFERS: {run} {fname} {dset}: {h[:12]} -> {str(got.get(dset))[:12]}")
            for dset in sorted(set(got) - set(hashes)):
                print(f"new dataset (not in the record): {run} {fname} {dset}")
    print(f"{total - bad} of {total} dataset hashes identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
