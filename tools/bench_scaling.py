#!/usr/bin/env python
"""Scaling of ``hpcbelt run`` for pitch-angle ensembles: measured here, modelled to 4,096 ranks.

This machine (one node, 2 cores, one local disk, shared with other jobs) measures what it can;
the strong- and weak-scaling tables for 1 to 4,096 ranks are then computed from a model built
only on those measured terms.  No number in the tables is a measurement above 16 ranks: the
tables are the model's predictions, and the output says which inputs are measured, which are
fitted, and which are assumed (zero unless an option gives them).

MEASURED (each the MINIMUM over repeats, the least-disturbed value on a shared machine; the
median is printed beside it):

  t_import   one rank's python start-up + imports of 'hpcbelt run' (hpcbelt.cli, the pitch-angle
             driver, h5py, mpi4py with MPI_Init as a singleton): a fresh interpreter per repeat,
             warm numba cache.  (``python -c "import hpcbelt.pitch_angle.driver"`` is printed too.)
             'mpirun -n 2' of the same imports is printed as the launch cost at N = 2.
  t_jit      the first call of the cached numba kernel (loading it from numba's cache).
  t_setup    rank 0: load_study(inputs/watt2021.toml) and the run file's root attributes (git
             commit, sha256 of the inputs).
  c[e]       compute cost of one 30-day member of experiment e on watt2021's grid (91 angles, 721
             hourly outputs): segment_profiles + solver.run_member + member_digest (the driver's
             work() but the puts), after a warm-up.  exact: with a prepared
             PropagatorBank as big as a run's (2-min, 6-h and constant-D members), on one rank
             (the model's value at every N), and on 2 ranks at once under 'mpirun -n 2' from the
             node's shared bank (printed, and used in the CHECK: on this shared machine it swings
             with the other jobs' load).  explicit (dt =
             0.1 s): measured at 1 and 3 days and extrapolated to 30 days along a + b * days,
             since its cost is linear in the number of steps (the 30-day value is modelled).
  plan_e     per member, the listing of its intervals and the bank's keys that every rank of a
             node does for all the node's members before building the bank (driver._node_banks).
  b          bank build cost per propagator exp(A tau): eigen-decomposition + product
             (solver.propagators on 300 profiles); bank(2) of the whole study is printed beside
             its model value.
  create, w, RunFile.create (the preallocated layout: HDF5 writes the fill values), one round
  close      of run_rounds with one member per rank putting what the driver puts (f,
             daa_integral, profile_index, checksum, done flag), and RunFile.finish; production
             code under 'mpirun -n N', N = 1 (serial file), 2, 4, 8, 16 (mpio, collective
             writes).  The model uses the measured value at a measured N, linear interpolation
             between, and beyond the largest measured N that value + slope x (extra ranks), the
             slope from a least-squares fit  x(N) = p + q N  over the measured N (printed):
                 create(N, B) = base(N) + phi B    B = file bytes, phi from a 16x larger layout
                 w(N)         per round of one member per rank (w(N) / N: per member)
                 close(N)
  h          funnel mode (HPCBELT_IO=funnel): rank 0's receive + write cost per member at N = 2
             and 4; the model uses the smaller (the less disturbed).
  CHECK      the whole study, 'mpirun -n 2 hpcbelt run inputs/watt2021.toml', against the model.

MODEL (members in file order, dealt round-robin: member i on rank i mod N, so round j holds
members jN .. jN+N-1; P ranks per node, nodes = ceil(N / P); M members, R = ceil(M / N)):

  wall(N) = launch + t_import + t_jit + t_setup + create(N, B) + bank(N)
            + sum over the R rounds of [ max c[e] over the round's members + w(N) ]  + close(N)
  bank(N) = max over nodes of  sum_e [ members_e(node) * plan_e
                                      + keys_e(node) * b / (ranks on the node) ]   exact only:
            the shared bank (parallel.NodeShared.part) splits a node's propagators over its
            ranks, but every rank lists the plans of all the node's members;
            keys_e = K (1 - (1 - 1/K)^(segments_e * members_e on the node)), the expected
            distinct (profile, length) pairs, K = 2,377 profiles (one interval length per
            experiment on this grid; checked against solver.bank_keys); 1 for constant D.
  funnel:   a round costs max c[e] + (members in the round) * h: rank 0 computes its own
            member, then receives and writes everyone's (Hub.poll runs between items), so a
            funnelled run moves at most 1/h members per second whatever N.
  N = 1:    serial file; create, w and close as measured at N = 1.

PRINTED: the measured terms with how they were measured; the check at N = 2; strong scaling of
inputs/watt2021.toml (122 members) and of a 100,002-member version (50,000 + 50,000 + 2), weak
scaling at 2 and 100 members per rank (half 2-min, half 6-h), for N = 1, 2, 4, ..., 4,096 at
P = 128 ranks per node (32 nodes at 4,096), each for exact/mpio, explicit/mpio, exact/funnel;
the largest 2-min ensemble (30 days) that fits in one hour on 32 and on 64 nodes of 128 cores
with its file size (resources.pitch_angle_file_bytes); and the same under a few assumed file-
system and memory bandwidths (labelled as assumptions).

ASSUMED, not measured (zero / off unless given):
  --fs-bandwidth-GBps G   the file system's aggregate write bandwidth.  Without it, every
                          round's write costs w(N) as measured and extrapolated here (the whole
                          job writing through one local disk).  With it, a round's write is
                          w(2) + (bytes of the round) / G (w(2): the measured fixed cost of a
                          round's collectives at the one parallel N not oversubscribed), and the
                          create's fill takes B * max(phi, 1/G): HDF5 writes a contiguous
                          dataset's fill values from rank 0 alone (H5D__contig_fill).
  --node-mem-bandwidth-GBps G   a node's memory bandwidth, shared by its ranks: an exact member
                          takes at least (ranks on the node) * (propagator bytes it streams) / G.
  --launch-s L            launcher + MPI wire-up time at scale.
Never modelled: the interconnect (collectives of thousands of ranks are extrapolated linearly
from <= 16 ranks of one node), import storms on a shared file system, the jitter of the
slowest rank in every round.  Ranks above 2 are oversubscribed on this 2-core machine
(OMPI_MCA_mpi_yield_when_idle=1 is set for those runs), so the measured I/O costs at N > 2
and the fitted slopes are upper bounds of what one core per rank gives.

Usage:  .venv/bin/python tools/bench_scaling.py [--quick] [--fs-bandwidth-GBps G]
            [--node-mem-bandwidth-GBps G] [--launch-s L] [--ppn 128] [--hour-nodes 64]
            [--io-ranks 1,2,4,8,16] [--no-check] [--dir DIR] [--save FILE | --load FILE]
Default ~3-5 min; --quick ~1 min (fewer repeats, I/O at N <= 8, no whole-study check).
--save FILE keeps the measurements; --load FILE re-prints the model from them (other options,
e.g. --fs-bandwidth-GBps, apply) without measuring again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STUDY = ROOT / "inputs" / "watt2021.toml"
MPI_ENV = dict(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
RANK_IMPORTS = "import hpcbelt.cli, hpcbelt.pitch_angle.driver, h5py; from mpi4py import MPI"
STEPS_PER_DAY = 864_000          # dt = 0.1 s

# ------------------------------------------------------------------------------------------
# The I/O worker (runs under mpirun): production RunFile, run_rounds, finish
# ------------------------------------------------------------------------------------------


def io_worker(a) -> None:
    os.environ.setdefault("OMPI_MCA_io", "romio321")          # as hpcbelt's command line does
    import numpy as np
    from mpi4py import MPI

    import h5py  # noqa: F401  (imported here, not inside the first timed create: start-up counts it)

    import hpcbelt.pitch_angle.driver  # noqa: F401  (what a rank of 'hpcbelt run' imports)
    from hpcbelt import output, parallel
    from hpcbelt.pitch_angle import runfile

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    mode = output.io_mode(comm)

    def layout_of(members):
        def layout(h5):
            g = h5.create_group("e")
            output.preallocated(g, "f", (members, a.n_time, a.n_alpha), "f8", np.nan)
            output.preallocated(g, "daa_integral", (members, a.n_time, a.n_alpha), "f8", np.nan)
            output.preallocated(g, "profile_index", (members, a.n_seg), "i4", -99)
            output.preallocated(g, "member_checksum", (members, 32), "u1", 0)
            output.preallocated(g, "member_done", (members,), "u1", 0)
        return layout

    attrs = {"title": "tools/bench_scaling.py", "kind": "bench"}
    rng = np.random.default_rng(rank)
    f = rng.random((a.n_time, a.n_alpha))
    d = rng.random((a.n_time, a.n_alpha))
    idx = rng.integers(0, 2377, a.n_seg).astype(np.int32)
    digest = runfile.member_digest(f, d, idx)
    out = {"mode": mode, "size": size, "create": [], "round": [], "close": [], "h5write": [],
           "big_create": [], "big_close": []}
    for rep in range(a.repeats):
        path = os.path.join(a.io_worker, f"io_{rep}.h5")
        comm.Barrier()
        t0 = time.perf_counter()
        rf = output.RunFile.create(path, comm, mode, layout_of(a.layout_members), attrs)
        comm.Barrier()
        out["create"].append(time.perf_counter() - t0)
        spent = [0.0]
        if rank == 0:                       # time rank 0's HDF5 writes (funnel: everyone's data)
            plain = rf.hub.on_write

            def timed(*args, _plain=plain):
                t = time.perf_counter()
                _plain(*args)
                spent[0] += time.perf_counter() - t
            rf.hub.on_write = timed
        queues = parallel.deal(list(range(a.rounds * size)), size)

        def work(m):
            rf.put("e/f", (m, slice(None), slice(None)), f)
            rf.put("e/daa_integral", (m, slice(None), slice(None)), d)
            rf.put("e/profile_index", (m, slice(None)), idx)
            rf.put("e/member_checksum", (m, slice(None)), digest)
            rf.put("e/member_done", m, 1)

        comm.Barrier()
        t0 = time.perf_counter()
        done = parallel.run_rounds(comm, queues, work, label="bench", quiet=True, hub=rf.hub,
                                   after_item=rf.item_finished)
        comm.Barrier()
        out["round"].append((time.perf_counter() - t0) / a.rounds)
        out["h5write"].append(spent[0] / (a.rounds * size))
        t0 = time.perf_counter()
        rf.finish(done, "members")
        comm.Barrier()
        out["close"].append(time.perf_counter() - t0)
        if rank == 0:
            os.unlink(path)
        comm.Barrier()
    if a.big_members:                       # the fill term: a larger layout, created and closed
        path = os.path.join(a.io_worker, "io_big.h5")
        comm.Barrier()
        t0 = time.perf_counter()
        rf = output.RunFile.create(path, comm, mode, layout_of(a.big_members), attrs)
        comm.Barrier()
        out["big_create"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rf.finish(parallel.Rounds(None, 0, 0), "members")
        comm.Barrier()
        out["big_close"].append(time.perf_counter() - t0)
        if rank == 0:
            os.unlink(path)
        comm.Barrier()
    if rank == 0:
        print(json.dumps(out), flush=True)


def compute_worker(a) -> None:
    """Under 'mpirun -n 2': the node's shared bank built as the driver builds it, then members of
    drand_2min and drand_6h computed by both ranks at once (one per rank, as in a round)."""
    from mpi4py import MPI

    from hpcbelt import parallel
    from hpcbelt.pitch_angle import driver, runfile, solver
    from hpcbelt.pitch_angle.study import load_study

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    st = load_study(STUDY)
    queues = parallel.deal(st.work_items(), size)
    walls, node = [], None
    for _ in range(2):                            # the node's bank, built twice (min taken)
        if node is not None:
            banks = None
            node.free()
        node = parallel.NodeShared(comm)
        comm.Barrier()
        t0 = time.perf_counter()
        banks = driver._node_banks(st, node, queues) if node.available else {}
        comm.Barrier()
        walls.append(time.perf_counter() - t0)
    out = {"shared": node.available, "bank_wall": min(walls), "bank_walls": walls, "cost": {}}
    for e in (0, 1):
        ex = st.experiments[e]
        bank = banks.get(e) or driver._propagators_for(st, e, queues[rank])
        times = []
        for r in range(a.repeats + 1):           # r = 0: warm-up
            m = rank + size * r
            comm.Barrier()
            t = time.perf_counter()
            seg, stored = st.segment_profiles(e, m)
            f, dint = solver.run_member(st.grid, st.f0, st.profiles, seg, st.out_t, ex.seg_t, "exact", st.dt_s, bank)
            runfile.member_digest(f, dint, stored)
            el = time.perf_counter() - t
            if r:
                times.append(el)
        every = comm.gather(times, root=0)
        if rank == 0:
            out["cost"][ex.name] = [x for t in every for x in t]
    banks = None
    node.free()
    if rank == 0:
        print(json.dumps(out), flush=True)


def mpirun_json(args: list, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, **MPI_ENV, **(env_extra or {}))
    env.pop("HPCBELT_IO", None)
    r = subprocess.run(["mpirun", *args], env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"bench_scaling: mpirun {' '.join(args[:3])} ... failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_io(n: int, io: str, tmp: str, repeats: int, rounds: int, layout_members: int,
           big_members: int, geometry: tuple[int, int, int]) -> dict:
    """One 'mpirun -n n' of the I/O worker (mpio or funnel); its JSON line."""
    env = dict(os.environ, **MPI_ENV)
    env.pop("HPCBELT_IO", None)
    env["HPCBELT_WRITES"] = "collective"
    if io == "funnel":
        env["HPCBELT_IO"] = "funnel"
    if n > (os.cpu_count() or 1):
        env["OMPI_MCA_mpi_yield_when_idle"] = "1"
    d = tempfile.mkdtemp(dir=tmp)
    cmd = ["mpirun", "-n", str(n), sys.executable, __file__, "--io-worker", d,
           "--repeats", str(repeats), "--rounds", str(rounds), "--layout-members", str(layout_members),
           "--big-members", str(big_members), "--n-time", str(geometry[0]), "--n-alpha", str(geometry[1]),
           "--n-seg", str(geometry[2])]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"bench_scaling: mpirun -n {n} ({io}) failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------
# Measurements in this process (no MPI here: this process launches mpirun)
# ------------------------------------------------------------------------------------------


def lo_med(xs):
    return [min(xs), statistics.median(xs)]


class FakeComm:
    """A one-rank communicator for output.run_attrs."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def bcast(self, x, root=0):
        return x


