# The few verbs a newcomer needs. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench serve sample clean fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Leaflet and other browser assets come from npm, never from a CDN at run time.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

demo: $(STAMP) node_modules/.package-lock.json
	$(BIN)/gridmap demo

serve: $(STAMP) node_modules/.package-lock.json
	$(BIN)/gridmap serve

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs in TEST_JOBS processes (pytest-xdist), a test file per process at a time, so a
# file's fixtures and servers stay together: about half the wall time on two cores.
TEST_JOBS ?= 2
unit: $(STAMP) node_modules/.package-lock.json
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile

bench: $(STAMP) node_modules/.package-lock.json
	$(BIN)/python bench/bench_lookup.py
	$(BIN)/python -m bench.bench_tiles
	$(BIN)/python -m bench.bench_corpus
	$(BIN)/python -m bench.bench_book
	$(BIN)/python -m bench.bench_scale
	$(BIN)/python -m bench.bench_import
	$(BIN)/python -m bench.bench_layer_proposal
	$(BIN)/python -m bench.bench_osm

# Dispatcher corpus accuracy on both sample campuses (`make eval V=1` lists the failing rows).
.PHONY: eval
eval: $(STAMP)
	$(BIN)/python -m bench.bench_corpus $(if $(V),-v)

# Mutated campus files, OSM/IMDF schools, DXF fixtures and uploaded zips, each judged under time
# and memory limits; fails on a traceback, hang, memory blow-up or unservable import, and keeps
# each such input in tests/fuzz_regressions/.
FUZZ_SECONDS ?= 180
FUZZ_SEED ?= 1
FUZZ_JOBS ?= 2
FUZZ_ARGS ?=
fuzz: $(STAMP)
	$(BIN)/python -m fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) --jobs $(FUZZ_JOBS) $(FUZZ_ARGS)

# Regenerate both sample campuses' source files (DXF, GeoJSON, CSV) from their scripts.
sample: $(STAMP)
	$(BIN)/python scripts/make_sample_campus.py
	$(BIN)/python scripts/make_sample_campus_eu.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
