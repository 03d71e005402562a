# One entry point for set-up, tests, the demo and the benchmark. Everything runs inside .venv.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
# The machine has 2 cores: keep the extension build from oversubscribing them.
export MAX_JOBS ?= 2

STAMP   := $(VENV)/.dwaca-installed
SOURCES := setup.py pyproject.toml requirements.txt $(shell find csrc -type f)

.PHONY: setup test test-fast demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Pinned torch first, then the package without build isolation, so the extension compiles against that torch
# and pip never fetches a second one. Rebuilt only when the sources or requirements change.
$(STAMP): $(SOURCES) | $(PY)
	$(PIP) install -q --disable-pip-version-check -r requirements.txt
	$(PIP) install -q --disable-pip-version-check --no-build-isolation -e .
	touch $@

setup: $(STAMP)
	$(PY) -c "import dwaca._extension as e; print('dwaca extension:', e.build_info())"

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

demo: setup
	$(PY) tools/demo.py --out demo_out

# Raw results go to benchmarks/results/<machine>_<date>_<commit>_bench.json (benchmarks/RESULTS.md, "Method").
bench: setup
	$(PY) benchmarks/bench_selection.py --json

clean:
	rm -rf build *.egg-info dwaca/_C*.so $(STAMP)
