#!/usr/bin/env python
"""The exact method's costs: the member kernel against this machine's roofline, and the
propagator banks' build time and memory per node, shared against private.

Member kernel: one drand_2min member of inputs/watt2021.toml (21,600 intervals of 2 min, each
a dense 91 x 91 mat-vec: 2 n^2 flops and 8 n^2 bytes of propagator read), timed after a
warm-up, next to one core's stream triad bandwidth (numba loop over arrays far larger than the
caches) and a large dgemm: the kernel's arithmetic intensity (1/4 flop per byte) puts it on the
bandwidth roof, so its time is the bank traffic over the stream bandwidth.

For 1, 2, 4 and 8 ranks on this node (oversubscribed beyond the cores), one experiment of
inputs/watt2021.toml (default drand_2min: 2,377 profiles x 120 s) is set up the way
``hpcbelt run`` sets it up:

  shared   the node's ranks allocate one bank in an MPI-3 shared window and each builds a slice
  private  every rank builds the bank its own members need (HPCBELT_SHARED_BANK=0)

Printed per case: wall time of the set-up (slowest rank), matrices built per rank, the node's
memory for the banks (sum over ranks of the growth of the proportional set size, PSS, which
counts a shared page once per node, not once per rank), and the build rate in GFlop/s of the
products exp(A tau) = (M^-1/2 Q e^(w tau)) (Q^T M^1/2) next to a large dgemm measured in the same
run.  ``--experiment all`` sets up the whole study (one shared bank for all its experiments;
private: each experiment's bank in turn, as a run does).
Usage:  .venv/bin/python tools/bench_bank.py [--ranks 1,2,4,8] [--experiment drand_2min|all]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pss_bytes() -> int:
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def worker(study_path: str, experiment: str, mode: str) -> None:
    from mpi4py import MPI

    from hpcbelt import parallel
    from hpcbelt.pitch_angle import driver
    from hpcbelt.pitch_angle.study import load_study

    comm = MPI.COMM_WORLD
    study = load_study(study_path, experiments=None if experiment == "all" else [experiment])
    queues = parallel.deal(study.work_items(), comm.Get_size())
    before = pss_bytes()
    comm.Barrier()
    t0 = time.perf_counter()
    node = parallel.NodeShared(comm) if mode == "shared" else None
    if node is not None and node.available:
        banks = driver._node_banks(study, node, queues)
        bank = next(iter(banks.values()))            # one bank for all the study's experiments
        built = [driver._profile_boundary(list(bank.index), b) for b in node.part(bank.count)]
        n_built = built[1] - built[0]
        count = bank.count
    else:
        n_built = count = sum(driver._propagators_for(study, e, queues[comm.Get_rank()]).count
                              for e in range(len(study.experiments)))
    comm.Barrier()
    wall = time.perf_counter() - t0
    grown = pss_bytes() - before
    rows = comm.gather((n_built, count, grown), root=0)
    if node is not None:
        node.free()
    if comm.Get_rank() == 0:
        print(json.dumps({"wall_s": wall, "built": [r[0] for r in rows], "bank_rows": rows[0][1],
                          "node_bytes": sum(r[2] for r in rows)}), flush=True)


def dgemm_rate(n: int = 2000) -> float:
    import numpy as np

    a = np.random.default_rng(0).random((n, n))
    a @ a
    t = time.perf_counter()
    a @ a
    return 2 * n ** 3 / (time.perf_counter() - t) / 1e9


def small_product_rate(n: int = 91, count: int = 2000) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    a, b, c = rng.random((count, n, n)), rng.random((count, n, n)), np.empty((n, n))
    t = time.perf_counter()
    for k in range(count):
        np.matmul(a[k], b[k], out=c)
    return 2 * n ** 3 * count / (time.perf_counter() - t) / 1e9


def stream_triad_GBps(n: int = 40_000_000, repeat: int = 5) -> float:
    """One core's triad a = b + s c bandwidth (24 bytes moved per element), best of ``repeat``."""
    import numba
    import numpy as np

    @numba.njit(fastmath=True)
    def triad(a, b, c, s):
        for i in range(a.size):
            a[i] = b[i] + s * c[i]

    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    triad(a, b, c, 3.0)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        triad(a, b, c, 3.0)
        best = min(best, time.perf_counter() - t)
    return 24 * n / best / 1e9


def member_roofline(study_path: str, repeat: int = 5) -> dict:
    """Time of one 2-min member with the dense propagators, its flop rate and memory traffic."""
    import numpy as np

    from hpcbelt.pitch_angle import kernels
    from hpcbelt.pitch_angle.solver import PropagatorBank, member_intervals
    from hpcbelt.pitch_angle.study import load_study

    s = load_study(study_path, experiments=["drand_2min"])
    ex = s.experiments[0]
    kidx, tau, is_out = member_intervals(s.segment_profiles(0, 0)[0], s.out_t, ex.seg_t)
    bank = PropagatorBank(s.grid, s.profiles)
    pidx = bank.rows(kidx, tau)
    of, od = np.empty((s.out_t.size, s.grid.n)), np.empty((s.out_t.size, s.grid.n))
    args = (s.f0, bank.matrices, pidx, kidx, s.profiles, tau, is_out, of, od)
    kernels.march_exact(*args)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        kernels.march_exact(*args)
        best = min(best, time.perf_counter() - t)
    n = s.grid.n
    return {"seconds": best, "intervals": int(pidx.size), "flops": 2.0 * n * n * pidx.size,
            "bytes": 8.0 * n * n * pidx.size, "bank_MB": bank.nbytes / 1e6}


