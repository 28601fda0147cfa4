#!/usr/bin/env python
"""Which property of the database decides how the ensembles depend on the switching interval?

Builds every surrogate of a database (``hpcbelt dxx surrogate``, kinds in hpcbelt.dxx.surrogate),
runs the paper's study on the original and on each (``hpcbelt run`` under mpirun), aggregates
them, and prints from each summary's ``mechanism`` group: median f(30 deg) at the end of the run
over the <D(X_i, Y_i)> run with its bootstrap interval, the mean and geometric mean over it, the
decay rates (the <D> run's and the ensemble mean's under iid switching, below the gap), and the
median split of ln f into the commuting part and the rest.

Usage:  .venv/bin/python tools/mechanism_surrogates.py [--np 2] [--study inputs/watt2021.toml]
            [--database inputs/hiss_L3_0.5MeV.h5] [--workdir results/mechanism] [--set KEY=VALUE ...]
About 2-3 minutes per database on 2 ranks for the shipped study (6 databases).
On the paper-like database (issue 13):
    .venv/bin/python tools/mechanism_surrogates.py --study inputs/watt2021_paperlike.toml \
        --database inputs/hiss_L3_0.5MeV_paperlike.h5 --workdir results/mechanism_paperlike
Per-observation wave parameters (the physical sources of shape variability) are in
tools/shape_sources.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from hpcbelt.dxx.surrogate import KINDS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--np", type=int, default=2)
    p.add_argument("--study", default=str(ROOT / "inputs" / "watt2021.toml"))
    p.add_argument("--database", default=str(ROOT / "inputs" / "hiss_L3_0.5MeV.h5"))
    p.add_argument("--workdir", default=str(ROOT / "results" / "mechanism"))
    p.add_argument("--set", action="append", default=[], help="extra study overrides")
    p.add_argument("--kinds", default=",".join(KINDS))
    args = p.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    exe = [sys.executable, "-m", "hpcbelt"]

    def call(cmd):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"mechanism_surrogates: {' '.join(map(str, cmd))} failed:\n{r.stderr}")

    rows = []
    for kind in ["original", *[k for k in args.kinds.split(",") if k]]:
        db = Path(args.database).resolve() if kind == "original" else work / f"{kind}.h5"
        if kind != "original":
            call([*exe, "dxx", "surrogate", args.database, "-o", db, "--kind", kind, "--overwrite", "--quiet"])
        run, summary = work / f"run_{kind}.h5", work / f"summary_{kind}.h5"
        sets = [x for s in [f'database.path="{db}"', *args.set] for x in ("--set", s)]
        call(["mpirun", "-n", str(args.np), *exe, "run", args.study, "-o", run, "--overwrite", "--quiet", *sets])
        call([*exe, "aggregate", run, "-o", summary, "--overwrite", "--bootstrap", "200", "--quiet"])
        rows.append((kind, summary))
    print_table(rows)
    return 0


def print_table(rows) -> None:
    import h5py
    import numpy as np

    print("| database | <D> rate /day | experiment | median / <D> [95 % CI] | mean / <D> | geo. mean / <D> "
          "| rate of the mean /day | commuting, median | rest, median |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, path in rows:
        with h5py.File(path) as h5:
            g = h5["mechanism"]
            if not g.attrs["available"]:
                print(f"| {kind} | {g.attrs['reason']} |")
                continue
            ia = int(np.argmin(np.abs(h5["alpha_deg"][()] - g.attrs["alpha_deg"])))
            ref = h5[f"{g.attrs['reference_experiment']}/f/median"][-1, ia]
            for name in g:
                e = g[name]
                if "rate_of_mean_propagator_per_day" not in e.attrs:
                    continue
                b = h5[f"{name}/bootstrap"]
                print(f"| {kind} | {g.attrs['rate_mean_profile_per_day']:.4g} | {name} | "
                      f"{e['f_median_over_reference'][-1]:.3g} [{b['median_ci_low'][-1] / ref:.3g}, "
                      f"{b['median_ci_high'][-1] / ref:.3g}] | {e['f_mean_over_reference'][-1]:.3g} | "
                      f"{e['f_geometric_mean_over_reference'][-1]:.3g} | "
                      f"{e.attrs['rate_of_mean_propagator_per_day']:.4g} | {e['commuting/median'][-1]:.3g} | "
                      f"{e['rest/median'][-1]:.3g} |")


if __name__ == "__main__":
    sys.exit(main())
