"""Sphinx extension of the hpcbelt documentation: pages generated from the code at build time.

Nothing in these pages is typed by hand, so they cannot drift from the code:

``.. hpcbelt-keys:: KIND``
    every key of a study kind's schema (``hpcbelt.studies.get(KIND).schema``, what
    ``hpcbelt keys KIND`` prints) as a table: dotted key, type, default, unit, allowed values,
    description.  ``KIND`` may also be ``dxx`` (:func:`hpcbelt.dxx.config.full_schema`, what
    ``hpcbelt dxx keys`` prints).

``.. hpcbelt-datasets:: daa_database``
    the database format's dataset table (:data:`hpcbelt.daa_database.DATASETS`).

``.. hpcbelt-layout:: WHICH``
    the layout of a run or summary file (``pitch_angle_run``, ``pitch_angle_summary``,
    ``drift_run``, ``drift_summary``): the layout modules keep their names in code, not in a
    table, so a tiny study of each kind is run (and aggregated) once per build with the real
    ``hpcbelt`` command, and the files are walked with h5py: every group and dataset with its
    shape (named by its dimension scales), type, ``units`` and ``description`` attributes, and
    the attributes of every group.  The runs are cached under ``_build/layout_runs/<key>``,
    keyed by the sha256 of the package sources and of the tiny studies, so a warm build reuses
    them and any change to the code makes them again.

The README is split into the pages of the user guide at ``builder-inited`` (one page per
``##`` section, written to ``guide/``, gitignored; a page is rewritten only when its text
changes, so warm builds stay incremental).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging

LOG = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GUIDE_DIR = DOCS / "guide"

# ------------------------------------------------------------------------------------------
# Tables as docutils nodes (text is never parsed as reStructuredText: no escaping needed)
# ------------------------------------------------------------------------------------------


def _cell(value, literal=False):
    entry = nodes.entry()
    para = nodes.paragraph()
    text = "" if value is None else str(value)
    if literal and text:
        para += nodes.literal(text=text)
    else:
        para += nodes.Text(text)
    entry += para
    return entry


def make_table(headers, rows, widths, literal_columns=(0,), classes=("hpcbelt-table",)):
    """A docutils table: ``rows`` of plain strings, ``literal_columns`` shown as code."""
    table = nodes.table(classes=list(classes))
    group = nodes.tgroup(cols=len(headers))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    row = nodes.row()
    for h in headers:
        row += _cell(h)
    head += row
    group += head
    body = nodes.tbody()
    for r in rows:
        row = nodes.row()
        for i, value in enumerate(r):
            row += _cell(value, literal=i in literal_columns)
        body += row
    group += body
    return table


# ------------------------------------------------------------------------------------------
# Study keys from the schema
# ------------------------------------------------------------------------------------------


def key_rows(schema, prefix=""):
    """One row per key of a :mod:`hpcbelt.config` schema, in schema order.

    Columns: dotted key, type, default, unit, allowed values, description.  An array of tables
    (``[[experiment]]``) gets a row of its own and its keys are written ``experiment[].name``,
    as ``hpcbelt keys`` writes them.
    """
    from hpcbelt.config import _KIND_NAMES, REQUIRED, Key, TableList

    rows = []
    for name, spec in schema.items():
        if isinstance(spec, Key):
            if spec.default is REQUIRED:
                default = "unset (optional)" if spec.optional else "required"
            else:
                default = repr(spec.default)
            choices = ", ".join(repr(c) for c in spec.choices)
            rows.append((f"{prefix}{name}", _KIND_NAMES.get(spec.kind, spec.kind), default,
                         spec.unit, choices, spec.doc))
        elif isinstance(spec, TableList):
            rows.append((f"[[{prefix}{name}]]", "array of tables",
                         f"at least {spec.min_items}", "", "", spec.doc))
            rows.extend(key_rows(spec.schema, f"{prefix}{name}[]."))
        else:
            rows.extend(key_rows(spec, f"{prefix}{name}."))
    return rows


def schema_of(kind: str):
    if kind == "dxx":
        from hpcbelt.dxx.cli import build_schema

        return build_schema()           # with [variability], as ``hpcbelt dxx keys`` prints it
    from hpcbelt import studies

    return studies.get(kind).get("schema")


class KeysDirective(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        rows = key_rows(schema_of(self.arguments[0]))
        return [make_table(("key", "type", "default", "unit", "allowed", "description"), rows,
                           (22, 10, 10, 8, 12, 38))]


# ------------------------------------------------------------------------------------------
# The database format
# ------------------------------------------------------------------------------------------


class DatasetsDirective(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        if self.arguments[0] != "daa_database":
            raise self.error(f"unknown dataset table {self.arguments[0]!r} (known: daa_database)")
        from hpcbelt import daa_database as db

        rows = []
        for name, (units, doc) in db.DATASETS.items():
            shape = "(n_profiles,)" if name in db.COLUMNS else (
                "(n_profiles, n_alpha)" if name == "daa" else "(n_alpha,)")
            rows.append((name, shape, units, doc))
        return [make_table(("dataset", "shape", "units", "description"), rows, (18, 18, 10, 54))]


# ------------------------------------------------------------------------------------------
# Output layouts from tiny real runs
# ------------------------------------------------------------------------------------------

# Tiny studies of both kinds (seconds to run); the pitch-angle one reads the shipped database.
PITCH_ANGLE_STUDY = """\
kind = "pitch_angle"
seed = 1
title = "documentation layout run"
[physics]
L = 3.0
energy_MeV = 0.5
loss_cone_altitude_km = 100.0
[grid]
dalpha_deg = 5.0
[time]
duration_days = 1.0
output_every_s = 21600.0
[database]
path = "hiss_L3_0.5MeV.h5"
[[experiment]]
name = "EXPERIMENT"
mode = "random"
members = 3
switch_every_s = 3600.0
[[experiment]]
name = "mean_of_profiles"
mode = "mean_of_profiles"
[[experiment]]
name = "mean_inputs"
mode = "mean_inputs"
"""

DRIFT_STUDY = """\
kind = "drift_diffusion"
seed = 1
title = "documentation layout run"
[grid]
L_min = 2.0
L_max = 6.0
dL = 0.5
n_mlt = 8
[time]
duration_h = 2.0
output_every_s = 1800.0
dt_s = 300.0
[initial]
kind = "injection"
[[probe]]
name = "L3.5_22MLT"
L_lo = 3.45
L_hi = 3.55
mlt_lo_h = 21.75
mlt_hi_h = 22.25
[radial]
enabled = true
[particles]
enabled = true
permutations = 2
per_permutation = 40
duration_h = 1.0
coarsen_L = 2
coarsen_mlt = 2
keep_positions = true
"""

# placeholders shown instead of the tiny study's own names
PLACEHOLDERS = {"pitch_angle_run": {"EXPERIMENT": "<experiment>"},
                "pitch_angle_summary": {"EXPERIMENT": "<experiment>"}}
# groups of the tiny pitch-angle run that repeat the <experiment> layout: shown once
REPEATS = {"pitch_angle_run": ("mean_of_profiles", "mean_inputs"),
           "pitch_angle_summary": ("mean_of_profiles", "mean_inputs",
                                   "snapshots/mean_of_profiles", "snapshots/mean_inputs",
                                   "mechanism/mean_of_profiles", "mechanism/mean_inputs")}
LAYOUTS = ("pitch_angle_run", "pitch_angle_summary", "drift_run", "drift_summary")


def _source_key() -> str:
    """sha256 of everything the layout runs depend on: package sources and the tiny studies."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "hpcbelt").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    h.update(PITCH_ANGLE_STUDY.encode())
    h.update(DRIFT_STUDY.encode())
    return h.hexdigest()[:16]


