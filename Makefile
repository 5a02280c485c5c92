# Two commands do everything on a fresh machine (Python 3.10+, PyPI reachable):
#   make demo   - the main job
#   make test   - the test suite (make test-quick: without the slow
#                 end-to-end runs; make lint: ruff + isort, as CI runs)
# Both create (or reuse) the virtual environment in .venv. The tests run in
# TEST_WORKERS processes (pytest-xdist; default: one per core, at most 4;
# TEST_WORKERS=0 runs them in this process).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.glean-plugin-installed
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(); print(max(1, min(4, n or 1)))')
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

# torch/torchvision pair that imports together (see README, "Installing").
ARCH := $(shell uname -m)
ifeq ($(ARCH),aarch64)
TORCH_SPEC ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
endif

.PHONY: install demo test test-quick lint clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC) -e ".[tests]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/demo.py

test: $(STAMP)
	$(PYTEST) --durations=15 tests

test-quick: $(STAMP)
	$(PYTEST) -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check glean_plugin tools tests configs
	$(BIN)/isort --check-only --diff glean_plugin tools tests configs

clean:
	rm -rf work_dirs .pytest_cache
