"""The in-process API: load, run, restart and aggregate studies and build databases from Python.

The ``hpcbelt`` command is a thin layer over these functions (``hpcbelt run`` calls
:func:`load_study` and :func:`run`; ``hpcbelt aggregate`` and :func:`aggregate`, ``hpcbelt dxx
build`` and :func:`build_database` parse the same options and call the same code), so a call
writes the same files, refuses the same inputs with the same one-line
:class:`~hpcbelt.errors.InputError` and stops the same way (:class:`~hpcbelt.errors.RunInterrupted`)
as the command.  Every name here is also an attribute of the package: ``hpcbelt.load_study``,
``hpcbelt.run``, ``hpcbelt.restart``, ``hpcbelt.aggregate``, ``hpcbelt.build_database``.

Example
-------
>>> import hpcbelt                                                          # doctest: +SKIP
>>> study = hpcbelt.load_study("inputs/watt2021.toml",
...                            overrides={"time.duration_days": 2, "grid.dalpha_deg": 5.0})
>>> path = hpcbelt.run(study, "watt2021.h5", overwrite=True)
>>> summary = hpcbelt.aggregate(path, figures="figures")
>>> tree = hpcbelt.open_summary(summary)

Communicators
-------------
``comm=None`` means ``MPI.COMM_WORLD``, as for the command line: a plain ``python`` process is
a world of one rank (serial), and under ``mpirun -n N python script.py`` every rank calls the
function and the N ranks share the work.  Any other communicator (e.g. one half of a
``COMM_WORLD.Split``) runs the call on its ranks only; the files are bitwise the same for any
number of ranks.  Every rank of the communicator must make the same call.  Under ``mpirun``,
run scripts as ``python -m mpi4py script.py`` so that an uncaught exception on one rank aborts
all of them instead of leaving the others waiting.

No global state
---------------
A call keeps nothing between calls: two studies run one after the other in one process write
the same files as two processes.  While :func:`run` works it catches SIGTERM, SIGUSR1 and SIGINT
(the first one stops the run between work items with the file consistent, RunInterrupted, exit
code 75; a second SIGINT interrupts at once) and restores the previous handlers when it returns.
The run file's single-writer lock (``.OUT.lock``) is held only during the call.  Importing this
module sets, where unset, one BLAS/OpenMP thread per process and Open MPI's ROMIO MPI-IO
(:mod:`hpcbelt.runtime`); they take effect only if numpy and mpi4py are imported after it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

from . import runtime  # noqa: F401  (the process settings, before numpy and mpi4py)
from .errors import InputError

if TYPE_CHECKING:          # pragma: no cover
    from mpi4py import MPI

    Comm = MPI.Comm
else:
    Comm = Any

PathLike = Union[str, "os.PathLike[str]"]
Overrides = Union[Mapping[str, Any], Sequence[str], None]

__all__ = ["load_study", "run", "restart", "aggregate", "build_database"]


# ------------------------------------------------------------------------------------------
# load
# ------------------------------------------------------------------------------------------

def _override_strings(overrides: Overrides) -> list[str] | None:
    """``{"table.key": value}`` as the ``table.key=value`` strings of ``hpcbelt run --set``
    (values written as TOML), or the strings as given."""
    if overrides is None:
        return None
    if isinstance(overrides, (str, bytes)):
        raise TypeError("overrides: expected a mapping {'table.key': value} or a list of "
                        f"'table.key=value' strings, got the string {overrides!r}")
    if isinstance(overrides, Mapping):
        from .config import to_toml

        out = []
        for dotted, value in overrides.items():
            if not isinstance(dotted, str) or not dotted.strip():
                raise InputError(f"overrides: expected 'table.key' names, got {dotted!r}")
            # one-key document -> "v = <TOML value>": the value exactly as TOML writes it
            line = to_toml({"v": value}, f"overrides[{dotted!r}]").strip()
            if not line.startswith("v = "):
                raise InputError(f"overrides[{dotted!r}]: expected a value (number, string, boolean "
                                 f"or list), got {value!r}")
            out.append(f"{dotted}={line[4:]}")
        return out
    return [str(item) for item in overrides]


def _experiment_names(experiments) -> list[str] | None:
    if experiments is None:
        return None
    if isinstance(experiments, str):          # "a,b" as on the command line
        return [n.strip() for n in experiments.split(",") if n.strip()]
    return [str(n).strip() for n in experiments if str(n).strip()]


class _InputsWithoutStudyFile:
    """``input_files()`` of a study given as a mapping: it has no study file to checksum or to
    protect (its text is stored in the run file); its other inputs (database, initial file) are
    recorded and checked as for a file.  A class, not a closure, so the study still pickles."""

    def __init__(self, files: dict):
        self.files = dict(files)

    def __call__(self) -> dict:
        return dict(self.files)


def load_study(source: PathLike | Mapping[str, Any], overrides: Overrides = None,
               experiments: Sequence[str] | str | None = None, *, base_dir: PathLike | None = None):
    """Read, validate and derive a study, as ``hpcbelt run`` does before it starts.

    Parameters
    ----------
    source : str, os.PathLike or mapping
        A study file (TOML), or the same document as a plain ``dict`` (same keys, same schema:
        ``hpcbelt keys KIND`` lists them; ``None`` values mean an absent key; numpy values and
        tuples are accepted).
    overrides : mapping or sequence of str, optional
        Keys to change, as ``{"time.duration_days": 2, "grid.dalpha_deg": 5.0}`` or as the
        ``"table.key=value"`` strings of ``hpcbelt run --set``.  They are stored in the run file
        beside the study text, as the command line stores them.
    experiments : sequence of str or str, optional
        Run only these ``[[experiment]]`` tables (``hpcbelt run --experiments``; a string is
        split at commas).  Only for study kinds that have experiments.
    base_dir : str or os.PathLike, optional
        For a mapping: the directory its relative paths (``database.path``,
        ``initial.path``) are relative to; default the current directory.  Ignored for a file,
        whose relative paths are relative to the file's directory.

    Returns
    -------
    study
        The study object of its kind (``study.doc`` is the validated configuration with every
        default filled in, ``study.path``, ``study.text``, ``study.seed``, ``study.overrides``).
        A study given as a mapping is named ``<dict>`` (inside ``base_dir``) in messages and in
        the run file's ``study_file`` attribute, and its TOML text is its ``study_toml``.

    Raises
    ------
    InputError
        The one-line message of the command line: it names the file (``<dict>`` for a mapping)
        and the key, and says what was expected.  The same for a file and for its mapping.
    """
    from . import studies
    from .config import StudyFile

    if isinstance(source, Mapping):
        sf = StudyFile.from_mapping(source, base_dir)
        in_memory = True
    elif isinstance(source, (str, os.PathLike)):
        sf = StudyFile.read(Path(source))
        in_memory = False
    else:
        raise TypeError(f"load_study: expected a study file path or a dict, got {type(source).__name__}")
    kind = studies.kind_of_study(sf.doc, sf.path)
    extra = {}
    names = _experiment_names(experiments)
    if names is not None and (names or isinstance(experiments, str) and experiments):
        if not kind.has_experiments:
            raise InputError(f"--experiments: only studies with [[experiment]] tables can run a "
                             f"subset ({sf.path} is {kind.name})")
        extra["experiments"] = names
    study = kind.get("load")(sf, _override_strings(overrides), **extra)
    if in_memory:
        files = {k: v for k, v in study.input_files().items() if k != "study file"}
        object.__setattr__(study, "input_files", _InputsWithoutStudyFile(files))
    return study


def _kind_of(study):
    from . import studies

    doc = getattr(study, "doc", None)
    if not isinstance(doc, Mapping):
        raise TypeError(f"expected a study from hpcbelt.load_study, got {type(study).__name__}")
    return studies.kind_of_study(doc, getattr(study, "path", "study"))


def _comm(comm):
    if comm is None:
        from .parallel import world

        return world()
    return comm


# ------------------------------------------------------------------------------------------
# run / restart
# ------------------------------------------------------------------------------------------

def execute(study, output: PathLike, comm, *, overwrite: bool, restart: bool, quiet: bool,
            say_complete: bool) -> Path:
    """Run a loaded study into ``output`` on ``comm`` (all ranks): the checks, the lock and
    the run of ``hpcbelt run``, without its signal handling (the caller's).  ``say_complete``:
    print the "already complete" line even when ``quiet`` (the command line does)."""
    from . import guard, output as outmod
    from .parallel import root_decides

    kind = _kind_of(study)
    out = Path(output)
    held = []          # rank 0: the single-writer lock of OUT, from prepare() to the end of the run

    def prepare():
        guard.refuse_inputs_as_output(out, guard.study_inputs(study), flag="output")
        outmod.check_output_path(out, True)            # a directory, a missing directory, unwritable
        # the lock comes before the first look at OUT: a second writer never touches it
        lock = guard.RunLock.acquire(out)
        try:
            done = None
            if restart and out.exists():
                done = kind.get("restart_state")(study, out)
            outmod.check_output_path(out, overwrite or done is not None)
        except BaseException:
            lock.release()
            raise
        held.append(lock)
        return done

    rank = comm.Get_rank()
    try:
        done = root_decides(comm, prepare)
        if done is not None and all(d.all() for d in done.values()):
            if rank == 0 and (say_complete or not quiet):
                print(f"hpcbelt: {out} is already complete; nothing to do", file=sys.stderr)
            return out
        kind.get("run")(study, comm, out, quiet=quiet, done=done)
    finally:
        for lock in held:
            lock.release()
    if rank == 0 and not quiet:
        print(f"hpcbelt: wrote {out}", file=sys.stderr)
    return out


def run(study, output: PathLike, comm: Comm | None = None, overwrite: bool = False,
        restart: bool = False, quiet: bool = True) -> Path:
    """Run a study and write its run file, as ``hpcbelt run STUDY -o OUTPUT`` does.

    Parameters
    ----------
    study
        A study from :func:`load_study` (or a path or dict, loaded with :func:`load_study`).
    output : str or os.PathLike
        The run file (HDF5) to write.  Never one of the study's inputs; locked
        (``.OUTPUT.lock`` beside it) during the call.
    comm : mpi4py.MPI.Comm, optional
        The ranks that run it (module docstring); default ``MPI.COMM_WORLD``.  All its ranks
        call this function with the same study.
    overwrite : bool
        Replace an existing ``output`` (``--overwrite``); without it an existing file is refused.
    restart : bool
        Continue the run in ``output`` (``--restart``): finished members are kept, the rest
        computed, bitwise the same as an uninterrupted run; a new run if ``output`` does not
        exist.  Refused if ``output`` is not a run of this very study with unchanged inputs.
    quiet : bool
        No progress bar and no summary line on stderr (default).

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    InputError
        Bad input, nothing written (exit code 2 on the command line); its subclass
        :class:`~hpcbelt.output.WriteFailed` for an I/O error while writing (74).
    RunInterrupted
        SIGTERM, SIGUSR1 or SIGINT arrived: the run stopped between work items and ``output`` is
        consistent; continue it with :func:`restart` (75).
    """
    from .parallel import StopRequests

    if isinstance(study, (str, os.PathLike, Mapping)):
        study = load_study(study)
    comm = _comm(comm)
    with StopRequests():
        return execute(study, output, comm, overwrite=overwrite, restart=restart, quiet=quiet,
                       say_complete=False)


def restart(study, output: PathLike, comm: Comm | None = None, quiet: bool = True) -> Path:
    """Continue the run in ``output``: :func:`run` with ``restart=True`` (``hpcbelt run --restart``).

    Parameters
    ----------
    study
        The study the run was started with (from :func:`load_study`).
    output : str or os.PathLike
        The run file to continue; a new run is started if it does not exist.
    comm : mpi4py.MPI.Comm, optional
        Default ``MPI.COMM_WORLD``; need not have the size of the first run's.
    quiet : bool
        No progress bar and no summary line (default).

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    InputError, RunInterrupted
        As :func:`run`.
    """
    return run(study, output, comm=comm, restart=True, quiet=quiet)


# ------------------------------------------------------------------------------------------
# options of the sub-commands, from keyword arguments
# ------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """The sub-command's own parser, whose usage errors raise InputError instead of exiting."""

    def __init__(self, prog: str | None = None, **kwargs):
        kwargs.setdefault("add_help", False)
        super().__init__(prog=prog, **kwargs)

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _option_text(value: Any) -> str:
    """The command-line text of an option value: numbers and strings as written, sequences
    (and numpy arrays) comma-separated; TypeError for anything else."""
    if hasattr(value, "tolist") and not isinstance(value, (int, float)):
        value = value.tolist()                     # numpy arrays and scalars
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (list, tuple)) and value:
        return ",".join(_option_text(v) for v in value)
    raise TypeError


