#!/usr/bin/env python
"""Benchmarks of the pitch-angle solver; prints numbers for the README table.

1. Explicit kernel: grid-point updates per second on one core (numba stencil), next to a plain
   numpy version of the same step measured in the same run (the ratio is what to compare
   across machines: this machine is shared and noisy).
2. Whole study inputs/watt2021.toml under ``mpirun -n NP`` (default 2): wall time with
   method = exact, and with method = explicit at the paper's dt = 0.1 s (``--skip-explicit``
   leaves the ~2 minute explicit run out), both on the study's own database.  The cost of the
   explicit scheme does not depend on the values of D, but its stability does (dt is refused
   above the positivity limit); the default database's largest D, 8.7e-5 1/s, allows up to 1.7 s.

Usage:  .venv/bin/python tools/bench_pitch_angle.py [--np 2] [--skip-explicit] [--study FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcbelt.pitch_angle import kernels  # noqa: E402
from hpcbelt.pitch_angle.operator import make_grid  # noqa: E402
from hpcbelt.pitch_angle.physics import loss_cone_deg_from_altitude  # noqa: E402
from hpcbelt.pitch_angle.solver import stencil  # noqa: E402


def numpy_steps(f, lo, ce, up, nsteps):
    """The same explicit step written with numpy array operations (the baseline)."""
    for _ in range(nsteps):
        g = ce * f
        g[1:] += lo[1:] * f[:-1]
        g[:-1] += up[:-1] * f[1:]
        f = g
    return f


def bench_kernel(dalpha: float = 1.0, seconds: float = 2.0):
    g = make_grid(dalpha, loss_cone_deg_from_altitude(3.0, 100.0), 3.0, 0.5)
    d = 1e-5 * (0.5 + np.sin(g.alpha_rad) ** 2)
    lo, ce, up = stencil(g, d, 0.1)[0]
    f0 = np.full(g.n, 5e3)
    p = np.zeros(g.n + 2)
    q = np.zeros(g.n + 2)
    p[1:-1] = f0
    kernels.stencil_steps(p, q, lo, ce, up, 10)           # compile / load from cache
    n = 100_000
    while True:
        t = time.perf_counter()
        kernels.stencil_steps(p, q, lo, ce, up, n)
        el = time.perf_counter() - t
        if el > seconds:
            break
        n *= 4
    numba_rate = n * g.n / el
    # numpy: fewer steps, same arithmetic; check both give the same answer on a short run
    m = 20_000
    t = time.perf_counter()
    fn = numpy_steps(f0.copy(), lo, ce, up, m)
    el_np = time.perf_counter() - t
    p[1:-1] = f0
    kernels.stencil_steps(p, q, lo, ce, up, m)
    assert np.allclose(p[1:-1], fn, rtol=1e-10), "numba and numpy steps disagree"
    numpy_rate = m * g.n / el_np
    return g.n, numba_rate, numpy_rate


def run_study(study: Path, np_: int, method: str, out_dir: Path, extra=()) -> float:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    exe = [sys.executable, "-m", "hpcbelt"]
    cmd = [shutil.which("mpirun"), "-n", str(np_), *exe, "run", str(study), "-o",
           str(out_dir / f"{method}.h5"), "--overwrite", "--quiet", "--set", f"time.method={method}",
           *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    el = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"benchmark run failed ({method}):\n{r.stderr}")
    return el


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--np", type=int, default=2, help="MPI ranks for the whole-study runs")
    ap.add_argument("--study", default=str(ROOT / "inputs" / "watt2021.toml"))
    ap.add_argument("--skip-explicit", action="store_true", help="skip the explicit whole-study run")
    args = ap.parse_args()

    n, rate, rate_np = bench_kernel()
    print(f"explicit kernel, {n} points, one core: {rate:.3g} grid-point updates/s (numba); "
          f"numpy same step: {rate_np:.3g}/s; ratio {rate / rate_np:.1f}x")
    with tempfile.TemporaryDirectory() as tmp:
        t_exact = run_study(Path(args.study), args.np, "exact", Path(tmp))
        print(f"{Path(args.study).name}, method exact, mpirun -n {args.np}: {t_exact:.1f} s wall "
              "(start-up and HDF5 output included)")
        if not args.skip_explicit:
            t_expl = run_study(Path(args.study), args.np, "explicit", Path(tmp),
                               ["--set", "time.dt_s=0.1"])
            print(f"{Path(args.study).name}, method explicit dt = 0.1 s, mpirun -n {args.np}: "
                  f"{t_expl:.1f} s wall ({t_expl / t_exact:.1f}x the exact run)")


if __name__ == "__main__":
    main()
