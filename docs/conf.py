"""Sphinx configuration of the hpcbelt documentation (``make docs``).

Built with warnings as errors (``sphinx-build -W --keep-going``) by ``make docs`` and by the
docs stage of ``tools/run_tests.sh`` (CI).  Generated at build time, never edited by hand
(all gitignored): ``guide/`` (the README split into pages), ``auto_examples/`` (the executed
gallery, from ``gallery/``), and the key, layout and dataset tables of
``_ext/hpcbelt_docs.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# One BLAS/OpenMP thread, before anything imports numpy: the gallery scripts import numpy and
# matplotlib before hpcbelt.api (whose hpcbelt.runtime sets the same, but only for a numpy
# imported after it).  A multi-threaded OpenBLAS made the exact method's eigen-decompositions
# cost 7x the CPU time on this 2-core machine (34 s instead of 5 s for the Watt et al. script).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if "numpy" in sys.modules:                     # pragma: no cover - depends on the Sphinx version
    print("docs/conf.py: numpy was imported before conf.py; BLAS threads may not be limited",
          file=sys.stderr)

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))          # the package itself (also installed editable)

import hpcbelt  # noqa: E402

# gallery scripts run in-process, serially, without any MPI launcher; OpenMPI may still be
# initialised by mpi4py (singleton) and must be allowed to as root
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
os.environ.setdefault("MPLBACKEND", "agg")

project = "hpcbelt"
author = "the hpcbelt developers"
copyright = "the hpcbelt developers"
release = version = hpcbelt.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "hpcbelt_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# gallery/ is read by sphinx-gallery, not by Sphinx: its scripts write their runs, summaries and
# Markdown reports there (gallery/*_small/), which must not become pages
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "gallery", "gallery/**",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "**/*.md5", "**/*.codeobj.json"]
templates_path = []

# --- myst (the README-derived guide and docs/architecture.md are Markdown) -------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# --- autodoc + numpydoc ---------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"                    # numpydoc sections carry the types
numpydoc_show_class_members = False           # no autosummary stubs for every member
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set = set()       # the docstrings are not all full numpydoc yet
numpydoc_xref_param_type = False
# Cross-references are not checked (nitpicky off): many docstrings name private helpers or
# numba dispatchers that have no page.
nitpicky = False

# --- sphinx-gallery -------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,           # a failing script fails the build
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 0,
    "show_memory": False,
    "reset_modules": ("matplotlib",),
    "default_thumb_file": None,
    "matplotlib_animations": False,
}

# --- HTML -----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"hpcbelt {release}"
html_static_path: list = []
html_show_sourcelink = False

# A short module name (``runfile``) in a docstring exists in both study packages; Sphinx picks
# one and warns.  Those warnings only, not unresolved references.
suppress_warnings = ["ref.python"]
highlight_language = "text"          # literal blocks (layout tables in docstrings) are not Python