def _hpcbelt(*args, cwd):
    # serial runs (no launcher): MPI starts as a singleton, which Open MPI allows root only so
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "hpcbelt", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(procs, what):
    for p in procs:
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"hpcbelt docs: the layout run ({what}) failed with exit "
                               f"{p.returncode}:\n{out}\n{err}")


def make_layout_files(outdir: Path) -> dict:
    """Run and aggregate the tiny studies (both kinds side by side); the four file paths."""
    from hpcbelt.examples import copy_example

    files = {"pitch_angle_run": outdir / "pa" / "run.h5",
             "pitch_angle_summary": outdir / "pa" / "run_summary.h5",
             "drift_run": outdir / "drift" / "run.h5",
             "drift_summary": outdir / "drift" / "run_summary.h5"}
    if all(p.exists() for p in files.values()) and (outdir / "complete").exists():
        return files
    (outdir / "drift").mkdir(parents=True, exist_ok=True)
    copy_example("watt2021", outdir / "pa", overwrite=True)       # the shipped database
    (outdir / "pa" / "study.toml").write_text(PITCH_ANGLE_STUDY)
    (outdir / "drift" / "study.toml").write_text(DRIFT_STUDY)
    _wait([_hpcbelt("run", "study.toml", "-o", "run.h5", "--quiet", "--overwrite", cwd=outdir / d)
           for d in ("pa", "drift")], "run")
    _wait([_hpcbelt("aggregate", "run.h5", "-o", "run_summary.h5", "--quiet", "--overwrite",
                    "--days", "0.5,1", "--bootstrap", "20", "--subsets", "5", cwd=outdir / "pa"),
           _hpcbelt("aggregate", "run.h5", "-o", "run_summary.h5", "--quiet", "--overwrite",
                    "--hours", "0.5,1.5", cwd=outdir / "drift")], "aggregate")
    (outdir / "complete").write_text("ok\n")
    return files


