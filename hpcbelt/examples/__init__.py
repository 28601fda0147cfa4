"""The shipped examples: the studies of ``inputs/`` and the default database, as package data.

    hpcbelt examples list                          name, title and files of every example
    hpcbelt examples copy NAME DIR [--overwrite]   write a runnable copy of example NAME into DIR

An example is a study file together with every file it reads (the default database
``hiss_L3_0.5MeV.h5``, which the studies name relative to the study file), so the copy in DIR
runs as it is, from any working directory: ``mpirun -n 2 hpcbelt run DIR/watt2021.toml``.

Where the files live: the repository's ``inputs/`` stays the one copy (``inputs/...`` paths are
a user contract: README, Makefile, job templates and tests name them).  ``hpcbelt/examples/data/``
holds relative symbolic links to those files; setuptools follows them when it builds a wheel (the
wheel carries the contents, declared as package data in pyproject.toml), and an editable install
reads through them.  The files are found with :mod:`importlib.resources`, so the same code works
from the repository and from an installed wheel.

Bad input raises :class:`~hpcbelt.errors.InputError` (one line, exit code 2) and leaves nothing
behind: the files are written under temporary names in DIR and renamed into place only when all
of them are complete.  Nothing here imports MPI, HDF5 or numba.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

#: the package (directory) that holds the example files
DATA_PACKAGE = "hpcbelt.examples"
DATA_DIR = "data"

DATABASE = "hiss_L3_0.5MeV.h5"


@dataclass(frozen=True)
class Example:
    """One shipped example: ``files[0]`` is the study (or configuration) file, the others are
    what it reads, copied beside it under the same names."""

    name: str
    title: str
    files: tuple[str, ...]
    run: str            # how to run the copy; ``{dir}`` is the directory it was copied to

    @property
    def study(self) -> str:
        return self.files[0]

    def command(self, directory: str | os.PathLike) -> str:
        import shlex

        return self.run.format(dir=shlex.quote(str(directory)))


EXAMPLES: tuple[Example, ...] = (
    Example("watt2021", "Watt et al. (2021) stochastic hiss pitch-angle diffusion, L = 3, 0.5 MeV, 30 days",
            ("watt2021.toml", DATABASE),
            "mpirun -n 2 hpcbelt run {dir}/watt2021.toml -o watt2021.h5"),
    Example("dt_sweep", "dt sweep of the stochastic hiss parameterisation: dt from 10 s to 5 days",
            ("dt_sweep.toml", DATABASE),
            "mpirun -n 2 hpcbelt run {dir}/dt_sweep.toml -o dt_sweep.h5"),
    Example("large_ensemble", "Large ensemble: 10,000 members, D redrawn every 2 min, 2 days (0.7 GB output)",
            ("large_ensemble.toml", DATABASE),
            "mpirun -n 2 hpcbelt run {dir}/large_ensemble.toml -o large.h5"),
    Example("lejosne2023", "Lejosne & Albert (2023): drift-diffusion, radial diffusion and test particles",
            ("lejosne2023.toml",),
            "mpirun -n 2 hpcbelt run {dir}/lejosne2023.toml -o lejosne2023.h5"),
    Example("lejosne2023_energies", "Lejosne & Albert (2023) beyond T << drift period: the energy scan, 50 keV to "
            "3 MeV, particles, PDE and measured D_LL (10 min on 2 cores, 4 GB output)",
            ("lejosne2023_energies.toml",),
            "mpirun -n 2 hpcbelt run {dir}/lejosne2023_energies.toml -o energies.h5 && "
            "hpcbelt aggregate-energies energies.h5 --figures energies_figures"),
    Example("watt2021_paperlike", "Watt et al. (2021) on the paper-like database (per-observation hiss peak "
            "frequency), 30 days",
            ("watt2021_paperlike.toml", "hiss_L3_0.5MeV_paperlike.h5"),
            "mpirun -n 2 hpcbelt run {dir}/watt2021_paperlike.toml -o watt2021_paperlike.h5"),
    Example("hiss_database", "The default hiss D_aa database and the configuration that rebuilds it bit for bit",
            ("hiss_L3_0.5MeV.toml", DATABASE),
            "mpirun -n 2 hpcbelt dxx build --config {dir}/hiss_L3_0.5MeV.toml -o hiss_rebuilt.h5"),
)


def list_examples() -> tuple[Example, ...]:
    """Every shipped example, in catalogue order."""
    return EXAMPLES


def names() -> list[str]:
    return [e.name for e in EXAMPLES]


def get_example(name: str) -> Example:
    """The example called ``name``; InputError naming the known ones otherwise."""
    for e in EXAMPLES:
        if e.name == name:
            return e
    raise InputError(f"unknown example {name!r}; the examples are: {', '.join(names())} "
                     "(hpcbelt examples list)")


def example_file(filename: str):
    """The shipped file ``filename`` as an :mod:`importlib.resources` Traversable."""
    from importlib import resources

    return resources.files(DATA_PACKAGE).joinpath(DATA_DIR, filename)


def file_size(filename: str) -> int | None:
    """Bytes of a shipped file (None when the installation lacks it)."""
    f = example_file(filename)
    try:
        if isinstance(f, Path):
            return f.stat().st_size
        with f.open("rb") as fh:
            return len(fh.read())
    except OSError:
        return None


def _sources(example: Example) -> dict:
    out = {}
    for name in example.files:
        f = example_file(name)
        if not f.is_file():
            raise InputError(f"example {example.name}: {name} is missing from this hpcbelt installation "
                             f"({f}); reinstall hpcbelt")
        out[name] = f
    return out


def _same_file(a: Path, source) -> bool:
    if not isinstance(source, Path):
        return False
    try:
        return os.path.samefile(a, source)
    except OSError:
        return False


def _make_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents; the ones created, outermost first."""
    missing = []
    d = directory
    while not d.exists() and not d.is_symlink():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    if missing and not d.is_dir():
        raise InputError(f"{directory}: cannot create the directory: {d} is not a directory")
    created = []
    try:
        for m in reversed(missing):
            m.mkdir()
            created.append(m)
    except OSError as exc:
        _remove_dirs(created)
        raise InputError(f"{directory}: cannot create the directory: {exc.strerror or exc}") from None
    return created


