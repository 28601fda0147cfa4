"""The package's architecture as contracts (docs/architecture.md): import-linter's contracts in
.importlinter must hold, and must be able to fail; only the registry names the study kinds."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.unit


def lint(cwd: Path):
    return subprocess.run([str(LINT), "--config", str(cwd / ".importlinter"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_import_contracts_hold():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize("module, line", [
    ("pitch_angle/kernels.py", "import mpi4py  # a kernel talking to MPI"),
    ("drift/solver.py", "from hpcbelt import output  # physics writing files"),
    ("dxx/calculator.py", "from hpcbelt.aggregate import files  # an equation package importing the aggregation"),
    ("dipole.py", "from hpcbelt.pitch_angle import physics  # a shared module importing an equation package"),
])
def test_a_broken_contract_is_reported(tmp_path, module, line):
    # the same contracts on a copy of the package with one forbidden import added
    shutil.copytree(ROOT / "hpcbelt", tmp_path / "hpcbelt", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / "hpcbelt" / module, "a") as fh:
        fh.write(f"\n{line}\n")
    r = lint(tmp_path)
    assert r.returncode != 0 and "BROKEN" in r.stdout.upper(), r.stdout + r.stderr


def test_only_the_registry_names_study_kinds():
    # dispatch on the kind goes through hpcbelt/studies.py; a study's own modules may name it
    own = {"pitch_angle": ("pitch_angle/",), "drift_diffusion": ("drift/",)}
    pattern = re.compile(r"""(==|!=|\bin\b)\s*\(?\s*["'](pitch_angle|drift_diffusion)["']""")
    bad = []
    for path in sorted((ROOT / "hpcbelt").rglob("*.py")):
        rel = path.relative_to(ROOT / "hpcbelt").as_posix()
        if rel == "studies.py":
            continue
        for n, text in enumerate(path.read_text().splitlines(), 1):
            m = pattern.search(text)
            if m and not rel.startswith(own[m.group(2)]):
                bad.append(f"{rel}:{n}: {text.strip()}")
    assert not bad, "branches on the study kind outside the registry:\n" + "\n".join(bad)
