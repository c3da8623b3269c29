# shipkey — `make run` serves the demo store, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHIPKEY_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_WORKERS ?= 2
export SHIPKEY_TEST_DATABASE_URL

.PHONY: install run test test-needs lint typecheck unit clean messages bench bench-tools bench-downloads bench-licenses bench-webhooks bench-hooks bench-client bench-scale bench-releases bench-import bench-footprint bench-inbox

$(BIN)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "shipkey needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e './clients/python[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/shipkey migrate
	$(BIN)/shipkey demo
	@echo
	@echo "Admin API token (keep it): $$($(BIN)/shipkey admin-token create --name make-run)"
	@echo "Try:  curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/admin/products"
	@echo "Seller admin: http://127.0.0.1:8000/admin (sign in with the token)"
	@echo "Buyer portal: http://127.0.0.1:8000/login (the demo buyer is buyer@example.com; mail lands in /admin/mailbox)"
	@echo
	$(BIN)/shipkey serve

lint: install
	$(BIN)/ruff check src tests scripts bench clients/python
	$(BIN)/ruff format --check src tests scripts bench clients/python

typecheck: install
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd clients/python && ../../$(BIN)/mypy

unit: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests
	$(BIN)/pytest clients/python/tests

# Programs some tests start (Chromium, nginx, curl): installed with apt-get when missing.
test-needs:
	$(PYTHON) -m tests.needs

test: test-needs lint typecheck unit

# Extract translatable strings (babel.cfg) and merge them into each language's .po catalog.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -o $(VENV)/messages.pot --no-wrap --sort-by-file \
		-k tr:2 --project shipkey --version "$$($(BIN)/python -c 'import shipkey; print(shipkey.__version__)')" src
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d src/shipkey/translations \
		--no-wrap --ignore-obsolete

# Benchmarks (bench/README.md): each prints a table and writes bench/results/<name>.json.
bench-tools: install
	@command -v wrk >/dev/null && command -v nginx >/dev/null && command -v curl >/dev/null \
		|| apt-get install -y -q wrk nginx curl
	$(BIN)/python -m pip install --quiet -e '.[bench]'

bench-downloads: bench-tools
	$(BIN)/python -m bench.downloads

bench-licenses: bench-tools
	$(BIN)/python -m bench.licenses

bench-webhooks: bench-tools
	$(BIN)/python -m bench.webhooks

bench-hooks: bench-tools
	$(BIN)/python -m bench.hooks

bench-releases: bench-tools
	$(BIN)/python -m bench.releases

bench-client: bench-tools
	$(BIN)/python -m bench.client

bench-footprint: bench-tools
	$(BIN)/python -m bench.footprint

bench-inbox: bench-tools
	$(BIN)/python -m bench.inbox

bench-import: bench-tools
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.imports --db postgresql

# SHIPKEY_BENCH_SCALE=0.1 fills a tenth (default 1.0: 1,000,000 purchases; PostgreSQL at
# SHIPKEY_BENCH_SCALE_URL, default the database shipkey_scale on 127.0.0.1, dropped afterwards).
bench-scale: install
	$(BIN)/python -m bench.scale

bench: bench-client bench-licenses bench-releases bench-downloads bench-webhooks bench-hooks bench-import bench-footprint bench-inbox

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
