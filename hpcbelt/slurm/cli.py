"""``hpcbelt submit``: render the Slurm templates and submit the chain (see submit.py)."""

from __future__ import annotations

from pathlib import Path

from . import submit as sub


def register(subparsers) -> None:
    p = subparsers.add_parser("submit", help="submit studies to Slurm (run job or array, then aggregation)",
                              description=sub.__doc__.split("\n\n")[0])
    p.add_argument("studies", nargs="+", type=Path, help="study files (several: one array task each)")
    p.add_argument("-n", "--ntasks", type=int, default=None,
                   help="MPI tasks per run (default 2, or as --nodes and --ntasks-per-node imply)")
    p.add_argument("--nodes", type=int, default=None, metavar="N",
                   help="spread each run over exactly N nodes (default: where Slurm puts the tasks)")
    p.add_argument("--ntasks-per-node", type=int, default=None, metavar="M",
                   help="M MPI tasks on each node (-n then defaults to N*M)")
    p.add_argument("--time", default="1:00:00", help="time limit per run job, Slurm syntax (default 1:00:00)")
    p.add_argument("--out-dir", type=Path, default=Path("results"), help="where run files, logs and scripts go")
    p.add_argument("--split-experiments", action="store_true",
                   help="one array task per [[experiment]] of a single study")
    p.add_argument("--site", type=Path, default=sub.JOBS_DIR / "site.toml", help="site settings (jobs/site.toml)")
    p.add_argument("--signal-lead", type=int, default=60, metavar="S",
                   help="seconds before the limit at which the run is asked to checkpoint (default 60)")
    p.add_argument("--max-requeues", type=int, default=20, help="requeue a run at most this often")
    p.add_argument("--no-aggregate", action="store_true", help="do not submit the aggregation job")
    p.add_argument("--dry-run", action="store_true", help="print the scripts and sbatch commands only")
    p.set_defaults(func=main)


def main(args) -> int:
    site = sub.load_site(args.site)
    ids = sub.submit(args.studies, args.ntasks, args.time, args.out_dir, site,
                     split_experiments=args.split_experiments, aggregate=not args.no_aggregate,
                     dry_run=args.dry_run, signal_s=args.signal_lead, max_requeues=args.max_requeues,
                     nodes=args.nodes, ntasks_per_node=args.ntasks_per_node)
    for k, v in ids.items():
        print(f"{k} {v}")
    return 0
