"""The documentation's generators (docs/_ext/hpcbelt_docs.py), without building the site.

The site itself is built, with warnings as errors and the gallery executed, by the docs stage
of tools/run_tests.sh (``make docs``).  These tests check what that build cannot see: that the
generated tables hold every key and every dataset, that the README is split without losing a
line, that a docstring that is not reStructuredText is shown rather than dropped, and that the
gallery uses only the public API.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load_ext():
    spec = importlib.util.spec_from_file_location("hpcbelt_docs_under_test", DOCS / "_ext" / "hpcbelt_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ext = _load_ext()


# ------------------------------------------------------------------------------------------
# study keys
# ------------------------------------------------------------------------------------------

def _described_keys(schema) -> list[str]:
    """The dotted key names of ``hpcbelt keys`` (config.describe), an independent listing."""
    from hpcbelt.config import describe

    names = []
    for line in describe(schema):
        head = line.split(":", 1)[0]
        names.append(head.split(" [", 1)[0])
    return names


@pytest.mark.parametrize("kind", ["pitch_angle", "drift_diffusion", "dxx"])
def test_key_table_lists_every_key_of_the_schema(kind):
    rows = ext.key_rows(ext.schema_of(kind))
    assert [r[0] for r in rows] == _described_keys(ext.schema_of(kind))
    assert all(len(r) == 6 for r in rows)
    # every key row has a type and a default; the description is the schema's
    from hpcbelt.config import Key

    def keys(schema, prefix=""):
        for name, spec in schema.items():
            if isinstance(spec, Key):
                yield f"{prefix}{name}", spec
            elif hasattr(spec, "schema"):
                yield from keys(spec.schema, f"{prefix}{name}[].")
            else:
                yield from keys(spec, f"{prefix}{name}.")

    by_name = {r[0]: r for r in rows}
    for name, spec in keys(ext.schema_of(kind)):
        assert by_name[name][5] == spec.doc and by_name[name][3] == spec.unit and by_name[name][1]


def test_every_docstring_of_the_package_is_restructured_text():
    """Every module, public class and public function docstring of hpcbelt parses as
    reStructuredText (class and function docstrings as numpydoc renders them), so the site
    never has to show one verbatim (docs/_build/docstrings_repaired.txt stays empty) and a new
    one that does not parse is caught here, without a docs build.  The checker is the build's
    own (``_problems``, docutils)."""
    import importlib
    import inspect
    import pkgutil
    import warnings

    import hpcbelt

    docscrape = importlib.import_module("numpydoc.docscrape_sphinx")     # tools/setup.sh installs it
    bad, n = [], 0
    for info in pkgutil.walk_packages(hpcbelt.__path__, "hpcbelt."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        texts = [(info.name, inspect.getdoc(mod))]
        for key, obj in vars(mod).items():
            if key.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and inspect.getdoc(obj):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    texts.append((f"{info.name}.{key}",
                                  str(docscrape.get_doc_object(obj, config={"show_class_members": False}))))
        for name, text in texts:
            if not text:
                continue
            n += 1
            problems = ext._problems(text.splitlines())
            if problems:
                bad.append((name, problems[:2]))
    assert n > 300, n                       # the walk found the package's docstrings
    assert not bad, bad


def test_the_database_key_table_lists_what_dxx_keys_prints():
    """The page's build table against the command users read (``hpcbelt dxx keys``, run as a
    process): it once left out the whole ``[variability]`` table."""
    import subprocess

    out = subprocess.run([sys.executable, "-m", "hpcbelt", "dxx", "keys"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    printed = [line.split(":", 1)[0].split(" [", 1)[0] for line in out if line.strip()]
    assert [r[0] for r in ext.key_rows(ext.schema_of("dxx"))] == printed
    assert any(name.startswith("variability.") for name in printed)


def test_keys_page_covers_every_registered_study_kind():
    from hpcbelt import studies

    page = (DOCS / "reference" / "keys.rst").read_text()
    listed = set(re.findall(r"^\.\. hpcbelt-keys:: (\S+)$", page, re.M))
    # kinds registered by hpcbelt itself (the test tree registers a throwaway "decay" kind too)
    shipped = set(studies.names()) - {"decay"}
    assert shipped and shipped <= listed, "add a section for the new study kind to docs/reference/keys.rst"


def test_database_table_is_the_format_table():
    from hpcbelt import daa_database

    directive = ext.DatasetsDirective.__new__(ext.DatasetsDirective)
    directive.arguments = ["daa_database"]
    (table,) = directive.run()
    text = table.astext()
    for name, (units, doc) in daa_database.DATASETS.items():
        assert name in text and units in text and doc in text


# ------------------------------------------------------------------------------------------
# layouts walked from files
# ------------------------------------------------------------------------------------------

def test_layout_walk_names_axes_by_their_scales(tmp_path):
    """A file made here with h5py: axes with a scale are named by it, others by their size;
    units and descriptions come from the attributes; placeholders and repeats are applied."""
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as h5:
        t = h5.create_dataset("time_s", data=np.arange(4.0))
        t.make_scale("time_s")
        t.attrs["units"] = "s"
        for name in ("run_a", "run_b"):
            g = h5.create_group(name)
            g.attrs["mode"] = "random"
            d = g.create_dataset("f", data=np.zeros((3, 4)))
            d.dims[1].attach_scale(t)
            d.attrs["units"] = "cm^-2"
            d.attrs["description"] = "phase-space density"
        sub = h5.create_group("particles")
        pt = sub.create_dataset("time_s", data=np.arange(2.0))
        pt.make_scale("time_s")
        pd = sub.create_dataset("F", data=np.zeros((2, 5)))
        pd.dims[0].attach_scale(pt)
        h5.attrs["kind"] = "test"
        h5.attrs["mpi_size"] = 2
    rows, root = ext.walk_layout(path, rename={"run_a": "<experiment>"}, repeats=("run_b",))
    by_path = {r[0]: r for r in rows}
    assert set(by_path) == {"/<experiment>", "/<experiment>/f", "/time_s", "/particles",
                            "/particles/F", "/particles/time_s"}
    assert by_path["/particles/F"][2] == "(particles/time_s, 5)", "a scale named like a root scale"
    assert by_path["/<experiment>/f"][2:6] == ("(3, time_s)", "f8", "cm^-2", "phase-space density")
    assert by_path["/time_s"][1:3] == ("dimension scale", "(time_s)")
    assert by_path["/<experiment>"][6] == "mode"
    assert dict(root) == {"kind": "str", "mpi_size": "int64"}


# ------------------------------------------------------------------------------------------
# the README as the user guide
# ------------------------------------------------------------------------------------------

def test_readme_split_keeps_every_line():
    text = (ROOT / "README.md").read_text()
    intro, sections = ext.split_readme(text)
    lines = [l for l in text.splitlines() if l.strip()]
    kept = intro.splitlines() + [l for _, title, body in sections for l in [f"## {title}", *body.splitlines()]]
    kept = [l for l in kept if l.strip()]
    assert kept == lines[1:], "every README line but the title is on one guide page, in order"
    slugs = [s for s, _, _ in sections]
    assert len(set(slugs)) == len(slugs)


def test_readme_split_ignores_headings_in_code_blocks():
    text = "# t\nintro\n## A\n```sh\n## not a heading\n```\n### sub\n## B\nb\n"
    intro, sections = ext.split_readme(text)
    assert intro.strip() == "intro"
    assert [(s, t) for s, t, _ in sections] == [("a", "A"), ("b", "B")]
    assert "## not a heading" in sections[0][2]
    assert "## sub" in ext._fix_links(sections[0][2]) and "### sub" not in ext._fix_links(sections[0][2])


def test_guide_links_point_into_the_docs_tree():
    body = ext._fix_links("see [docs/architecture.md](docs/architecture.md) and ![x](docs/figures/a.png)")
    assert "](../architecture.md)" in body and "](../figures/a.png)" in body
    for target in re.findall(r"\]\((?!https?:)([^)]+)\)", ext._fix_links((ROOT / "README.md").read_text())):
        assert (DOCS / "guide" / target).resolve().exists(), f"README link {target} has no file in docs/"


# ------------------------------------------------------------------------------------------
# docstrings that are not reStructuredText
# ------------------------------------------------------------------------------------------

def test_clean_docstring_is_left_alone():
    lines = ["Summary.", "", "Parameters", "----------", "x : float", "    A value, :func:`f` of it."]
    assert ext.repair(list(lines)) == (lines, None)


def test_indented_table_becomes_a_literal_block():
    lines = ["Layout:", "", "    /time_s      (n,)    s", "    /f           (m, n)  units", "Done."]
    assert ext._problems(lines), "the input must be broken for this test to mean anything"
    fixed, status = ext.repair(lines)
    assert status == "repaired" and not ext._problems(fixed)
    assert fixed[0] == "Layout::" and "    /time_s      (n,)    s" in fixed and "Done." in fixed


def test_bare_bars_are_escaped():
    lines = ["The error |x - y| is small."]
    fixed, status = ext.repair(lines)
    assert status == "repaired" and not ext._problems(fixed) and r"\|x - y\|" in fixed[0]


def test_unrepairable_docstring_is_shown_verbatim():
    lines = ["``a``   first line of a", "``b``   first line of b", "        continued", "tail"]
    assert ext._problems(lines)
    fixed, status = ext.repair(lines)
    assert status == "verbatim" and not ext._problems(fixed)
    assert [l[4:] for l in fixed[2:-1]] == lines


# ------------------------------------------------------------------------------------------
# the gallery
# ------------------------------------------------------------------------------------------

GALLERY = sorted((DOCS / "gallery").glob("plot_*.py"))


def test_gallery_has_both_studies():
    text = "".join(p.read_text() for p in GALLERY)
    assert 'copy_example("watt2021"' in text and 'copy_example("lejosne2023"' in text


@pytest.mark.parametrize("script", GALLERY, ids=lambda p: p.name)
def test_gallery_uses_the_public_api_only(script):
    """Every ``hpcbelt.X`` a script uses is in ``hpcbelt.__all__`` (or ``hpcbelt.examples``),
    it has the title docstring sphinx-gallery needs, and it runs without MPI (comm not given)."""
    import hpcbelt

    tree = ast.parse(script.read_text())
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[1].startswith("===")
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "hpcbelt"}
    assert used and used <= set(hpcbelt.__all__), used - set(hpcbelt.__all__)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert not module.startswith("hpcbelt") or module in ("hpcbelt", "hpcbelt.examples"), module
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "run":
            assert not any(k.arg == "comm" for k in node.keywords)