JIT_CODE = """
import time, numpy as np
from hpcbelt.pitch_angle import kernels
n, f0 = 91, np.ones(91)
args = dict(kidx=np.zeros(3, np.int64), daa=np.zeros((1, n)), tau=np.ones(3), out_flag=np.ones(3, bool),
            out_f=np.empty((4, n)), out_dint=np.empty((4, n)))
t = time.perf_counter()
kernels.march_exact(f0, np.zeros((1, n, n)), np.zeros(3, np.int64), **args)
t1 = time.perf_counter()
kernels.march_explicit(f0, np.zeros((1, 3, n)), nsteps=np.ones(3, np.int64), **args)
t2 = time.perf_counter()
print(t1 - t, t2 - t1)
"""


def measure_startup(repeats: int) -> dict:
    res = {}
    jit = []
    for _ in range(repeats):
        r = subprocess.run([sys.executable, "-c", JIT_CODE], cwd=ROOT, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"bench_scaling: loading the kernels failed:\n{r.stderr}")
        jit.append([float(x) for x in r.stdout.split()])
    res["jit_exact"] = lo_med([j[0] for j in jit])
    res["jit_explicit"] = lo_med([j[1] for j in jit])
    for key, code in (("driver", "import hpcbelt.pitch_angle.driver"), ("rank", RANK_IMPORTS)):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                               env=dict(os.environ, **MPI_ENV))
            times.append(time.perf_counter() - t)
            if r.returncode:
                sys.exit(f"bench_scaling: {code!r} failed:\n{r.stderr}")
        res[key] = lo_med(times)
    return res


