#!/usr/bin/env bash
# Set up everything hpcbelt needs on a Debian machine, idempotently:
#   1. OpenMPI and parallel HDF5 development packages from apt, if no mpicc is found
#      (skipped on clusters, where `module load` provides mpicc and HDF5: see README);
#   2. a virtual environment .venv with numpy, scipy, numba, matplotlib, pytest (with pytest-mpi and
#      pytest-xdist);
#   3. mpi4py and h5py built from source against that MPI and HDF5 (h5py with HDF5_MPI=ON,
#      so that h5py.get_config().mpi is true);
#   4. hpcbelt itself (editable), and the documentation tools (Sphinx, sphinx-gallery, numpydoc).
# A second call finds the stamp file and does nothing.  HPCBELT_PYTHON picks the interpreter,
# HDF5_DIR a site HDF5 installation (else pkg-config's hdf5-openmpi / hdf5).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP=$VENV/.hpcbelt-setup
PY=${HPCBELT_PYTHON:-python3}

if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt tools/setup.sh ] \
   && "$VENV/bin/python" -c "import hpcbelt, h5py, mpi4py, numba" 2>/dev/null; then
    exit 0
fi

need_apt=()
command -v mpicc >/dev/null 2>&1 || need_apt+=(openmpi-bin libopenmpi-dev libhdf5-openmpi-dev pkg-config)
# a parallel HDF5 for h5py: the site's (HDF5_DIR) or Debian's OpenMPI build
if [ -z "${HDF5_DIR:-}" ] && command -v apt-get >/dev/null 2>&1 \
   && ! dpkg -s libhdf5-openmpi-dev >/dev/null 2>&1; then
    need_apt+=(libhdf5-openmpi-dev pkg-config)
fi
command -v "$PY" >/dev/null 2>&1 || need_apt+=(python3 python3-venv python3-dev)
command -v gcc >/dev/null 2>&1 || need_apt+=(build-essential)
if command -v "$PY" >/dev/null 2>&1; then
    "$PY" -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
    # mpi4py and h5py compile against the Python headers
    "$PY" -c "import os, sysconfig, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')) else 1)" \
        || need_apt+=(python3-dev)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing ${need_apt[*]}; install them (or module load MPI/HDF5) and rerun" >&2
        exit 1
    fi
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq
    # shellcheck disable=SC2046  # de-duplicated package list
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${need_apt[@]}" | sort -u) >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q --upgrade pip setuptools wheel
$PIP install -q -c tools/constraints.txt numpy scipy numba matplotlib "cython>=3" pkgconfig pytest pytest-mpi pytest-xdist import-linter

if ! "$VENV/bin/python" -c "import mpi4py" 2>/dev/null; then
    echo "setup: building mpi4py against $(command -v mpicc)"
    env MPICC="${MPICC:-mpicc}" $PIP install -q --no-binary=mpi4py --no-cache-dir -c tools/constraints.txt mpi4py
fi

if ! "$VENV/bin/python" -c "import h5py, sys; sys.exit(0 if h5py.get_config().mpi else 1)" 2>/dev/null; then
    echo "setup: building h5py with parallel HDF5 (mpio driver)"
    $PIP uninstall -q -y h5py 2>/dev/null || true
    h5env=(CC="${MPICC:-mpicc}" HDF5_MPI=ON)
    if [ -n "${HDF5_DIR:-}" ]; then
        h5env+=(HDF5_DIR="$HDF5_DIR")
    elif pkg-config --exists hdf5-openmpi 2>/dev/null; then
        h5env+=(HDF5_PKGCONFIG_NAME=hdf5-openmpi)
    fi
    env "${h5env[@]}" $PIP install -q --no-binary=h5py --no-build-isolation --no-cache-dir \
        -c tools/constraints.txt h5py
    "$VENV/bin/python" -c "import h5py, sys; sys.exit(0 if h5py.get_config().mpi else 1)" || {
        echo "setup: h5py was built without MPI; runs will funnel writes through rank 0" >&2; }
fi

# SpacePy's Crank-Nicolson radial diffusion: the independent code the radial solver's accuracy
# tests compare with (tests/radial/test_spacepy_radial.py).  After the MPI h5py build, so that
# its h5py requirement is met by that build rather than by a serial wheel.
if ! "$VENV/bin/python" -c "import spacepy" 2>/dev/null; then
    echo "setup: installing spacepy (independent radial-diffusion solver for the accuracy tests)"
    $PIP install -q -c tools/constraints.txt spacepy
fi
# xarray-first reading (hpcbelt.open_run / open_summary, the optional extra hpcbelt[xarray]) and
# dask for its chunks= option: optional for users, installed here so the tests exercise them.
if ! "$VENV/bin/python" -c "import xarray, h5netcdf, dask.array" 2>/dev/null; then
    echo "setup: installing xarray, h5netcdf and dask (optional reading API)"
    $PIP install -q -c tools/constraints.txt "xarray>=2025.1" "h5netcdf>=1.3" "dask[array]"
fi

# the documentation tools (make docs, and the docs stage of tools/run_tests.sh in CI)
if ! "$VENV/bin/python" -c "import sphinx, sphinx_gallery, numpydoc, furo, myst_parser" 2>/dev/null; then
    echo "setup: installing sphinx, sphinx-gallery, numpydoc, furo and myst-parser (make docs)"
    $PIP install -q -c tools/constraints.txt sphinx sphinx-gallery numpydoc furo myst-parser
fi

if ! log=$(PYTHONWARNINGS=ignore $PIP install -q --no-deps --no-build-isolation -e . 2>&1); then
    echo "$log" >&2; echo "setup: installing hpcbelt failed" >&2; exit 1
fi
touch "$STAMP"
echo "setup: done ($("$VENV/bin/python" -c 'import h5py, mpi4py, numba; print("h5py", h5py.__version__, "mpi", h5py.get_config().mpi, "| mpi4py", mpi4py.__version__, "| numba", numba.__version__)'))"
