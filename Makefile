# One-command entry points. Needs only python3 and make.
#   make test   - create .venv if missing, install -e .[dev], ruff, mypy --strict, mkdocs --strict, pytest
#   make demo   - same setup, then run the demo (examples/demo.py); it ends on its own
#   make bench-connector - connect() cost and pooled vs per-call clients (benchmarks/bench_connector.py)
#   make bench-hostile - hostile 64 KiB headers against json.loads of the same bytes (benchmarks/bench_hostile.py)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: install lint typecheck docs pytest test demo bench bench-middleware bench-connector bench-hostile interop interop-captures clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: install
	$(BIN)/mypy

docs: install
	$(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

pytest: install
	$(BIN)/pytest

test: lint typecheck docs pytest

demo: install
	$(BIN)/python examples/demo.py

bench: install
	$(BIN)/python benchmarks/bench_registry.py

bench-middleware: install
	$(BIN)/python benchmarks/bench_middleware.py
	$(BIN)/python benchmarks/bench_middleware.py --e2e

bench-connector: install
	$(BIN)/python benchmarks/bench_connector.py

bench-hostile: install
	$(BIN)/python benchmarks/bench_hostile.py

interop: install
	$(BIN)/pytest -m interop tests/interop

# refresh tests/interop/captures/ from the live gateway (then read the diff)
interop-captures: install
	$(BIN)/python -m tests.interop.refresh_captures

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist src/*.egg-info
