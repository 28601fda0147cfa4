"""Render the Slurm templates in ``jobs/`` and submit a run -> aggregate chain.

    hpcbelt submit STUDY.toml [STUDY ...] [-n NTASKS] [--nodes N] [--ntasks-per-node M]
                   [--time T] [--out-dir DIR] [--split-experiments] [--site jobs/site.toml] [--dry-run]

One study becomes one resumable batch job (``run_study.sbatch``); several studies, or one
study with ``--split-experiments``, become a job array (``array_studies.sbatch``, one study
or experiment per task).  An aggregation job (``aggregate.sbatch``) follows with
``--dependency=afterok`` unless ``--no-aggregate``.  Job ids are printed one per line as
``run <id>`` and ``aggregate <id>``; ``--dry-run`` prints the rendered scripts and the sbatch
commands instead of submitting.  ``--nodes N`` (and ``--ntasks-per-node M``) spread a run's
ranks over N nodes (the site launcher, ``srun --mpi=pmix`` by default, starts them there); without
them Slurm places the tasks as it likes.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..config import Key, validate
from ..errors import InputError

REPO = Path(__file__).resolve().parents[2]
JOBS_DIR = REPO / "jobs"

SITE_SCHEMA = {
    "sbatch": {
        "partition": Key("str", "", doc="--partition (empty: cluster default)"),
        "account": Key("str", "", doc="--account (empty: your default)"),
        "qos": Key("str", "", doc="--qos (empty: default)"),
        "extra": Key("list_of_str", [], doc="further sbatch options"),
    },
    "environment": {
        "setup": Key("str", "", doc="shell lines run at the top of every job ({repo} = checkout)"),
        "launcher": Key("str", "srun --mpi=pmix", doc="MPI launcher inside jobs"),
    },
}


@dataclass
class Site:
    sbatch_options: list[str]
    setup: str
    launcher: str


def load_site(path: Path) -> Site:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"site file {path}: not found (see jobs/site.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"site file {path}: not valid TOML ({exc})") from None
    doc = validate(raw, SITE_SCHEMA, str(path))
    opts = []
    for key in ("partition", "account", "qos"):
        if doc["sbatch"][key]:
            opts.append(f"--{key}={doc['sbatch'][key]}")
    opts.extend(doc["sbatch"]["extra"])
    setup = doc["environment"]["setup"].replace("{repo}", str(REPO)).strip()
    return Site(opts, setup, doc["environment"]["launcher"].strip())


def slurm_minutes(text: str) -> float:
    """A Slurm --time value in minutes ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S")."""
    try:
        days, _, rest = text.rpartition("-") if "-" in text else ("0", "", text)
        parts = [float(x) for x in rest.split(":")]
        d = float(days)
        if "-" in text:
            h, m, sec = (parts + [0, 0])[:3]
            return d * 1440 + h * 60 + m + sec / 60
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            return parts[0] + parts[1] / 60
        if len(parts) == 3:
            return parts[0] * 60 + parts[1] + parts[2] / 60
    except ValueError:
        pass
    raise InputError(f"--time {text!r}: expected a Slurm time (minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S)")


# slurmctld checks time limits about every 30 s and sends the --signal warning at the first check
# that finds less than (lead + that interval) left: a lead this close to the limit fires at once
SLURM_CHECK_S = 30


