# hpcbelt quick start:   make run    (set up, run the Watt et al. 2021 study on 2 ranks, aggregate)
#                        make test   (set up, run the whole test suite serially and under MPI)
#                        make docs   (set up, build the documentation into docs/_build/html)
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
NP ?= 2
STUDY ?= inputs/watt2021.toml
OUT ?= results/watt2021.h5
# OpenMPI refuses to run as root and on more ranks than cores unless told; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
MPIRUN ?= mpirun

.PHONY: setup run test docs bench clean

setup:
	@bash tools/setup.sh

run: setup
	@mkdir -p $(dir $(OUT))
	$(MPIRUN) -n $(NP) $(BIN)/hpcbelt run $(STUDY) -o $(OUT) --overwrite
	@if $(BIN)/hpcbelt aggregate --help >/dev/null 2>&1; then \
	    $(BIN)/hpcbelt aggregate $(OUT) -o $(OUT:.h5=_summary.h5) --figures $(dir $(OUT))figures; \
	else echo "(no aggregation command yet: see issue 3)"; fi

test: setup
	@bash tools/run_tests.sh

# Sphinx site with the executed examples gallery, warnings as errors (docs/Makefile)
docs: setup
	@$(MAKE) --no-print-directory -C docs html

bench: setup
	$(BIN)/python tools/bench_pitch_angle.py

clean:
	rm -rf results .pytest_cache
	@$(MAKE) --no-print-directory -C docs clean
