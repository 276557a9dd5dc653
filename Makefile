# make demo | test | test-full | lint | format | clean   (README.md says what each does)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# One thread per process: the workers (one per core) and the processes the tests start share the cores.
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest tests -p no:cacheprovider -n auto --dist worksteal --durations=15

.PHONY: venv demo test test-full lint format clean

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile -r requirements-dev.txt  # modules compile on first import
	touch $@

venv: $(VENV)/.installed

demo:
	bash scripts/demo.sh

test: venv
	$(PYTEST) -m "not slow"

test-full: venv
	$(PYTEST)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf build .pytest_cache .ruff_cache