def layout_files(app) -> dict:
    env = app.env
    cached = getattr(env, "hpcbelt_layout_files", None)
    if cached and all(Path(p).exists() for p in cached.values()):
        return cached
    key = _source_key()
    outdir = Path(app.outdir).parent / "layout_runs" / key
    LOG.info(f"hpcbelt docs: tiny layout runs in {outdir}")
    files = {k: str(v) for k, v in make_layout_files(outdir).items()}
    env.hpcbelt_layout_files = files
    return files


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)


def _axis_names(ds) -> list[str]:
    """Each axis named by its dimension scale (or HDF5 label), else its size in the tiny run."""
    names = []
    for i, dim in enumerate(ds.dims):
        if len(dim):
            path = dim[0].name
            base = path.rsplit("/", 1)[-1]
            # a scale named like one of the root's (particles/time_s) is given by its path
            names.append(path.lstrip("/") if path != "/" + base and base in ds.file else base)
        elif dim.label:
            names.append(dim.label)
        else:
            names.append(str(ds.shape[i]))
    return names


def walk_layout(path, rename=None, repeats=()) -> tuple[list, list]:
    """(object rows, root-attribute rows) of an HDF5 file, in the file's own order.

    Object rows: path, kind ("group", "dataset", "dimension scale"), shape, dtype, units,
    description, attribute names.  ``rename`` maps group names of the tiny study to placeholders;
    ``repeats`` are groups that repeat an already shown layout and are left out.
    """
    import h5py

    rename = rename or {}
    skip = {"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS", "units",
            "description", "_Netcdf4Dimid"}
    rows = []

    def shown(name: str) -> str:
        parts = [rename.get(p, p) for p in name.split("/")]
        return "/" + "/".join(parts)

    with h5py.File(path, "r") as h5:
        root_attrs = []
        for k in sorted(h5.attrs):
            v = h5.attrs[k]
            kind = type(v).__name__ if not hasattr(v, "dtype") else str(v.dtype)
            if isinstance(v, (bytes, str)) or kind.startswith(("|S", "<U", "object")):
                kind = "str"
            root_attrs.append((k, kind))

        def visit(name, obj):
            if any(name == r or name.startswith(r + "/") for r in repeats):
                return
            attrs = ", ".join(sorted(k for k in obj.attrs if k not in skip))
            if isinstance(obj, h5py.Group):
                rows.append((shown(name), "group", "", "", "", "", attrs))
                return
            is_scale = obj.attrs.get("CLASS", b"") in (b"DIMENSION_SCALE", "DIMENSION_SCALE")
            if obj.shape == ():
                shape = "()"
            elif is_scale and len(obj.shape) == 1:
                shape = "(" + name.rsplit("/", 1)[-1] + ")"
            else:
                shape = "(" + ", ".join(_axis_names(obj)) + ")"
            dtype = obj.dtype.str.lstrip("<>|=") if obj.dtype.kind != "S" else f"bytes ({obj.dtype.itemsize})"
            rows.append((shown(name), "dimension scale" if is_scale else "dataset", shape, dtype,
                         _text(obj.attrs.get("units", "")), _text(obj.attrs.get("description", "")),
                         attrs))

        h5.visititems(visit)
    return rows, root_attrs


