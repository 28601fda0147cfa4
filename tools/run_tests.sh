#!/usr/bin/env bash
# The whole test suite: serial tests, the documentation build, then the MPI-marked tests under
# 2 and 3 ranks.  Exits non-zero if any stage fails or collects no test.
# The docs stage is `make docs` (docs/Makefile: Sphinx with warnings as errors) with every
# gallery script executed again; it runs only for the whole suite (no arguments), and
# HPCBELT_DOCS=0 skips it.  (Before the MPI stages, so that the run ends with pytest's lines.)
set -uo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
PY=.venv/bin/python
status=0
echo "== serial tests"
# The whole suite (no arguments) runs in two stages.  First every serial tier but slurm and scale
# on 2 pytest-xdist workers: about half of those tests' wall time is waiting (the start-up of
# mpirun and of the command's processes), so two workers keep both cores busy.  Then the slurm and
# scale tiers in one process: the Slurm tests share one cluster that some of them restart with
# other nodes, and the scale tests start up to 64 ranks (about 13 GB), so they run one at a time.
# HPCBELT_TEST_WORKERS=0 runs the first stage in one process too; with arguments, the serial
# tests they select run in one process, as before.
if [ $# -eq 0 ]; then
    workers=${HPCBELT_TEST_WORKERS:-2}
    xdist=()
    if [ "$workers" != 0 ]; then
        if $PY -c "import xdist" 2>/dev/null; then
            xdist=(-n "$workers")
        else
            echo "(pytest-xdist is not installed: one process; make setup installs it)"
        fi
    fi
    $PY -m pytest -q --color=no -m "not mpi and not slurm and not scale" "${xdist[@]}" || status=1
    echo "== Slurm and scale tests"
    $PY -m pytest -q --color=no -m "slurm or scale" || status=1
else
    $PY -m pytest -q --color=no -m "not mpi" "$@" || status=1
fi
if [ $# -eq 0 ] && [ "${HPCBELT_DOCS:-1}" != 0 ]; then
    echo "== documentation (sphinx-build -W, gallery executed)"
    start=$SECONDS
    if make --no-print-directory -C docs html RERUN=1 SPHINXOPTS=-q; then
        echo "docs: built in $((SECONDS - start)) s"
    else
        echo "docs: FAILED after $((SECONDS - start)) s"; status=1
    fi
fi
for n in 2 3; do
    echo "== MPI tests on $n ranks"
    # pytest-mpi: every rank prints its own summary; all must pass for mpirun to exit 0
    mpirun -n $n $PY -m pytest -q --color=no -m mpi --with-mpi -p no:cacheprovider "$@" || status=1
done
exit $status
