PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/openastro run --workdir openastro-work --dask local
	$(BIN)/openastro embed --workdir openastro-work
	$(BIN)/openastro anomalies --workdir openastro-work --top 10
	$(BIN)/openastro explore --workdir openastro-work
	$(BIN)/openastro report --workdir openastro-work

# Two pytest workers (a module's tests stay together, so its fixtures are made once), each on one BLAS/OpenMP/torch
# thread: on two cores that is about twice as fast as one process on two threads.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadscope

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pip install --quiet --no-deps resspect==0.2
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# Only what the commands above generate and git ignores: tracked files (benchmark results, shipped weights) stay.
clean:
	rm -rf openastro-work .pytest_cache .ruff_cache build dist
	find src tests benchmarks -name __pycache__ -type d -prune -exec rm -rf {} +