def task_layout(ntasks: int | None, nodes: int | None, per_node: int | None) -> tuple[int, str]:
    """The run's task count and the ``#SBATCH`` lines that place its tasks on nodes.

    ``-n`` alone (default 2): Slurm places the tasks.  ``--nodes N``: exactly N nodes, the tasks
    spread over them (``-n`` defaults to one task per node).  ``--ntasks-per-node M``: M tasks on
    every node (``-n`` defaults to N*M and, if given, must equal it).
    """
    for flag, v in (("--ntasks", ntasks), ("--nodes", nodes), ("--ntasks-per-node", per_node)):
        if v is not None and v < 1:
            raise InputError(f"{flag} {v}: must be at least 1")
    if per_node is not None and nodes is None:
        nodes = 1 if ntasks is None else -(-ntasks // per_node)
    if nodes is None:
        return (2 if ntasks is None else ntasks), ("# (nodes: where Slurm puts the tasks; "
                                                   "hpcbelt submit --nodes N to choose)")
    if per_node is not None:
        if ntasks is not None and ntasks != nodes * per_node:
            raise InputError(f"--ntasks {ntasks}: with --nodes {nodes} and --ntasks-per-node {per_node} "
                             f"the run has {nodes * per_node} tasks; give -n {nodes * per_node} or leave it out")
        ntasks = nodes * per_node
    elif ntasks is None:
        ntasks = nodes
    if ntasks < nodes:
        raise InputError(f"--ntasks {ntasks}: fewer tasks than --nodes {nodes}; every node needs one")
    lines = [f"#SBATCH --nodes={nodes}".ljust(39) + "# nodes the ranks are spread over"]
    if per_node is not None:
        lines.append(f"#SBATCH --ntasks-per-node={per_node}".ljust(39) + "# MPI ranks on each node")
    return ntasks, "\n".join(lines)


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``@@KEY@@`` placeholders; an unfilled placeholder is a bug in the caller."""
    text = (JOBS_DIR / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@@{k}@@", v)
    if "@@" in text.replace("@@@", ""):
        left = text[text.index("@@"):].split("\n")[0]
        raise RuntimeError(f"template {template}: unfilled placeholder in {left!r}")
    return text


def _sbatch(script: Path, options: list[str], dry_run: bool) -> str:
    cmd = ["sbatch", "--parsable", *options, str(script)]
    if dry_run:
        print("$ " + shlex.join(cmd))
        return "<id>"
    if shutil.which("sbatch") is None:
        raise InputError("sbatch not found: run on a Slurm login node (or tools/slurm_local.sh start)")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise InputError(f"sbatch {script.name} failed: {r.stderr.strip()}")
    return r.stdout.strip().split(";")[0]


def _checked_study(path: Path):
    """Read a study and find its kind through the registry before anything is queued (a file
    that is not TOML, or of an unknown kind, fails here rather than in the queue).  The full
    validation runs in the job, where the inputs it names (databases) must exist."""
    from .. import studies as registry
    from ..config import StudyFile

    source = StudyFile.read(path)
    return source, registry.kind_of_study(source.doc, path)


def submit(studies: list[Path], ntasks: int | None, time: str, out_dir: Path, site: Site,
           split_experiments: bool = False, aggregate: bool = True, dry_run: bool = False,
           signal_s: int = 60, max_requeues: int = 20, agg_time: str = "1:00:00",
           run_args: list[str] | None = None, nodes: int | None = None,
           ntasks_per_node: int | None = None) -> dict[str, str]:
    """Render and submit; returns {"run": id, "aggregate": id}.  ``ntasks`` None: 2, or as
    ``nodes`` and ``ntasks_per_node`` imply (:func:`task_layout`)."""
    ntasks, node_lines = task_layout(ntasks, nodes, ntasks_per_node)
    sources = []
    for s in studies:
        if not s.is_file():
            raise InputError(f"study {s}: file not found")
        sources.append(_checked_study(s))
    limit_s = slurm_minutes(time) * 60
    if signal_s + SLURM_CHECK_S >= limit_s:
        raise InputError(f"--signal-lead {signal_s}: with --time {time} ({limit_s:g} s) Slurm would send the "
                         f"checkpoint signal at once (it checks limits every ~{SLURM_CHECK_S} s); use a lead "
                         f"below {limit_s - SLURM_CHECK_S:g} s or a longer --time")
    out_dir = out_dir.resolve()
    scripts = out_dir / "slurm"
    if not dry_run:
        scripts.mkdir(parents=True, exist_ok=True)
    run_args = list(run_args or [])

    # one line per task: study, output file, extra options
    lines: list[str] = []
    if split_experiments:
        if len(studies) != 1:
            raise InputError("--split-experiments takes exactly one study")
        source, kind = sources[0]
        if not kind.has_experiments:
            raise InputError(f"--split-experiments: study {studies[0]} is of kind {kind.name!r}, which has no "
                             "[[experiment]] tables")
        names = [e.get("name") for e in source.doc.get("experiment", [])]
        if not names:
            raise InputError(f"study {studies[0]}: no [[experiment]] tables to split")
        for n in names:
            out = out_dir / f"{studies[0].stem}_{n}.h5"
            lines.append(shlex.join([str(studies[0].resolve()), str(out), "--experiments", n, *run_args]))
    else:
        for s in studies:
            lines.append(shlex.join([str(s.resolve()), str(out_dir / f"{s.stem}.h5"), *run_args]))
    name = studies[0].stem if len(studies) == 1 else "hpcbelt-array"
    list_file = scripts / f"{name}.list"
    common = {
        "NTASKS": str(ntasks), "NODE_LINES": node_lines, "TIME": time, "SIGNAL_S": str(signal_s), "SETUP": site.setup,
        "JOBS_DIR": shlex.quote(str(JOBS_DIR)), "LAUNCHER": site.launcher,
        "MAX_REQUEUES": str(max_requeues), "LIST": shlex.quote(str(list_file)),
    }
    if len(lines) == 1 and not split_experiments:
        study, out, *rest = shlex.split(lines[0])
        text = render("run_study.sbatch", {**common, "NAME": f"hpcbelt-{name}",
                                           "LOG": str(scripts / f"{name}-%j.log"),
                                           "STUDY": shlex.quote(study), "OUT": shlex.quote(out),
                                           "RUN_ARGS": shlex.join(rest)})
        run_script = scripts / f"{name}.sbatch"
    else:
        text = render("array_studies.sbatch", {**common, "NAME": f"hpcbelt-{name}",
                                               "ARRAY": f"0-{len(lines) - 1}",
                                               "LOG": str(scripts / f"{name}-%A_%a.log")})
        run_script = scripts / f"{name}-array.sbatch"
    agg_text = render("aggregate.sbatch", {**common, "NAME": f"hpcbelt-agg-{name}", "NTASKS": "1",
                                           "NODE_LINES": "#SBATCH --nodes=1".ljust(39) + "# one node",
                                           "TIME": agg_time, "LOG": str(scripts / f"{name}-aggregate-%j.log")})
    agg_script = scripts / f"{name}-aggregate.sbatch"

    if dry_run:
        print(f"# {list_file}\n" + "\n".join(lines) + "\n")
        print(f"# {run_script}\n{text}")
        if aggregate:
            print(f"# {agg_script}\n{agg_text}")
    else:
        list_file.write_text("\n".join(lines) + "\n")
        run_script.write_text(text)
        agg_script.write_text(agg_text)
    ids = {"run": _sbatch(run_script, site.sbatch_options, dry_run)}
    if aggregate:
        ids["aggregate"] = _sbatch(agg_script, [*site.sbatch_options, f"--dependency=afterok:{ids['run']}"],
                                   dry_run)
    return ids