def _remove_dirs(created: list[Path]) -> None:
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


def copy_example(name: str, directory: str | os.PathLike, overwrite: bool = False) -> list[Path]:
    """Write example ``name`` into ``directory`` (created if missing); the paths written.

    Refused (InputError, nothing written) for an unknown name, a ``directory`` that is a file
    or cannot be created or written, and -- unless ``overwrite`` -- a ``directory`` that already
    holds one of the example's files.  Never replaces the shipped files themselves.
    """
    example = get_example(name)
    sources = _sources(example)
    dest = Path(directory)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: exists and is not a directory")
    targets = {f: dest / f for f in example.files}
    present = [f for f, t in targets.items() if t.exists() or t.is_symlink()]
    for f in present:
        t = targets[f]
        if t.is_dir() and not t.is_symlink():
            raise InputError(f"{t}: is a directory; example {name} needs a file of that name there")
        if _same_file(t, sources[f]):
            raise InputError(f"{t}: is the shipped file of example {name} itself; copy to another directory")
    if present and not overwrite:
        raise InputError(f"{dest}: already holds {', '.join(present)} of example {name}; "
                         "use --overwrite to replace them")

    created = _make_dirs(dest)
    partial: list[Path] = []          # complete or not, under temporary names
    try:
        for f, src in sources.items():
            tmp = dest / f".{f}.{secrets.token_hex(4)}.part"
            # O_EXCL: never through an existing name; mode 0o666 less the umask, like cp
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            partial.append(tmp)
            with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
        for tmp, f in zip(partial, sources):
            os.replace(tmp, targets[f])
    except OSError as exc:
        for tmp in partial:
            try:
                tmp.unlink()
            except OSError:
                pass
        _remove_dirs(created)
        raise InputError(f"{dest}: cannot write example {name} there: {exc.strerror or exc}") from None
    return [targets[f] for f in example.files]