def _argv_from_options(parser, options: Mapping[str, Any], func: str) -> list[str]:
    """The command-line flags that set the ``dest`` of each option to its value."""
    by_dest = {a.dest: a for a in parser._actions if a.option_strings}
    argv = []
    for dest, value in options.items():
        action = by_dest.get(dest)
        if action is None:
            known = ", ".join(sorted(d for d in by_dest if d != "help"))
            raise TypeError(f"{func}() got an unexpected keyword argument {dest!r} (options: {known})")
        flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]
        if value is None:
            continue
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if not isinstance(value, bool):
                raise TypeError(f"{func}(): {dest} expects True or False, got {value!r}")
            if value != action.default:
                argv.append(flag)
            continue
        if isinstance(action, argparse._AppendAction):
            values = [value] if isinstance(value, str) else list(value)
        else:
            values = [value]
        for v in values:
            try:
                argv.append(f"{flag}={_option_text(v)}")
            except TypeError:
                raise TypeError(f"{func}(): {dest}: expected a number, string or list of numbers, "
                                f"got {v!r}") from None
    return argv


# ------------------------------------------------------------------------------------------
# aggregate
# ------------------------------------------------------------------------------------------

def aggregate(run: PathLike, output: PathLike | None = None, figures: PathLike | None = None,
              comm: Comm | None = None, overwrite: bool = False, **options) -> Path:
    """Summarise a run file (ensemble statistics, PDFs, figures, a Markdown report), as
    ``hpcbelt aggregate RUN`` does.

    Parameters
    ----------
    run : str or os.PathLike
        A run file written by :func:`run` / ``hpcbelt run`` (any study kind).
    output : str or os.PathLike, optional
        The summary file (``-o``); default ``RUN_summary.h5`` beside the run.  An earlier
        summary is replaced; any other existing file needs ``overwrite``.
    figures : str or os.PathLike, optional
        Directory for PNG figures (``--figures``, created if missing); default none.
    comm : mpi4py.MPI.Comm, optional
        Default ``MPI.COMM_WORLD``; the statistics are the same for any number of ranks.
    overwrite : bool
        Replace an existing output that is not a summary.
    **options
        Every other option of ``hpcbelt aggregate``, by its argparse ``dest`` (``hpcbelt
        aggregate --help``): ``report``, ``memory_mb``, ``no_checksum``, ``skip_damaged``,
        ``quiet`` (default True here), and the options of each kind, e.g. ``alpha_deg=30``,
        ``days=(2, 10)``, ``bootstrap=0``, ``subsets=0`` (pitch angle), ``hours=...`` (drift).
        Lists may be given as sequences or as the comma-separated text of the command line.

    Returns
    -------
    pathlib.Path
        The summary file; open it with :func:`hpcbelt.open_summary`.

    Raises
    ------
    InputError
        The command line's message: a file that is no run file, a run being written, an
        output that is one of the inputs, a malformed option value.
    TypeError
        An option name that ``hpcbelt aggregate`` does not have.
    """
    from .aggregate import cli as aggregate_cli

    parser = _Parser("hpcbelt aggregate")
    aggregate_cli.add_arguments(parser)
    options = dict(options)
    options.setdefault("quiet", True)
    given = {"output": output, "figures": figures, "overwrite": overwrite, **options}
    argv = _argv_from_options(parser, given, "aggregate") + ["--", os.fspath(run)]
    args = parser.parse_args(argv)
    outs = aggregate_cli.aggregate_args(args, _comm(comm))
    return Path(outs.summary)


