# Arena: `make demo` serves the app with demo data, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_PORT ?= 8000

.PHONY: demo test lint install install-dev lock serve-demo check bench-ratings bench-generation bench-pairing bench-small-arena bench-vibes-gap bench-scale bench-boards bench-web clean-demo

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Arena needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Runtime dependencies only (what the demo needs): every package pinned with its hashes.
$(VENV)/.installed: requirements.lock | $(PY)
	$(PIP) install --quiet --require-hashes -r requirements.lock
	touch $@

# Everything the tests, lint and benchmarks need as well.
$(VENV)/.installed-dev: requirements-dev.lock | $(PY)
	$(PIP) install --quiet --require-hashes -r requirements-dev.lock
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Embedded mode: SQLite, in-process tasks, in-memory channel layer.
demo: export DATABASE_URL :=
demo: export REDIS_URL :=
demo: export CELERY_BROKER_URL :=
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_demo
	$(PY) manage.py serve_demo --port $(DEMO_PORT)

# Import contracts, lint, format and types, then the whole suite.
test: install-dev lint
	$(PY) tests/run.py

lint: install-dev
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# Regenerate both lock files from pyproject.toml (add --upgrade to PIP_COMPILE_ARGS to move to newer releases).
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links --pip-args=--isolated $(PIP_COMPILE_ARGS)
lock: install-dev
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

check: install
	$(PY) manage.py check

bench-ratings: install-dev
	$(PY) bench/bench_ratings.py

bench-pairing: install-dev
	$(PY) bench/bench_pairing.py

bench-small-arena: install-dev
	$(PY) bench/bench_small_arena.py

bench-vibes-gap: install-dev
	$(PY) bench/bench_vibes_gap.py

bench-scale: install-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(PY) bench/bench_scale.py

bench-boards: install-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(PY) bench/bench_boards.py

bench-generation: install-dev
	$(PY) bench/bench_generation.py

# The demo's database (with its WAL files) and the files load_demo writes; the next `make demo` starts afresh.
clean-demo:
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm var/demo_answer_book.jsonl var/demo_benchmarks.csv

# The production shape under load (gunicorn, Celery worker and beat, Redis, Postgres): needs Postgres and redis-server.
bench-web: install-dev
	$(PY) bench/bench_web.py
