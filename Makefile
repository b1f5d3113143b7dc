# Two commands: `make demo` and `make test`. Only python3 (3.11+) and make are needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format screenshots migrate clean wheel messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.runtime

# The embedded demo runs in debug mode, asked for here: the settings never turn DEBUG on by themselves.
demo migrate: export DEBUG ?= 1

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

## Set up and serve the demo at http://127.0.0.1:8000/ with a Celery worker and beat.
demo: migrate
	$(BIN)/python manage.py load_demo
	VENV=$(VENV) bin/demo

## Set up and run the whole suite: lint, migrations check, pytest.
test: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=tests.settings
	$(BIN)/pytest

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Extract the plugin's strings (cms, petition_blocks, workers, templates/) into cms/locale/{fr,ar}, keeping
## their translations, and compile them (needs gettext's xgettext, msgmerge and msgfmt).
messages: $(VENV)/.runtime
	$(BIN)/python bin/messages.py

## Screenshots of a running demo (make demo in another terminal) into docs/.
screenshots: $(VENV)/.test
	$(BIN)/python bin/screenshots.py

clean:
	rm -rf var static build dist *.egg-info

## Benchmark on this machine: gunicorn, Celery, a fake ESP, 1M seeded signatures; results in bench/results/.
.PHONY: bench
bench: $(VENV)/.runtime
	$(BIN)/python bench/run.py

.PHONY: bench-insights
## The admin's insights at 1M signatures: reconcile, recount, report and dashboard times (bench/results/insights.txt).
bench-insights: $(VENV)/.runtime
	$(BIN)/python bench/insights.py

## The short bench with 1 and 2 gunicorn workers, Celery running or stopped during the POSTs: one table (~10 min).
.PHONY: bench-scaling
bench-scaling: $(VENV)/.runtime
	$(BIN)/python bench/scaling.py

## Fault and soak suite (issue 11): a PostgreSQL, Redis, gunicorn, Celery and fake ESP of its own, faults injected
## under load; results in bench/results/faults.json. `make faults SCENARIOS="redis-kill pg-restart"` runs some.
.PHONY: faults
faults: $(VENV)/.runtime
	$(BIN)/python faults/run.py $(SCENARIOS)

## Time and peak memory of a delivery's CSV and PDF at 10,000 and 100,000 signatures.
.PHONY: bench-files
bench-files: $(VENV)/.test
	$(BIN)/python bench/delivery_files.py

## Where a sign, a confirm and a verification email spend their time: cProfile, in process (bench/README.md).
.PHONY: bench-profile
bench-profile: $(VENV)/.test
	$(BIN)/python bench/profile_requests.py $(PROFILE_ARGS)

## Whether a sign request's time tells a new address from one that signed: in-process, PostgreSQL and Redis.
.PHONY: bench-uniform
bench-uniform: $(VENV)/.test
	$(BIN)/python bench/uniform_timing.py

## The plugin's wheel in dist/: what a host site pip-installs (README, "Install into your Wagtail site").
.PHONY: wheel
wheel: $(BIN)/python
	rm -rf build
	$(BIN)/pip wheel --no-deps --wheel-dir dist .

## The admin's signatures listing at 1M signatures in a database of its own: first page timings (bench/results/listing.txt).
.PHONY: bench-listing
bench-listing: $(VENV)/.runtime
	$(BIN)/python bench/listing.py

## The typed TypeScript client (examples/typescript-client, docs/api.md): dump the OpenAPI schema, generate its
## types with the pinned openapi-typescript, type-check, and build the example front end (needs node 20 and npm).
TS_CLIENT := examples/typescript-client
.PHONY: ts-client
ts-client: $(VENV)/.test $(TS_CLIENT)/node_modules/.package-lock.json
	$(BIN)/python bin/openapi.py $(TS_CLIENT)/openapi.json
	cd $(TS_CLIENT) && npm run --silent types && npm run --silent check && npm run --silent build

# npm ci only when the lock file changed: the merger's `make ts-client` then takes a few seconds.
$(TS_CLIENT)/node_modules/.package-lock.json: $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund
