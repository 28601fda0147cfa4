#!/usr/bin/env python
"""Run-file I/O against the rank count: create, collective or independent writes, close.

A worker run under ``mpirun -n N`` lays out a pitch-angle-like run file (``f`` and
``daa_integral`` of members x times x angles, a checksum and a done flag per member; the
default shape is inputs/watt2021.toml's drand_2min: 721 hourly outputs x 91 angles, 1.05 MB per
member) with the production code (:class:`hpcbelt.output.RunFile`), then writes 2 members per
rank in rounds exactly as ``hpcbelt run`` does, and closes.  Printed per rank count and write
mode: the time to create the file (layout + rename), the mean time per round and per member
written, the time to close, and the largest resident memory of a rank that has imported
everything ``hpcbelt run`` imports (numba, scipy, h5py, mpi4py, the kernels).

Usage:  .venv/bin/python tools/bench_io.py [--ranks 2,8,32,64] [--members-per-rank 2] [--dir DIR]
The ranks are oversubscribed on this 2-core machine: times above 2 ranks include waiting for a
core, so read them as upper bounds of the I/O cost and compare the two modes within a row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(path: str, members_per_rank: int, n_time: int, n_alpha: int) -> None:
    os.environ.setdefault("OMPI_MCA_io", "romio321")          # as hpcbelt's command line does
    import numpy as np
    from mpi4py import MPI

    import hpcbelt.pitch_angle.driver  # noqa: F401  (what a rank of 'hpcbelt run' imports)
    from hpcbelt import output, parallel
    from hpcbelt.pitch_angle import runfile

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    members = members_per_rank * size

    def layout(h5):
        g = h5.create_group("e")
        output.preallocated(g, "f", (members, n_time, n_alpha), "f8", np.nan)
        output.preallocated(g, "daa_integral", (members, n_time, n_alpha), "f8", np.nan)
        output.preallocated(g, "member_checksum", (members, 32), "u1", 0)
        output.preallocated(g, "member_done", (members,), "u1", 0)

    comm.Barrier()
    t0 = time.perf_counter()
    rf = output.RunFile.create(path, comm, output.io_mode(comm), layout,
                               {"title": "tools/bench_io.py", "kind": "bench"})
    comm.Barrier()
    t_create = time.perf_counter() - t0
    rng = np.random.default_rng(rank)
    f = rng.random((n_time, n_alpha))
    queues = parallel.deal(list(range(members)), size)

    def work(m):
        rf.put("e/f", (m, slice(None), slice(None)), f)
        rf.put("e/daa_integral", (m, slice(None), slice(None)), f)
        rf.put("e/member_checksum", (m, slice(None)), runfile.member_digest(f, f, np.zeros(1, np.int32)))
        rf.put("e/member_done", m, 1)

    comm.Barrier()
    t0 = time.perf_counter()
    done = parallel.run_rounds(comm, queues, work, label="bench", quiet=True, hub=rf.hub,
                               after_item=rf.item_finished)
    comm.Barrier()
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    rf.finish(done, "members")
    comm.Barrier()
    t_close = time.perf_counter() - t0
    rss = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, root=0)
    if rank == 0:
        print(json.dumps({"create_s": t_create, "write_s": t_write, "close_s": t_close,
                          "rounds": members_per_rank, "members": members, "member_bytes": 2 * f.nbytes,
                          "max_rss": max(rss), "sum_rss": sum(rss)}), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="2,8,32,64")
    p.add_argument("--members-per-rank", type=int, default=2)
    p.add_argument("--n-time", type=int, default=721)
    p.add_argument("--n-alpha", type=int, default=91)
    p.add_argument("--dir", default=None, help="where the files go (default: a temporary directory)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.members_per_rank, args.n_time, args.n_alpha)
        return 0
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    print(f"{'ranks':>5} {'writes':>11} {'create s':>9} {'per round s':>12} {'per member ms':>14} "
          f"{'close s':>8} {'max RSS/rank MB':>16} {'sum RSS GB':>11}")
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        for n in (int(x) for x in args.ranks.split(",")):
            for mode in ("collective", "independent"):
                out = Path(d) / f"bench_{n}_{mode}.h5"
                r = subprocess.run(["mpirun", "-n", str(n), sys.executable, __file__, "--worker", str(out),
                                    "--members-per-rank", str(args.members_per_rank),
                                    "--n-time", str(args.n_time), "--n-alpha", str(args.n_alpha)],
                                   env=dict(env, HPCBELT_WRITES=mode), capture_output=True, text=True)
                if r.returncode:
                    sys.exit(f"bench_io: mpirun -n {n} ({mode}) failed:\n{r.stderr[-3000:]}")
                x = json.loads(r.stdout.strip().splitlines()[-1])
                print(f"{n:>5} {mode:>11} {x['create_s']:>9.3f} {x['write_s'] / x['rounds']:>12.3f} "
                      f"{x['write_s'] / x['members'] * 1e3:>14.2f} {x['close_s']:>8.3f} "
                      f"{x['max_rss'] / 1e6:>16.0f} {x['sum_rss'] / 1e9:>11.2f}", flush=True)
                out.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