class LayoutDirective(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        which = self.arguments[0]
        if which not in LAYOUTS:
            raise self.error(f"unknown layout {which!r} (known: {', '.join(LAYOUTS)})")
        app = self.state.document.settings.env.app
        path = layout_files(app)[which]
        rows, root = walk_layout(path, PLACEHOLDERS.get(which), REPEATS.get(which, ()))
        objects = make_table(("path", "kind", "shape", "dtype", "units", "description", "attributes"),
                             rows, (24, 8, 14, 6, 8, 30, 14), literal_columns=(0, 2))
        attrs = make_table(("root attribute", "type"), root, (30, 10))
        note = nodes.paragraph(text=(
            f"Generated at build time from a tiny {which.replace('_', ' ')} file written by "
            f"hpcbelt {_version()} ({len(rows)} objects). Axes are named by the dimension "
            "scales attached to them; a number is an axis without a scale, given by its size in "
            "the tiny run (fixed sizes such as the 32 bytes of a sha256 checksum, or counts "
            "that depend on the study, such as probes or segments). Objects are listed in "
            "alphabetical order of their paths."))
        return [note, objects, nodes.paragraph(text="Root attributes:"), attrs]


def _version() -> str:
    import hpcbelt

    return hpcbelt.__version__


# ------------------------------------------------------------------------------------------
# Docstrings that are not valid reStructuredText
# ------------------------------------------------------------------------------------------
# Many module docstrings of hpcbelt are plain text laid out for a terminal (indented tables of
# datasets, equations, "name  meaning" lists).  Read as reStructuredText they give docutils
# errors, which a -W build turns into failures.  Rather than weakening the build, what numpydoc
# makes of each docstring is test-parsed with docutils (numpydoc's own sections always parse);
# an indented block that docutils complains about is shown as a literal block (verbatim, which
# is how it was written), a stray |x| is escaped, and if that does not make it parse the
# docstring is shown verbatim, as written.
# Every docstring changed this way is listed in _build/docstrings_repaired.txt: fix it at the
# source (blank line and "::" before an indented block, no bare |x|) and it drops off the list.

_ROLE = re.compile(r":(?:[\w-]+:)*[\w-]+:`")
_IGNORED_MESSAGES = ("Unknown directive type", "Unknown interpreted text role", "section title",
                     "Title level inconsistent", "Title underline too short", "No role entry",
                     "No directive entry", "Duplicate explicit target name",
                     "Duplicate implicit target name", "Unknown target name")
REPAIRED: dict = {}


def _problems(lines) -> list:
    """(line index, message) of the docutils warnings and errors of ``lines`` (0-based), as
    docutils reports them (parse and transforms: undefined substitutions are found by the
    latter)."""
    import io

    from docutils.core import publish_doctree

    text = _ROLE.sub("`", "\n".join(lines))
    stream = io.StringIO()
    publish_doctree(text, source_path="docstring", settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream,
        "file_insertion_enabled": False, "raw_enabled": False})
    out = []
    for m in re.finditer(r"^docstring:(\d+): \((WARNING|ERROR|SEVERE)/\d\) (.*)$", stream.getvalue(), re.M):
        if any(s in m.group(3) for s in _IGNORED_MESSAGES):
            continue
        out.append((max(int(m.group(1)) - 1, 0), m.group(3)))
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _literal_block_at(lines: list, i: int) -> bool:
    """Make the indented block holding line ``i`` a literal block; False if it is not indented."""
    i = min(max(i, 0), len(lines) - 1)
    while i > 0 and not lines[i].strip():
        i -= 1
    if _indent(lines[i]) == 0:
        return False
    start = i
    while start > 0 and (not lines[start - 1].strip() or _indent(lines[start - 1]) > 0):
        start -= 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    # the block runs from `start` while lines are indented or blank; the paragraph before it
    prev = start - 1
    while prev >= 0 and not lines[prev].strip():
        prev -= 1
    if prev >= 0 and start - prev == 1:
        return False                  # a hanging indent, not a block: no literal block fixes it
    if prev >= 0:
        if lines[prev].rstrip().endswith("::"):
            pass
        elif lines[prev].rstrip().endswith(":"):
            lines[prev] = lines[prev].rstrip() + ":"
        else:
            lines[prev] = lines[prev].rstrip() + " ::"
        if start - prev == 1:
            lines.insert(start, "")
            start += 1
    else:
        lines.insert(0, "::")
        lines.insert(1, "")
        start += 2
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > 0):
        end += 1
    if end < len(lines) and lines[end - 1].strip():
        lines.insert(end, "")
    return True