def measure_compute(repeats: int, members: int, bank_profiles: int) -> dict:
    import numpy as np

    from hpcbelt import output
    from hpcbelt.pitch_angle import runfile, solver
    from hpcbelt.pitch_angle.study import load_study

    res = {}
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        st = load_study(STUDY)
        times.append(time.perf_counter() - t)
    res["load_study"] = lo_med(times)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        output.run_attrs(FakeComm(), "serial", runfile.KIND, st, runfile.LAYOUT_VERSION,
                         method=st.method, f_units=runfile.F_UNITS)
        times.append(time.perf_counter() - t)
    res["run_attrs"] = lo_med(times)
    grid, prof = st.grid, st.profiles
    res.update(n_alpha=grid.n, n_time=int(st.out_t.size), n_db=int(st.database.n_profiles),
               duration_days=st.doc["time"]["duration_days"],
               experiments=[[ex.name, ex.members, int(ex.n_segments)] for ex in st.experiments])

    # bank build cost per propagator: eigen-decomposition + product, 300 profiles in one call
    rows = np.random.default_rng(1).choice(st.database.n_profiles, bank_profiles, replace=False)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        solver.propagators(grid, prof[rows], 120.0)
        times.append((time.perf_counter() - t) / bank_profiles)
    res["bank_per_matrix"] = lo_med(times)
    res["bank_profiles"] = bank_profiles

    def exact(e, ms, reps):
        # the bank a node holding all of the experiment's members builds (2,377 or ~2,266
        # matrices, 157 MB: not cache-resident, as in a run), then members ms timed from it
        ex = st.experiments[e]
        bank = solver.PropagatorBank(grid, prof)
        plans = [solver.member_intervals(st.segment_profiles(e, m)[0], st.out_t, ex.seg_t)
                 for m in range(ex.members)]
        t = time.perf_counter()
        bank.prepare([p[0] for p in plans], [p[1] for p in plans])
        built = [bank.count, time.perf_counter() - t]
        first, times = None, []
        for rep in range(reps + 1):           # pass 0 is the warm-up
            for m in ms:
                t = time.perf_counter()      # what the driver's work() does but the puts
                seg, stored = st.segment_profiles(e, m)
                f, dint = solver.run_member(grid, st.f0, prof, seg, st.out_t, ex.seg_t, "exact", st.dt_s, bank)
                runfile.member_digest(f, dint, stored)
                el = time.perf_counter() - t
                if first is None:
                    first = el               # includes loading march_exact from numba's cache
                elif rep:
                    times.append(el)
        n_int = int(plans[0][1].size)
        return {"cost": lo_med(times), "first": first, "bank": built, "bank_members": ex.members,
                "segments": int(ex.n_segments), "intervals": n_int,
                "streamed_bytes": n_int * grid.n * grid.n * 8, "samples": len(times)}

    # the plans: every rank of a node lists the intervals of all the node's members to find the
    # bank's keys (driver._node_banks), per member
    res["plan"] = {}
    for e in (0, 1, 2):
        ex = st.experiments[e]
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            solver.bank_keys(solver.member_intervals(st.segment_profiles(e, m)[0], st.out_t, ex.seg_t)[:2]
                             for m in range(ex.members))
            times.append((time.perf_counter() - t) / ex.members)
        res["plan"][ex.name] = lo_med(times)

    names = [ex.name for ex in st.experiments]
    res["exact"] = {names[0]: exact(0, list(range(members)), repeats),
                    names[1]: exact(1, list(range(members)), 2 * repeats),
                    names[2]: exact(2, [0], 4 * repeats)}

    # explicit members, dt = 0.1 s, at 1 and 3 days; the cost is linear in steps -> 30 days
    days = (1.0, 3.0)
    pts, first = {}, None
    for dd in days:
        s1 = load_study(STUDY, [f"time.duration_days={dd:g}", "time.method='explicit'", "time.dt_s=0.1"])
        for e in (0, 1, 2):
            ex = s1.experiments[e]
            times = []
            for _ in range(2 * repeats + (1 if first is None else 0)):
                t = time.perf_counter()
                seg, stored = s1.segment_profiles(e, 0)
                f, dint = solver.run_member(s1.grid, s1.f0, s1.profiles, seg, s1.out_t, ex.seg_t, "explicit", 0.1)
                runfile.member_digest(f, dint, stored)
                el = time.perf_counter() - t
                if first is None:
                    first = el
                else:
                    times.append(el)
            pts.setdefault(ex.name, []).append([dd, *lo_med(times)])
    res["explicit"] = pts
    res["explicit_first"] = first

    # one core's memory bandwidth (numpy copy, read + write), beside the exact members' demand
    x = np.ones(50_000_000)
    y = np.empty_like(x)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        np.copyto(y, x)
        times.append(time.perf_counter() - t)
    res["copy_GBps"] = 2 * x.nbytes / min(times) / 1e9
    return res


