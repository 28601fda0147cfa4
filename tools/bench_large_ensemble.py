#!/usr/bin/env python
"""Benchmark a large ensemble end to end: inputs/large_ensemble.toml run on 2 ranks, then aggregated.

    .venv/bin/python tools/bench_large_ensemble.py                      # 2,500, 5,000, 10,000 members
    .venv/bin/python tools/bench_large_ensemble.py --members 10000 --dir results/large --keep
    .venv/bin/python tools/bench_large_ensemble.py --memory-mb 256,64 --agg-ranks 1,2

For each member count the real command lines are timed (time.perf_counter around the
subprocess):

    mpirun -n 2 .venv/bin/hpcbelt run STUDY -o DIR/large[_N].h5 --overwrite --quiet
    .venv/bin/hpcbelt aggregate DIR/large[_N].h5 -o DIR/large[_N]_summary.h5 [--memory-mb M]
    mpirun -n 2 .venv/bin/hpcbelt aggregate ...                           (--agg-ranks 2)

STUDY is inputs/large_ensemble.toml itself for its own member count (10,000); other counts run
a copy written into DIR that differs only in the random experiment's ``members`` (and the
database path, made absolute), since ``--set`` cannot address ``[[experiment]]`` tables.

Measured: wall time of each command; the run file's size (st_size) and the space it takes on
disk (st_blocks * 512); the peak resident memory (VmHWM) of every rank, read from
/proc/<pid>/status of the command's process tree every 20 ms (each rank labelled by its
OMPI_COMM_WORLD_RANK), and, as an exact cross-check, ru_maxrss from wait4() of the command
(the largest process of the tree: the kernel keeps it across exits).  Memory in MiB, file sizes
in MB/GB (10^6/10^9 bytes).  Summaries of one member count must be identical (every dataset)
whatever the rank count and memory budget; this is checked and printed.  The load average is
printed next to each step: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "inputs" / "large_ensemble.toml"
HPCBELT = ROOT / ".venv" / "bin" / "hpcbelt"
POLL_S = 0.02
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


# ------------------------------------------------------------------------------------------
# Process-tree memory
# ------------------------------------------------------------------------------------------

def _children() -> dict:
    """{ppid: [pid, ...]} of every process now."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _tree(root: int) -> list:
    kids = _children()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _hwm_kib(pid: int):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _describe(pid: int) -> tuple:
    """(label, is a python process of hpcbelt) for a pid: 'rank N' from its MPI environment."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None, False
    words = [a.decode(errors="replace") for a in argv if a]
    is_hpcbelt = bool(words) and "python" in Path(words[0]).name and any(w.endswith("hpcbelt") for w in words)
    rank = next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"OMPI_COMM_WORLD_RANK=")), None)
    return (f"rank {rank}" if rank is not None else "serial"), is_hpcbelt


def measure(cmd: list, log: Path) -> dict:
    """Run ``cmd``; wall time, exit code, peak RSS per hpcbelt process and ru_maxrss of the tree."""
    import subprocess

    procs = {}                                          # pid -> [label, is_hpcbelt, hwm KiB]
    with open(log, "w") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=err, stderr=subprocess.STDOUT)
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                wall = time.perf_counter() - t0
                break
            for q in _tree(p.pid):
                hwm = _hwm_kib(q)
                if hwm is None:
                    continue
                if q not in procs or not procs[q][1]:     # until it has exec'd into hpcbelt
                    label, ok = _describe(q)
                    if label is None:
                        continue
                    procs[q] = [label, ok, procs.get(q, [0, 0, 0])[2]]
                procs[q][2] = max(procs[q][2], hwm)
            time.sleep(POLL_S)
        p.returncode = os.waitstatus_to_exitcode(status)
    # one entry per rank: the largest process carrying its label (a child the rank forks, e.g.
    # 'git rev-parse' for the summary's git_commit, briefly looks like the rank before its exec)
    peak = {}
    for label, ok, hwm in procs.values():
        if ok:
            peak[label] = max(peak.get(label, 0), hwm)
    ranks = sorted(((lab, kib / 1024) for lab, kib in peak.items()), key=lambda x: x[0])
    return {"wall": wall, "rc": p.returncode, "ranks": ranks, "tree_maxrss_mib": ru.ru_maxrss / 1024,
            "log": log}


def _check(res: dict, what: str) -> None:
    if res["rc"] != 0:
        print(f"{what} failed (exit {res['rc']}); its output ({res['log']}):", file=sys.stderr)
        print(Path(res["log"]).read_text()[-4000:], file=sys.stderr)
        sys.exit(res["rc"] or 1)


# ------------------------------------------------------------------------------------------
# Study variants
# ------------------------------------------------------------------------------------------

def study_for(members: int, directory: Path) -> Path:
    """inputs/large_ensemble.toml for its own member count, else a copy in ``directory`` whose
    random experiment has ``members`` (and whose database path is absolute)."""
    doc = tomllib.loads(STUDY.read_text())
    randoms = [e for e in doc["experiment"] if e["mode"] == "random"]
    if len(randoms) != 1:
        sys.exit(f"{STUDY}: expected exactly one random experiment, found {len(randoms)}")
    if randoms[0]["members"] == members:
        return STUDY
    text = STUDY.read_text()
    own = randoms[0]["members"]
    text, n = re.subn(rf"(?m)^(members\s*=\s*){own}\b", rf"\g<1>{members}", text)
    db = (STUDY.parent / doc["database"]["path"]).resolve()
    text, k = re.subn(r'(?m)^(path\s*=\s*)"[^"]*"', lambda m: f'{m.group(1)}"{db}"', text)
    out = directory / f"large_{members}.toml"
    out.write_text(text)
    check = tomllib.loads(text)
    got = [e["members"] for e in check["experiment"] if e["mode"] == "random"]
    if n != 1 or k != 1 or got != [members] or Path(check["database"]["path"]) != db:
        sys.exit(f"could not write a {members}-member variant of {STUDY}")
    return out


# ------------------------------------------------------------------------------------------
# Summaries: identical whatever the ranks and the budget
# ------------------------------------------------------------------------------------------

def _datasets(path: Path) -> dict:
    import h5py
    import numpy as np

    out = {}
    with h5py.File(path, "r") as h5:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.asarray(obj[()])
        h5.visititems(visit)
    return out


def same_summaries(paths: list) -> str:
    import numpy as np

    if len(paths) < 2:
        return "one summary only"
    ref = _datasets(paths[0])
    for p in paths[1:]:
        other = _datasets(p)
        if other.keys() != ref.keys():
            return f"DIFFER: {p.name} has other datasets than {paths[0].name}"
        for k, v in ref.items():
            w = other[k]
            equal = (v.shape == w.shape and (np.array_equal(v, w, equal_nan=True) if v.dtype.kind == "f"
                                             else np.array_equal(v, w)))
            if not equal:
                return f"DIFFER: {k} of {p.name} differs from {paths[0].name}"
    return f"all {len(paths)} summaries identical (every dataset)"


# ------------------------------------------------------------------------------------------

def _ints(text: str) -> list:
    return [int(v) for v in text.split(",") if v.strip()]


def _load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", default="2500,5000,10000", help="member counts (default 2500,5000,10000)")
    p.add_argument("--ranks", type=int, default=2, help="ranks of the run (default 2)")
    p.add_argument("--agg-ranks", default="1,2", help="rank counts of the aggregation (default 1,2)")
    p.add_argument("--memory-mb", default="256",
                   help="aggregation budgets per rank [MiB], comma-separated (default 256, the default of "
                        "'hpcbelt aggregate'; e.g. 256,64)")
    p.add_argument("--figures", action="store_true", help="also draw the figures (--figures DIR/figs_*)")
    p.add_argument("--dir", type=Path, help="directory for the files (default: a temporary one, removed)")
    p.add_argument("--keep", action="store_true", help="keep the files (always kept with --dir)")
    args = p.parse_args()
    members = _ints(args.members)
    agg_ranks = _ints(args.agg_ranks)
    budgets = [float(v) for v in args.memory_mb.split(",") if v.strip()]
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        sys.exit("mpirun not found")
    if args.dir is not None:
        work = args.dir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="hpcbelt-bench-large-"))
    keep = args.keep or args.dir is not None
    print(f"files in {work}; {os.cpu_count()} cores; {_load()}", flush=True)
    rows = []
    try:
        for n in members:
            study = study_for(n, work)
            run = work / ("large.h5" if study == STUDY else f"large_{n}.h5")
            cmd = [mpirun, "-n", str(args.ranks), str(HPCBELT), "run", str(study), "-o", str(run),
                   "--overwrite", "--quiet"]
            print(f"\n[{n} members] {_load()}\n  $ {' '.join(map(str, cmd))}", flush=True)
            r = measure(cmd, work / f"run_{n}.log")
            _check(r, f"run of {n} members")
            st = os.stat(run)
            print(f"  run: {r['wall']:.1f} s wall; {run.name}: {st.st_size / 1e6:.0f} MB "
                  f"({st.st_blocks * 512 / 1e6:.0f} MB on disk); peak RSS "
                  + ", ".join(f"{lab} {mib:.0f} MiB" for lab, mib in r["ranks"]), flush=True)
            summaries = []
            for b in budgets:
                for k in agg_ranks:
                    summary = work / f"{run.stem}_summary_m{b:g}_n{k}.h5"
                    cmd = [str(HPCBELT), "aggregate", str(run), "-o", str(summary), "--quiet"]
                    if b != 256:
                        cmd += ["--memory-mb", f"{b:g}"]
                    if args.figures:
                        cmd += ["--figures", str(work / f"figs_{run.stem}_m{b:g}_n{k}")]
                    if k > 1:
                        cmd = [mpirun, "-n", str(k), *cmd]
                    print(f"  $ {' '.join(cmd)}   ({_load()})", flush=True)
                    a = measure(cmd, work / f"agg_{n}_m{b:g}_n{k}.log")
                    _check(a, f"aggregation of {n} members")
                    summaries.append(summary)
                    print(f"  aggregate ({k} rank{'s' if k > 1 else ''}, --memory-mb {b:g}): {a['wall']:.1f} s wall; "
                          f"peak RSS " + ", ".join(f"{lab} {mib:.0f} MiB" for lab, mib in a["ranks"])
                          + f"; wait4 ru_maxrss of the tree {a['tree_maxrss_mib']:.0f} MiB", flush=True)
                    rows.append({"members": n, "run_s": r["wall"], "file_mb": st.st_size / 1e6,
                                 "disk_mb": st.st_blocks * 512 / 1e6,
                                 "run_peak": max((m for _, m in r["ranks"]), default=float("nan")),
                                 "agg_ranks": k, "budget": b, "agg_s": a["wall"],
                                 "agg_peak": [m for _, m in a["ranks"]], "agg_tree": a["tree_maxrss_mib"]})
            print(f"  {same_summaries(summaries)}", flush=True)
            if not keep:                                  # free the disk before the next size
                run.unlink()
        print(f"\nend: {_load()}\n")
        head = ("| members | run s (2 ranks) | run file MB (on disk) | run peak MiB/rank | aggregate ranks "
                "| --memory-mb | aggregate s | aggregate peak MiB per rank | ru_maxrss MiB |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for w in rows:
            peaks = " / ".join(f"{m:.0f}" for m in w["agg_peak"])
            print(f"| {w['members']:,} | {w['run_s']:.1f} | {w['file_mb']:.0f} ({w['disk_mb']:.0f}) | "
                  f"{w['run_peak']:.0f} | {w['agg_ranks']} | {w['budget']:g} | {w['agg_s']:.1f} | {peaks} | "
                  f"{w['agg_tree']:.0f} |")
        for b in budgets:
            for k in agg_ranks:
                sel = [w for w in rows if w["budget"] == b and w["agg_ranks"] == k]
                if len(sel) >= 2:
                    lo, hi = sel[0], sel[-1]
                    d = max(hi["agg_peak"]) - max(lo["agg_peak"])
                    print(f"aggregation peak, {k} rank(s), --memory-mb {b:g}: {max(lo['agg_peak']):.0f} MiB at "
                          f"{lo['members']:,} members, {max(hi['agg_peak']):.0f} MiB at {hi['members']:,} "
                          f"({d:+.0f} MiB for {hi['members'] / lo['members']:.0f}x the members)")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