def repair(lines: list) -> tuple[list, str | None]:
    """(lines that parse, None if unchanged / "repaired" / "verbatim")."""
    problems = _problems(lines)
    if not problems:
        return lines, None
    fixed = list(lines)
    for _ in range(40):
        if not problems:
            return fixed, "repaired"
        i, message = problems[0]
        i = min(i, len(fixed) - 1)
        if "substitution" in message.lower() or "|" in message:
            j = next((k for k in (i, i - 1, i + 1) if 0 <= k < len(fixed) and "|" in fixed[k]), None)
            if j is None:
                break
            fixed[j] = fixed[j].replace("|", r"\|")
        else:
            target = i - 1 if "unexpected unindent" in message else i
            if not (_literal_block_at(fixed, target) or _literal_block_at(fixed, i)):
                break
        problems = _problems(fixed)
    if not problems:
        return fixed, "repaired"
    return ["::", ""] + ["    " + line if line.strip() else "" for line in lines] + [""], "verbatim"


_ORIGINAL: dict = {}


def before_numpydoc(app, what, name, obj, options, lines):
    """Keep the docstring as written, to show it verbatim if what numpydoc makes of it does
    not parse."""
    _ORIGINAL[name] = list(lines)


def on_docstring(app, what, name, obj, options, lines):
    """After numpydoc (whose sections are valid reStructuredText whatever the docstring's
    free text is): test-parse the result; repair it, or show the docstring as written."""
    original = _ORIGINAL.pop(name, list(lines))
    new, status = repair(list(lines))
    if status == "verbatim":
        new = ["::", ""] + ["    " + line if line.strip() else "" for line in original] + [""]
    if status:
        lines[:] = new
        REPAIRED[name] = status
        repaired = getattr(app.env, "hpcbelt_repaired", None)
        if repaired is None:
            repaired = app.env.hpcbelt_repaired = {}
        repaired.setdefault(app.env.docname, {})[name] = status