def measure(args) -> dict:
    import h5py
    from mpi4py import __version__ as mpi4py_version

    from hpcbelt import resources

    quick = args.quick
    reps = 2 if quick else 3
    io_reps, rounds = (2, 4) if quick else (4, 8)
    io_ranks = [int(x) for x in (args.io_ranks or ("1,2,4,8" if quick else "1,2,4,8,16")).split(",")]
    if 1 not in io_ranks or not any(n > 1 for n in io_ranks):
        sys.exit("bench_scaling: --io-ranks needs 1 and at least one count above 1")
    mpirun_v = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout.splitlines()
    res = {"machine": f"{platform.node()}, {os.cpu_count()} cores ({platform.machine()}), python "
                      f"{platform.python_version()}, h5py {h5py.__version__} / HDF5 {h5py.version.hdf5_version} "
                      f"(mpi={h5py.get_config().mpi}), mpi4py {mpi4py_version}, "
                      f"{mpirun_v[0] if mpirun_v else 'mpirun ?'}",
           "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": quick, "reps": reps,
           "io_reps": io_reps, "rounds": rounds, "load_at_start": os.getloadavg()}
    print("measuring compute terms (this process; also warms numba's cache) ...", flush=True)
    res["compute"] = m = measure_compute(reps, 2 if quick else 3, 300)
    print("measuring start-up (fresh interpreters) ...", flush=True)
    res["startup"] = measure_startup(3 if quick else 5)
    print("measuring 2 ranks at once (mpirun -n 2: shared bank, concurrent members; launch) ...", flush=True)
    res["conc"] = mpirun_json(["-n", "2", sys.executable, __file__, "--compute-worker", "--repeats", str(2 * reps)])
    times = []
    env = dict(os.environ, **MPI_ENV)
    for _ in range(reps):
        t = time.perf_counter()
        r = subprocess.run(["mpirun", "-n", "2", sys.executable, "-c", RANK_IMPORTS], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if r.returncode:
            sys.exit(f"bench_scaling: mpirun -n 2 python -c {RANK_IMPORTS!r} failed:\n{r.stderr[-2000:]}")
    res["launch2"] = lo_med(times)
    seg2 = m["experiments"][0][2]
    geometry = (m["n_time"], m["n_alpha"], seg2)
    layout_members = rounds * max(io_ranks)
    big = 16 * layout_members
    fb = lambda k: resources.pitch_angle_file_bytes(m["n_alpha"], m["n_time"], [(k, seg2)])  # noqa: E731
    res.update(layout_members=layout_members, big_members=big, B0=fb(layout_members), B1=fb(big))
    print(f"measuring the run file under mpirun -n {','.join(map(str, io_ranks))} (mpio), 2, 4 (funnel) ...",
          flush=True)
    io, funnel = {}, {}
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench_scaling_") as tmp:
        for n in io_ranks:
            io[n] = run_io(n, "mpio", tmp, io_reps, rounds, layout_members, big, geometry)
            print(f"  N = {n:>2} {io[n]['mode']:>6}: create {min(io[n]['create']):.3f} s, round "
                  f"{min(io[n]['round']) * 1e3:.1f} ms, close {min(io[n]['close']) * 1e3:.1f} ms", flush=True)
        for n in (2, 4):
            funnel[n] = run_io(n, "funnel", tmp, io_reps, rounds, layout_members, 0, geometry)
            print(f"  N = {n:>2} funnel: {min(funnel[n]['round']) / n * 1e3:.1f} ms per member", flush=True)
        check = None
        if not (quick or args.no_check):
            print("checking the model against a whole run: mpirun -n 2 hpcbelt run inputs/watt2021.toml (x 3) ...",
                  flush=True)
            env = dict(os.environ, **MPI_ENV)
            env.pop("HPCBELT_IO", None)
            walls = []
            res["load_check"] = [os.getloadavg()[0]]
            for _ in range(3):
                t = time.perf_counter()
                r = subprocess.run(["mpirun", "-n", "2", sys.executable, "-m", "hpcbelt", "run", str(STUDY),
                                    "-o", os.path.join(tmp, "watt2021.h5"), "--overwrite", "--quiet"],
                                   cwd=ROOT, env=env, capture_output=True, text=True)
                walls.append(time.perf_counter() - t)
                if r.returncode:
                    sys.exit(f"bench_scaling: the whole-study run failed:\n{r.stderr[-3000:]}")
            check = lo_med(walls)
            res["load_check"].append(os.getloadavg()[0])
    res.update(io={str(k): v for k, v in io.items()}, funnel={str(k): v for k, v in funnel.items()},
               check=check, load_at_end=os.getloadavg())
    return res


def linfit(xs, ys):
    """Least squares y = p + q x; a negative slope (noise) is clamped to 0 (p = mean), flagged."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    q = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    if q < 0:
        return my, 0.0, True
    return my - q * mx, q, False


# ------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------


class Model:
    """wall(N) from the measured terms (see the module docstring)."""

    def __init__(self, res: dict, args, stat: str = "min", concurrent: bool = False):
        from hpcbelt import resources

        k = 0 if stat == "min" else 1                    # [min, median] pairs
        L = min if stat == "min" else statistics.median  # lists of samples
        self.stat = stat
        m = res["compute"]
        self.args, self.ppn = args, args.ppn
        self.K = m["n_db"]
        self.duration = m["duration_days"]
        st = res["startup"]
        self.t_import = st["rank"][k]
        ex = m["exact"]
        self.t_setup = m["load_study"][k] + m["run_attrs"][k]
        self.b = m["bank_per_matrix"][k]
        self.file_bytes = lambda n_, s_: resources.pitch_angle_file_bytes(m["n_alpha"], m["n_time"], [(n_, s_)])
        # explicit: straight line through (1 day, c) and (3 days, c), evaluated at 30 days
        self.expl = {}
        for name, pts in m["explicit"].items():
            (d1, *c1), (d2, *c2) = sorted(pts)[:2]
            slope = (c2[k] - c1[k]) / (d2 - d1)
            self.expl[name] = dict(per_day=slope, intercept=max(c1[k] - slope * d1, 0.0))
            self.expl[name]["cost"] = self.expl[name]["intercept"] + slope * self.duration
        first_expl = min(p[1] for pts in m["explicit"].values() for p in pts if p[0] == 1.0)
        self.t_jit = {"exact": st["jit_exact"][k], "explicit": st["jit_explicit"][k]}
        self.first_call = {"exact": max(ex["drand_2min"]["first"] - ex["drand_2min"]["cost"][0], 0.0),
                           "explicit": max(m["explicit_first"] - first_expl, 0.0)}
        self.exps = {}
        for name, members, seg in m["experiments"]:
            e = ex.get(name) or ex["mean_of_profiles"]          # mean_inputs: the same work
            x = self.expl.get(name) or self.expl["mean_of_profiles"]
            plan = m["plan"].get(name) or m["plan"]["mean_of_profiles"]
            conc = res["conc"]["cost"].get(name)
            self.exps[name] = dict(segments=seg, random=seg > 1, exact=e["cost"][k], explicit=x["cost"],
                                   exact_par=L(conc) if conc and concurrent else e["cost"][k], plan=plan[k],
                                   streamed=e["streamed_bytes"], bytes=self.file_bytes(1, seg))
        self.watt = [(name, members) for name, members, _ in m["experiments"]]
        # b for N >= 2: from the bank of the whole study built by 2 ranks at once (mpirun -n 2)
        conc = res["conc"]
        t_plans = sum(self.exps[name]["plan"] * members for name, members in self.watt)
        keys = sum(v["bank"][0] for v in ex.values()) + (len(self.watt) - len(ex))
        self.b_conc = max((conc["bank_wall"] - t_plans) / (keys / 2), self.b) if conc.get("shared") else self.b
        self.b_par = self.b_conc if concurrent else self.b
        # run-file terms
        io = {int(n_): v for n_, v in res["io"].items()}
        self.io = io
        self.funnel = {int(n_): v for n_, v in res["funnel"].items()}
        self.B0, self.B1 = res["B0"], res["B1"]
        par = {n_: r for n_, r in io.items() if n_ > 1}
        self.par_ns = sorted(par)

        def fill(r):
            return max((L(r["big_create"]) - L(r["create"])) / (self.B1 - self.B0), 0.0)

        self.fill_by_n = {n_: fill(r) for n_, r in io.items()}
        self.fill_par = statistics.median(self.fill_by_n[n_] for n_ in self.par_ns)
        self.fill_ser = self.fill_by_n[1]
        self.create_pts = [max(L(par[n_]["create"]) - self.fill_par * self.B0, 0.0) for n_ in self.par_ns]
        self.round_pts = [L(par[n_]["round"]) for n_ in self.par_ns]
        self.close_pts = [L(par[n_]["close"]) for n_ in self.par_ns]
        self.create_fit = linfit(self.par_ns, self.create_pts)
        self.round_fit = linfit(self.par_ns, self.round_pts)
        self.close_fit = linfit(self.par_ns, self.close_pts)
        s = io[1]
        self.ser = dict(create=max(L(s["create"]) - self.fill_ser * self.B0, 0.0), round=L(s["round"]),
                        close=L(s["close"]))
        self.h = min(L(r["round"]) / n_ for n_, r in self.funnel.items())   # the least disturbed N

    def piece(self, pts, fit, n):
        """The measured value at a measured N, linear between measured N, and beyond the largest
        measured N that value plus the fitted slope times the extra ranks."""
        ns = self.par_ns
        if n <= ns[0]:
            return pts[0]
        if n >= ns[-1]:
            return pts[-1] + fit[1] * (n - ns[-1])
        for (n0, v0), (n1, v1) in zip(zip(ns, pts), zip(ns[1:], pts[1:])):
            if n0 <= n <= n1:
                return v0 + (v1 - v0) * (n - n0) / (n1 - n0)

    @property
    def G(self):
        return self.args.fs_bandwidth_GBps * 1e9 if self.args.fs_bandwidth_GBps else None

    def create(self, n, B, io="mpio"):
        if n == 1 or io == "funnel":      # one writer opens the file (funnel: rank 0 alone)
            base, phi = self.ser["create"], self.fill_ser
        else:
            base, phi = self.piece(self.create_pts, self.create_fit, n), self.fill_par
        if self.G:
            phi = max(phi, 1.0 / self.G)
        return base + phi * B

    def close(self, n, io="mpio"):
        if n == 1 or io == "funnel":
            return self.ser["close"]
        return self.piece(self.close_pts, self.close_fit, n)

    def w(self, n):
        """The per-round write of the measured fit (mpio, collective), or the serial file's."""
        if n == 1:
            return self.ser["round"]
        return self.piece(self.round_pts, self.round_fit, n)

    def wall(self, n, study, method="exact", io="mpio", parts=False):
        """Modelled wall time of ``study`` = [(experiment, members), ...] in file order on ``n``
        ranks; with ``parts``: (total, {term: s}, rounds, file bytes).

        Experiments are contiguous blocks of members and round j holds members [jN, (j+1)N), so
        each block is handled as a range of rounds (millions of members cost nothing here).
        """
        import numpy as np

        M = sum(c for _, c in study)
        R = -(-M // n)
        on_node = min(n, self.ppn)
        j = np.arange(R)
        in_round = np.minimum(M, (j + 1) * n) - j * n
        compute, round_bytes = np.zeros(R), np.zeros(R)
        nodes = -(-n // self.ppn)
        q = np.arange(nodes)
        lo_r, hi_r = q * self.ppn, np.minimum((q + 1) * self.ppn, n)      # the ranks of each node

        def below(x):                 # members i < x whose rank i mod n is on each node
            return (x // n) * (hi_r - lo_r) + np.clip(x % n - lo_r, 0, hi_r - lo_r)

        keys, plans = np.zeros(nodes), np.zeros(nodes)
        s0 = 0
        for name, count in study:
            e = self.exps[name]
            s1 = s0 + count
            cost = e[method + "_par"] if n > 1 and method + "_par" in e else e[method]
            if method == "exact" and self.args.node_mem_bandwidth_GBps:
                cost = max(cost, on_node * e["streamed"] / (self.args.node_mem_bandwidth_GBps * 1e9))
            j0, j1 = s0 // n, (s1 - 1) // n
            compute[j0:j1 + 1] = np.maximum(compute[j0:j1 + 1], cost)
            jj = j[j0:j1 + 1]
            round_bytes[j0:j1 + 1] += (np.minimum(s1, (jj + 1) * n) - np.maximum(s0, jj * n)) * e["bytes"]
            per = below(s1) - below(s0)
            plans += per * e["plan"]
            if e["random"]:
                keys += self.K * -np.expm1(per * e["segments"] * np.log1p(-1.0 / self.K))
            else:
                keys += per > 0
            s0 = s1
        if io == "funnel" and n > 1:
            writes = in_round * self.h
        elif self.G and n > 1:
            writes = self.round_pts[0] + round_bytes / self.G
        elif self.G:
            writes = np.maximum(self.w(1), round_bytes / self.G)
        else:
            writes = np.full(R, self.w(n))
        b = self.b if n == 1 else self.b_par
        bank = float((plans + keys * b / (hi_r - lo_r)).max()) if method == "exact" else 0.0
        file_b = sum(self.file_bytes(cnt, self.exps[e]["segments"]) for e, cnt in study)
        p = dict(launch=self.args.launch_s, startup=self.t_import + self.t_jit[method] + self.t_setup,
                 create=self.create(n, file_b, io), bank=bank, compute=float(compute.sum()),
                 writes=float(np.sum(writes)), close=self.close(n, io))
        total = sum(p.values())
        return (total, p, R, file_b) if parts else total

    def largest(self, n, seconds, method, io):
        """The most 2-min members whose modelled wall on n ranks is <= seconds (0 if none)."""
        one = lambda k: self.wall(n, [("drand_2min", k)], method, io)  # noqa: E731
        lo, hi = 0, 1
        while one(hi) <= seconds and hi < 10 ** 10:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if one(mid) <= seconds else (lo, mid)
        return lo


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------


def fmt_s(x):
    if x < 10:
        return f"{x:.2f}"
    if x < 1000:
        return f"{x:.1f}"
    return f"{x:,.0f}"


CASES = (("exact", "mpio"), ("explicit", "mpio"), ("exact", "funnel"))


def table(model, title, study_of, ns, weak, note=""):
    print(f"\n{title}")
    head = f"{'N':>5} {'nodes':>5} {'rounds':>7} |" + "".join(f" {m_ + ' ' + io:^26} |" for m_, io in CASES)
    print(head)
    print(f"{'':>5} {'':>5} {'':>7} |" + f" {'wall s':>10} {'speed-up':>8} {'eff':>5} |" * len(CASES))
    base = {}
    for n in ns:
        st = study_of(n)
        M = sum(c for _, c in st)
        row = f"{n:>5} {-(-n // model.ppn):>5} {-(-M // n):>7} |"
        for case in CASES:
            t = model.wall(n, st, *case)
            base.setdefault(case, t)
            eff = base[case] / t if weak else base[case] / (n * t)
            row += f" {fmt_s(t):>10} {n * eff:>8.1f} {100 * eff:>4.0f}% |"
        print(row)
    n = ns[-1]
    t, parts, _, fb = model.wall(n, study_of(n), parts=True)
    print(f"  exact mpio at N = {n:,}: " + ", ".join(f"{k} {fmt_s(v)}" for k, v in parts.items() if v)
          + f" s; file {fb / 1e9:,.1f} GB" + (f"\n  {note}" if note else ""))


def report(res: dict, args) -> None:
    model = Model(res, args)
    m = res["compute"]
    st = res["startup"]
    ex = m["exact"]
    seg2 = m["experiments"][0][2]
    n_alpha, n_time = m["n_alpha"], m["n_time"]
    fb1 = model.file_bytes(1, seg2)
    fd = 2 * n_time * n_alpha * 8

    def mm(x, unit="s", scale=1.0, f="{:.3g}"):
        return f"{f.format(x[0] * scale)} {unit} [{f.format(x[1] * scale)}]"

    print("tools/bench_scaling.py: scaling of 'hpcbelt run' (pitch-angle ensembles), measured here, then modelled")
    print(f"machine: {res['machine']}")
    print(f"measured {res['when']} ({'--quick' if res['quick'] else 'default'} run); load average "
          f"{res['load_at_start'][0]:.1f} at the start, {res['load_at_end'][0]:.1f} at the end (the machine is "
          "shared: every term below is the MIN over repeats, the median in brackets)")

    print("\nMEASURED ON THIS MACHINE")
    print(f"  t_import  python -c '{RANK_IMPORTS}': {mm(st['rank'])} (fresh interpreter x 5, warm numba cache);")
    print(f"            python -c 'import hpcbelt.pitch_angle.driver' alone: {mm(st['driver'])}")
    print(f"  t_jit     first call of the cached kernel in a fresh interpreter (numba cache load): exact "
          f"{mm(st['jit_exact'])}, explicit {mm(st['jit_explicit'])}\n            (in this process: first "
          f"member minus steady cost: exact {model.first_call['exact']:.3f} s, explicit "
          f"{model.first_call['explicit']:.3f} s)")
    print(f"  t_setup   rank 0: load_study(watt2021) {mm(m['load_study'])} + run-file attributes (git commit, "
          f"sha256 of inputs) {mm(m['run_attrs'])} = {model.t_setup:.3f} s")
    print(f"  grid      {n_alpha} angles x {n_time} hourly outputs ({m['duration_days']:g} days); "
          f"database of K = {m['n_db']:,} profiles")
    print(f"  b         bank build per propagator (eigh_tridiagonal + 91 x 91 product; solver.propagators on "
          f"{m['bank_profiles']} profiles, x {res['reps']}): {mm(m['bank_per_matrix'], 'ms', 1e3)}")
    for name, e in ex.items():
        K = m["n_db"]
        want = (K * -math.expm1(e["bank_members"] * e["segments"] * math.log1p(-1 / K)) if e["segments"] > 1
                else 1)
        print(f"              (cross-check: the {name} bank of its {e['bank_members']} members: {e['bank'][0]:,} "
              f"matrices (keys_e formula: {want:,.0f}) built in {e['bank'][1]:.2f} s = "
              f"{e['bank'][1] / max(e['bank'][0], 1) * 1e3:.2f} ms each)")
    print("  plan      the node's plans (every rank lists the intervals of all its node's members to find the "
          "bank's keys), per member:\n              "
          + ", ".join(f"{k} {mm(v, 'ms', 1e3)}" for k, v in m["plan"].items()))
    print("  c[e]      one member, 30 days: segment_profiles + solver.run_member + member_digest (the driver's work "
          "but the puts);\n            exact method, prepared bank, after a warm-up:")
    for name, e in ex.items():
        print(f"              {name:<17} {mm(e['cost'], 'ms', 1e3):<22} {e['samples']} runs; {e['intervals']:,} "
              f"91 x 91 mat-vecs streaming {e['streamed_bytes'] / 1e9:.2f} GB of propagators "
              f"({e['streamed_bytes'] / e['cost'][0] / 1e9:.1f} GB/s)")
    print(f"              (mean_inputs: the same work as mean_of_profiles.  One core's numpy copy bandwidth here: "
          f"{m['copy_GBps']:.1f} GB/s read + write; the 2-min bank, "
          f"{ex['drand_2min']['bank'][0] * n_alpha * n_alpha * 8 / 1e6:.0f} MB, is far larger than the 32 MB L3)")
    cc_ = res["conc"]
    kind = "shared" if cc_["shared"] else "private"
    print(f"            2 ranks at once (mpirun -n 2, the node's {kind} bank built as "
          f"the driver builds it in {cc_['bank_wall']:.2f} s; one member per rank per round, after a warm-up):")
    for name, t in cc_["cost"].items():
        e1 = ex[name]["cost"][0]
        print(f"              {name:<17} {min(t) * 1e3:.3g} ms [{statistics.median(t) * 1e3:.3g}] over {len(t)} runs "
              f"= {min(t) / e1:.2f} x the one-rank cost")
    both = ex["drand_2min"]["streamed_bytes"] * 2 / min(cc_["cost"]["drand_2min"]) / 1e9
    print(f"              (2 ranks read {both:.1f} GB/s of propagators together; one core's numpy copy here: "
          f"{m['copy_GBps']:.1f} GB/s read + write.  A node's bandwidth at {args.ppn} ranks: "
          "--node-mem-bandwidth-GBps)")
    print(f"            bank(2) of the whole study, measured (min of "
          f"{', '.join('%.2f' % w_ for w_ in cc_.get('bank_walls', [cc_['bank_wall']]))} s): {cc_['bank_wall']:.2f} s; "
          "from the plans and b: "
          f"{sum(model.exps[n_]['plan'] * k_ for n_, k_ in model.watt) + 4645 * model.b / 2:.2f} s "
          f"-> b = {model.b_conc * 1e3:.3f} ms per propagator with 2 ranks building at once")
    ratio = min(cc_["cost"]["drand_2min"]) / ex["drand_2min"]["cost"][0]
    print("            (the model uses the one-rank c[e] and b at every N: on this shared machine the 2-rank "
          f"values swing with\n            the other jobs' load from run to run -- {ratio:.2f} x for drand_2min in "
          "this one; the CHECK shows both)")
    print(f"            explicit method, dt = 0.1 s ({STEPS_PER_DAY:,} steps/day), measured at 1 and 3 days (x "
          f"{2 * res['reps']}), extrapolated linearly in steps:")
    for name, pts in m["explicit"].items():
        x = model.expl[name]
        pp = ", ".join(f"{d:g} d {c * 1e3:.1f} ms [{md * 1e3:.1f}]" for d, c, md in sorted(pts))
        print(f"              {name:<17} {pp} -> {x['per_day'] * 1e3:.2f} ms/day "
              f"({x['per_day'] / STEPS_PER_DAY * 1e9:.0f} "
              f"ns/step) + {x['intercept'] * 1e3:.1f} ms = {x['cost']:.3f} s per 30-day member (extrapolated)")
    r0 = model.io
    print(f"  run file  production RunFile under 'mpirun -n N', {res['rounds']} rounds x {res['io_reps']} repeats; a "
          f"member is {fb1:,} B (f + daa_integral {fd:,} B, profile_index {4 * seg2:,} B, checksum, flag);")
    print(f"            create of a {res['layout_members']}-member layout ({res['B0'] / 1e6:.0f} MB), and once of a "
          f"{res['big_members']}-member one ({res['B1'] / 1e6:.0f} MB) for the fill term phi:")
    print(f"            {'N':>3} {'mode':>6} {'create s':>16} {'round ms':>16} {'ms/member':>10} {'close ms':>16} "
          f"{'phi ms/MB':>10}")
    for n in sorted(r0):
        r = r0[n]
        print(f"            {n:>3} {r['mode']:>6} {min(r['create']):>7.3f} [{statistics.median(r['create']):>6.3f}] "
              f"{min(r['round']) * 1e3:>7.1f} [{statistics.median(r['round']) * 1e3:>6.1f}] "
              f"{min(r['round']) / n * 1e3:>10.2f} {min(r['close']) * 1e3:>7.1f} "
              f"[{statistics.median(r['close']) * 1e3:>6.1f}] {model.fill_by_n[n] * 1e9:>10.3f}")
    (a, bN, ca), (c, d, cc), (k0, k1, ck) = model.create_fit, model.round_fit, model.close_fit
    cl = lambda f: "  (slope < 0 fitted: noise; clamped to 0)" if f else ""  # noqa: E731
    top = max(model.par_ns)
    print(f"            model (mpio): the measured minimum at N = {', '.join(map(str, model.par_ns))}, "
          "linear between them, "
          f"and beyond N = {top} the N = {top} value + slope x (N - {top}),")
    print("            the slope from least squares over those N (create: after the fill phi B is taken off):")
    print(f"              create(N, B) = {a * 1e3:.1f} ms + {bN * 1e3:.2f} ms x N + phi B, phi = "
          f"{model.fill_par * 1e9:.3f} ms/MB (median over N) = "
          f"{1 / model.fill_par / 1e9 if model.fill_par else float('inf'):.2f} GB/s{cl(ca)}")
    print(f"              w(N)         = {c * 1e3:.1f} ms + {d * 1e3:.2f} ms x N per round{cl(cc)}   (d = collective "
          f"write per member: {fb1 / d / 1e6 if d else float('inf'):.0f} MB/s for the whole job)")
    print(f"              close(N)     = {k0 * 1e3:.1f} ms + {k1 * 1e3:.2f} ms x N{cl(ck)}")
    print(f"            N = 1, serial file: create {model.ser['create'] * 1e3:.1f} ms + phi B (phi = "
          f"{model.fill_ser * 1e9:.3f} ms/MB), round {model.ser['round'] * 1e3:.2f} ms, close "
          f"{model.ser['close'] * 1e3:.2f} ms")
    print("  h         funnel (HPCBELT_IO=funnel: rank 0 receives and writes every member):")
    for n, r in model.funnel.items():
        print(f"              N = {n}: {min(r['round']) / n * 1e3:.2f} ms per member "
              f"[{statistics.median(r['round']) / n * 1e3:.2f}], "
              f"of which rank 0's HDF5 writes {min(r['h5write']) * 1e3:.2f} ms; create {min(r['create']):.3f} s, "
              f"close {min(r['close']) * 1e3:.1f} ms")
    print(f"            h = {model.h * 1e3:.2f} ms (the smaller of the two): a funnelled run writes at most "
          f"{1 / model.h:,.0f} members/s = {fb1 / model.h / 1e6:,.0f} MB/s, whatever N (its create/close: the "
          "serial file's, rank 0 alone opens it)")
    launch2 = max(res["launch2"][0] - model.t_import, 0.0)
    print(f"  launch    'mpirun -n 2 python -c <t_import's imports>': {mm(res['launch2'])}, i.e. "
          f"{res['launch2'][0] - model.t_import:+.2f} s against t_import (mpirun, MPI_Init of 2 ranks; "
          f"taken as {launch2:.2f} s); at scale: --launch-s")
    if res.get("check"):
        t, parts, _, _ = model.wall(2, model.watt, parts=True)
        t += launch2
        t_conc = Model(res, args, "min", concurrent=True).wall(2, model.watt) + launch2
        t_med = (Model(res, args, "median", concurrent=True).wall(2, model.watt)
                 + max(res["launch2"][1] - res["startup"]["rank"][1], 0))
        chk = res["check"]
        lc = res.get("load_check", [float("nan")] * 2)
        print(f"  CHECK     whole study, 'mpirun -n 2 hpcbelt run inputs/watt2021.toml' (exact), x 3 (load average "
              f"{lc[0]:.1f} -> {lc[1]:.1f}):\n            {chk[0]:.1f} s [{chk[1]:.1f}] measured; the model at N = 2 "
              f"with the launch above: {t:.1f} s (" + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()
                                                            if k != "launch")
              + f", launch {launch2:.2f}),\n            {t_conc:.1f} s with the 2-rank c[e] and b, {t_med:.1f} s "
              f"with the 2-rank medians: measured / model = {chk[0] / t:.2f}, {chk[0] / t_conc:.2f}, "
              f"{chk[0] / t_med:.2f}")

    G, BW = args.fs_bandwidth_GBps, args.node_mem_bandwidth_GBps
    print("\nASSUMED, NOT MEASURED")
    if G:
        print(f"  --fs-bandwidth-GBps      {G:g} GB/s: a round's write is w({model.par_ns[0]}) + (its bytes) / G = "
              f"{model.round_pts[0] * 1e3:.1f} ms + bytes / G instead of w(N); the create's fill (rank 0) at "
              "max(phi, 1/G)")
    else:
        print("  --fs-bandwidth-GBps      not given: every round's write at the cost measured here (w(N) above: the "
              "whole job writing through one local disk)")
    demand = args.ppn * ex["drand_2min"]["streamed_bytes"] / ex["drand_2min"]["cost"][0] / 1e9
    print(f"  --node-mem-bandwidth-GBps {('%g GB/s' % BW) if BW else 'not given'}: at {args.ppn} ranks per node "
          f"the 2-min members would stream {demand:,.0f} GB/s of propagators per node at the cost measured here")
    print(f"  --launch-s               {args.launch_s:g} s")
    print(f"  asymmetry: the mpio slopes come from oversubscribed runs (N = 4 .. {max(model.par_ns)} on "
          f"{os.cpu_count()} cores) and grow with N, h is one constant; at large N this favours funnel over mpio in "
          "the tables.\n  (Measured at N = 2: mpio writes "
          f"{model.round_pts[0] / 2 * 1e3:.2f} ms per member, funnel "
          f"{min(model.funnel[2]['round']) / 2 * 1e3:.2f} ms.)")
    print("  never modelled: the interconnect (w, create, close beyond the measured N: the fitted slope from <= "
          f"{max(model.par_ns)} ranks on one node), import storms on a shared file system, the slowest rank's "
          "jitter in every round")

    print(f"\nMODEL   (P = {args.ppn} ranks per node; member i on rank i mod N; round j = members jN .. jN+N-1)")
    print("  wall(N) = launch + t_import + t_jit + t_setup + create(N, B) + bank(N)")
    print("            + sum over R = ceil(M/N) rounds of [max c[e] of the round's members + w(N)] + close(N)")
    print("  bank(N) = max over nodes of sum_e [members_e(node) x plan_e + keys_e(node) x b / ranks on the node]"
          "  (exact)")
    print(f"            keys_e = K (1 - (1 - 1/K)^(segments_e x members_e on the node)), K = {m['n_db']:,}; "
          "1 if D is constant")
    print("  c[e], b:  the one-rank costs at every N (contention between a node's ranks: --node-mem-bandwidth-GBps)")
    print("  w, create(N, B) = base(N) + phi B, close: measured at N <= %d, linear between, + fitted slope beyond"
          % max(model.par_ns))
    print("  funnel:   a round costs max c[e] + (members in the round) x h;   N = 1: the serial file's terms")

    ns = [2 ** i for i in range(int(math.log2(args.max_ranks)) + 1)]
    big = [("drand_2min", 50_000), ("drand_6h", 50_000), ("mean_of_profiles", 1), ("mean_inputs", 1)]
    M_watt = sum(c for _, c in model.watt)
    print(f"\nMODELLED SCALING (predictions, not measurements beyond 16 ranks of one node): wall s, speed-up, "
          f"efficiency; P = {args.ppn} ranks per node")
    print("  strong: speed-up = wall(1) / wall(N), efficiency = speed-up / N.  weak: efficiency = wall(1) / wall(N), "
          "speed-up = N x efficiency")
    table(model, f"strong scaling: inputs/watt2021.toml ({M_watt} members: 60 x 2-min, 60 x 6-h, 2 constant-D)",
          lambda n: model.watt, ns, False)
    tb = sum(model.file_bytes(c, model.exps[e]["segments"]) for e, c in big)
    table(model, f"strong scaling: watt2021 with 100,002 members (50,000 x 2-min, 50,000 x 6-h, 2 constant-D; "
          f"{tb / 1e9:.0f} GB file)", lambda n: big, ns, False)
    table(model, "weak scaling: 2 members per rank (N x 2-min + N x 6-h)",
          lambda n: [("drand_2min", n), ("drand_6h", n)], ns, True,
          "efficiency above 100 %: one rank builds the whole bank alone; N ranks of a node share that work")
    table(model, "weak scaling: 100 members per rank (50 N x 2-min + 50 N x 6-h)",
          lambda n: [("drand_2min", 50 * n), ("drand_6h", 50 * n)], ns, True)

    print("\nLARGEST ENSEMBLE OF 2-MIN MEMBERS (30 days, watt2021 grid) IN ONE HOUR, from the model:")
    for nodes in sorted({args.max_ranks // args.ppn, args.hour_nodes}):
        n = nodes * args.ppn
        print(f"  {nodes} nodes of {args.ppn} cores ({n:,} ranks):")
        for case in CASES:
            k = model.largest(n, 3600.0, *case)
            if not k:
                print(f"    {case[0]:>8} {case[1]:<6}: not even one member")
                continue
            t, parts, R, fbk = model.wall(n, [("drand_2min", k)], *case, parts=True)
            print(f"    {case[0]:>8} {case[1]:<6}: {k:>11,} members, {R:,} rounds, {t:,.0f} s, file "
                  f"{fbk / 1e12:.3f} TB ({fbk / k / 1e6:.3f} MB/member = resources.pitch_angle_file_bytes); "
                  + ", ".join(f"{key} {fmt_s(v)}" for key, v in parts.items() if v) + " s")
    print("  (every byte is written twice: the fill values at create -- by rank 0 alone: HDF5 writes a contiguous "
          "dataset's fill\n   values from one process (H5D__contig_fill) -- then the members'"
          + ("; the rates are this machine's" if not G else "") + ")")

    print("\nSENSITIVITY TO THE ASSUMED TERMS (the same measurements; the options' values are assumptions, not "
          "measurements):")
    hour = f"1-hour 2-min ensemble, {args.hour_nodes} nodes, exact mpio"
    print(f"  {'--fs-bandwidth-GBps':>20} {'--node-mem-bw-GBps':>19} | {hour:>44} |"
          f" {'weak 100/rank, N = ' + str(args.max_ranks) + ': wall, eff':>30}")
    saved = (args.fs_bandwidth_GBps, args.node_mem_bandwidth_GBps)
    for g, bw in ((None, None), (1.0, None), (10.0, None), (100.0, None), (10.0, 200.0), (100.0, 200.0)):
        args.fs_bandwidth_GBps, args.node_mem_bandwidth_GBps = g, bw
        n = args.hour_nodes * args.ppn
        k_ = model.largest(n, 3600.0, "exact", "mpio")
        weak = lambda n_: [("drand_2min", 50 * n_), ("drand_6h", 50 * n_)]  # noqa: E731
        t1, tn = model.wall(1, weak(1)), model.wall(args.max_ranks, weak(args.max_ranks))
        fbk = model.file_bytes(k_, seg2)
        print(f"  {('%g' % g) if g else 'measured rate':>20} {('%g' % bw) if bw else '-':>19} | "
              f"{k_:>14,} members, {fbk / 1e12:6.2f} TB file{'':>8} | {fmt_s(tn):>12} s, {100 * t1 / tn:5.1f} %")
    args.fs_bandwidth_GBps, args.node_mem_bandwidth_GBps = saved


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="~1 minute: fewer repeats, I/O at N <= 8, no whole-study check")
    p.add_argument("--ppn", type=int, default=128, help="ranks per node in the model (default 128)")
    p.add_argument("--max-ranks", type=int, default=4096, help="largest N of the tables (default 4096)")
    p.add_argument("--hour-nodes", type=int, default=64,
                   help="nodes of the one-hour question (default 64; the tables' largest N is also shown)")
    p.add_argument("--io-ranks", default=None, help="rank counts of the I/O runs (default 1,2,4,8,16; --quick 1,2,4,8)")
    p.add_argument("--fs-bandwidth-GBps", type=float, default=None,
                   help="ASSUMED, NOT MEASURED: the file system's aggregate write bandwidth (GB/s)")
    p.add_argument("--node-mem-bandwidth-GBps", type=float, default=None,
                   help="ASSUMED, NOT MEASURED: a node's memory bandwidth, shared by its exact members (GB/s)")
    p.add_argument("--launch-s", type=float, default=0.0,
                   help="ASSUMED, NOT MEASURED: launcher + MPI wire-up time at scale, added to every run (s)")
    p.add_argument("--no-check", action="store_true", help="skip the whole-study run that checks the model at N = 2")
    p.add_argument("--dir", default=None, help="where the benchmark's files go (default: a temporary directory)")
    p.add_argument("--save", metavar="FILE", help="write the measurements to FILE (JSON)")
    p.add_argument("--load", metavar="FILE", help="print the model from FILE's measurements; measure nothing")
    p.add_argument("--io-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--compute-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=4, help=argparse.SUPPRESS)
    p.add_argument("--layout-members", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--big-members", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--n-time", type=int, default=721, help=argparse.SUPPRESS)
    p.add_argument("--n-alpha", type=int, default=91, help=argparse.SUPPRESS)
    p.add_argument("--n-seg", type=int, default=21600, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.io_worker:
        io_worker(args)
        return 0
    if args.compute_worker:
        compute_worker(args)
        return 0
    t0 = time.perf_counter()
    if args.load:
        res = json.loads(Path(args.load).read_text())
    else:
        res = measure(args)
        res["measure_s"] = time.perf_counter() - t0
        if args.save:
            Path(args.save).write_text(json.dumps(res, indent=1))
        print()
    report(res, args)
    done = f"re-modelled from {args.load}" if args.load else f"measured in {res['measure_s']:.0f} s"
    print(f"\nbench_scaling: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