# ------------------------------------------------------------------------------------------
# build a database
# ------------------------------------------------------------------------------------------

def _dotted_items(doc: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in doc.items():
        if isinstance(v, Mapping):
            out.extend(_dotted_items(v, f"{prefix}{k}."))
        elif v is not None:
            out.append((f"{prefix}{k}", v))
    return out


def build_database(output: PathLike, config: PathLike | Mapping[str, Any] | None = None,
                   overrides: Mapping[str, Any] | Sequence[str] | None = None,
                   pairs: PathLike | None = None, comm: Comm | None = None,
                   overwrite: bool = False, quiet: bool = True) -> Path:
    """Compute a diffusion-coefficient database, as ``hpcbelt dxx build -o OUTPUT`` does.

    Parameters
    ----------
    output : str or os.PathLike
        The database file (HDF5) to write.
    config : str, os.PathLike or mapping, optional
        The settings (``hpcbelt dxx keys`` lists them): a TOML file as ``--config``, or the same
        document as a dict (given to the build as ``--set`` items, so the database's provenance
        command regenerates it).
    overrides : mapping or sequence of str, optional
        Settings that take precedence over ``config``: ``{"synthetic.n_profiles": 50}`` or
        ``"key=value"`` strings (``--set``).
    pairs : str or os.PathLike, optional
        CSV of observations (columns X, Y[, B_eq_nT]) instead of the synthetic generator.
    comm : mpi4py.MPI.Comm, optional
        Default ``MPI.COMM_WORLD``; the database is the same bytes for any number of ranks.
    overwrite : bool
        Replace an existing ``output``.
    quiet : bool
        No progress messages (default).

    Returns
    -------
    pathlib.Path
        ``output``; load it with :func:`hpcbelt.daa_database.load`.

    Raises
    ------
    InputError
        The command line's message (an unknown setting names the key and the file).
    """
    from .dxx import cli as dxx_cli

    argv = [f"--output={os.fspath(output)}"]
    if isinstance(config, Mapping):
        argv += [f"--set={item}" for item in _override_strings(dict(_dotted_items(config)))]
    elif config is not None:
        argv.append(f"--config={os.fspath(config)}")
    if pairs is not None:
        argv.append(f"--pairs={os.fspath(pairs)}")
    argv += [f"--set={item}" for item in (_override_strings(overrides) or [])]
    if overwrite:
        argv.append("--overwrite")
    if quiet:
        argv.append("--quiet")
    parser = _Parser("hpcbelt dxx")
    dxx_cli.add_commands(parser)
    args = parser.parse_args(["build", *argv])
    args._argv = argv                       # the provenance's regenerate command
    dxx_cli.cmd_build(args, comm=comm)      # comm None: MPI.COMM_WORLD
    return Path(output)