def report_repairs(app, exception):
    if exception is not None:
        return
    path = Path(app.outdir).parent / "docstrings_repaired.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    found = {}
    for per_doc in getattr(app.env, "hpcbelt_repaired", {}).values():   # kept across warm builds
        found.update(per_doc)
    path.write_text("".join(f"{name}\t{status}\n" for name, status in sorted(found.items())))
    if found:
        LOG.info(f"hpcbelt docs: {len(found)} docstrings are not valid reStructuredText and "
                 f"were shown (partly) verbatim; listed in {path}")


def purge_repairs(app, env, docname):
    getattr(env, "hpcbelt_repaired", {}).pop(docname, None)


# ------------------------------------------------------------------------------------------
# The user guide from the README
# ------------------------------------------------------------------------------------------


def _slug(title: str) -> str:
    title = re.sub(r"\(.*?\)", "", title)
    title = re.sub(r"`[^`]*`", "", title)
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or "section"


def split_readme(text: str) -> tuple[str, list]:
    """(intro, [(slug, title, body)]): the README cut at its ``##`` headings, outside code blocks."""
    intro, sections, current = [], [], None
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            title = line[3:].strip()
            current = [_slug(title), title, []]
            sections.append(current)
            continue
        if current is None:
            if not line.startswith("# "):
                intro.append(line)
        else:
            current[2].append(line)
    out, seen = [], set()
    for slug, title, body in sections:
        while slug in seen:
            slug += "_"
        seen.add(slug)
        while body and not body[0].strip():        # blank lines only: an indented code block
            body = body[1:]                          # may open a section
        while body and not body[-1].strip():
            body = body[:-1]
        out.append((slug, title, "\n".join(body) + "\n"))
    return "\n".join(intro).strip() + "\n", out


def _fix_links(body: str) -> str:
    """README paths are relative to the repository root; the guide pages live in docs/guide/."""
    body = body.replace("](docs/architecture.md)", "](../architecture.md)")
    body = re.sub(r"\]\(docs/figures/", "](../figures/", body)
    # the remaining headings move up one level (### -> ##): a page has one top-level title
    lines, fence = [], False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and line.startswith("###"):
            line = line[1:]
        lines.append(line)
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_guide(app) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    intro, sections = split_readme(readme)
    GUIDE_DIR.mkdir(exist_ok=True)
    names = []
    for slug, title, body in sections:
        name = slug
        names.append(name)
        page = (f"<!-- generated from README.md by docs/_ext/hpcbelt_docs.py: edit the README -->\n"
                f"# {title}\n\n{_fix_links(body)}")
        _write_if_changed(GUIDE_DIR / f"{name}.md", page)
    for stale in GUIDE_DIR.glob("*.md"):
        if stale.stem not in names and stale.stem != "index":
            stale.unlink()
    toc = "\n".join(names)
    index = (f"<!-- generated from README.md by docs/_ext/hpcbelt_docs.py: edit the README -->\n"
             f"# User guide (the README)\n\n"
             f"These pages are the repository's README.md, one page per section, regenerated at "
             f"every build.\n\n{intro}\n"
             f"```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n")
    _write_if_changed(GUIDE_DIR / "index.md", index)


def setup(app):
    app.add_directive("hpcbelt-keys", KeysDirective)
    app.add_directive("hpcbelt-datasets", DatasetsDirective)
    app.add_directive("hpcbelt-layout", LayoutDirective)
    app.connect("builder-inited", write_guide)
    # around numpydoc's handler (priority 500): what numpydoc makes of a docstring is checked
    app.connect("autodoc-process-docstring", before_numpydoc, priority=400)
    app.connect("autodoc-process-docstring", on_docstring, priority=600)
    app.connect("build-finished", report_repairs)
    app.connect("env-purge-doc", purge_repairs)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
