#!/usr/bin/env bash
# The whole test suite: serial tests, then the MPI-marked tests under 2 and 3 ranks.
# Exits non-zero if any stage fails or collects no test.
set -uo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
PY=.venv/bin/python
status=0
echo "== serial tests"
$PY -m pytest -q --color=no -m "not mpi" "$@" || status=1
for n in 2 3; do
    echo "== MPI tests on $n ranks"
    # pytest-mpi: every rank prints its own summary; all must pass for mpirun to exit 0
    mpirun -n $n $PY -m pytest -q --color=no -m mpi --with-mpi -p no:cacheprovider "$@" || status=1
done
exit $status