def sparsity_bound(study_path: str, bw_GBps: float, intervals: int, sample: int = 200) -> dict:
    """How far below the dense kernel any exact-to-round-off representation could go.

    For ``sample`` database rows at the 2-min length: the fraction of propagator entries above
    1e-18 of the matrix's largest (entries below cannot change f at round-off, so an ideal sparse
    format would read only these, 8 bytes each, with no index overhead), the skyline fraction
    (each row's first to last such entry), and how many eigenmodes survive the interval
    (exp((w_k - w_0) tau) > 1e-18; a truncated spectral form reads 2 n r numbers).  The lower
    bound is the ideal sparse format's traffic over the stream bandwidth.
    """
    import numpy as np
    from scipy.linalg import eigh_tridiagonal

    from hpcbelt.pitch_angle.operator import symmetric_tridiagonal
    from hpcbelt.pitch_angle.solver import propagators
    from hpcbelt.pitch_angle.study import load_study

    s = load_study(study_path, experiments=["drand_2min"])
    n, tau = s.grid.n, float(s.experiments[0].switch_every_s)
    rows = np.random.default_rng(0).choice(s.database.n_profiles, sample, replace=False)
    P = propagators(s.grid, s.profiles[rows], tau)
    big = P > 1e-18 * P.max(axis=(1, 2))[:, None, None]
    lo, hi = np.argmax(big, axis=2), n - np.argmax(big[:, :, ::-1], axis=2)
    d, o = symmetric_tridiagonal(s.grid, s.profiles[rows])
    w = np.array([eigh_tridiagonal(d[k], o[k], eigvals_only=True) for k in range(sample)])
    modes = ((w.max(axis=1)[:, None] - w) * tau < np.log(1e18)).sum(axis=1)
    nnz = float(np.median(big.sum(axis=(1, 2)))) / n ** 2
    return {"nnz": nnz, "skyline": float(np.median((hi - lo).sum(axis=1))) / n ** 2,
            "modes": int(np.median(modes)), "n": n, "tau": tau,
            "bound_ms": nnz * 8.0 * n * n * intervals / (bw_GBps * 1e9) * 1e3}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="1,2,4,8")
    p.add_argument("--study", default=str(ROOT / "inputs" / "watt2021.toml"))
    p.add_argument("--experiment", default="drand_2min")
    p.add_argument("--worker", choices=("shared", "private"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.study, args.experiment, args.worker)
        return 0
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    peak, bw = dgemm_rate(), stream_triad_GBps()
    print(f"one core: dgemm 2000^3 {peak:.1f} GFlop/s; one 91 x 91 product at a time "
          f"{small_product_rate():.1f} GFlop/s; stream triad {bw:.1f} GB/s")
    m = member_roofline(args.study)
    rate, traffic = m["flops"] / m["seconds"] / 1e9, m["bytes"] / m["seconds"] / 1e9
    print(f"member kernel (drand_2min, {m['intervals']:,} dense mat-vecs, bank {m['bank_MB']:.0f} MB): "
          f"{m['seconds'] * 1e3:.1f} ms; {rate:.2f} GFlop/s = {100 * rate / peak:.0f} % of dgemm; "
          f"{traffic:.1f} GB/s of propagators = {100 * traffic / bw:.0f} % of stream triad; "
          f"bandwidth bound {m['bytes'] / bw / 1e9 * 1e3:.1f} ms")
    b = sparsity_bound(args.study, bw, m["intervals"])
    print(f"propagators of {b['tau']:.0f} s (median of 200 rows): {100 * b['nnz']:.0f} % of entries above "
          f"1e-18 of the largest, skyline {100 * b['skyline']:.0f} %, {b['modes']} of {b['n']} eigenmodes "
          f"survive; an ideal sparse kernel (no index bytes) still reads {b['bound_ms']:.1f} ms of "
          f"propagators at the triad bandwidth")
    print(f"{'ranks':>5} {'mode':>8} {'set-up s':>9} {'matrices/rank':>14} {'bank MB/node':>13}")
    for n in (int(x) for x in args.ranks.split(",")):
        for mode in ("shared", "private") if n > 1 else ("private",):
            out = subprocess.run(["mpirun", "-n", str(n), sys.executable, __file__, "--worker", mode,
                                  "--study", args.study, "--experiment", args.experiment],
                                 env=dict(env, HPCBELT_SHARED_BANK="1" if mode == "shared" else "0"),
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"bench_bank: mpirun -n {n} ({mode}) failed:\n{out.stderr}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n:>5} {mode:>8} {r['wall_s']:>9.2f} {max(r['built']):>14,} "
                  f"{r['node_bytes'] / 1e6:>13.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
