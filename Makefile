# Every target bootstraps .venv from a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_PORT ?= 54329
export NEWSLETTER_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:$(PG_PORT)/newsletter_test

.PHONY: demo demo-serve test test-fast lint bench clean postgres

# Compiled modules are kept between runs (__pycache__ is ignored by git). With
# PYTHONDONTWRITEBYTECODE set, as some shells and images do, every test worker re-ran
# pytest's assertion rewriting on all ~200 test modules (5 of its 8 s of collection) and
# every `newsletter` process the e2e tests start compiled the package again.
unexport PYTHONDONTWRITEBYTECODE

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	bash scripts/demo.sh

# The web app on the demo's database and issues: the archive shows what `make demo` sent.
demo-serve: $(BIN)/.installed
	bash scripts/demo-serve.sh

postgres:
	bash scripts/postgres.sh $(PG_PORT)

# The timing tests first, alone, on a quiet machine (after the other tests the database
# server and the system were still busy writing what they left: a timing test's medians
# doubled and one failed), then the rest in four processes on two cores (most tests
# wait on subprocesses, servers and Chromium).
test: $(BIN)/.installed
	-bash scripts/postgres.sh $(PG_PORT)
	$(BIN)/pytest -q -m serial
	$(BIN)/pytest -q -n 4 -m "not serial"

# The quick loop while editing: everything but whole-process and browser tests and the
# tests marked slow.
test-fast: $(BIN)/.installed
	-bash scripts/postgres.sh $(PG_PORT)
	$(BIN)/pytest -q -m "not e2e and not serial and not slow" -n 3

lint: $(BIN)/.installed
	$(BIN)/ruff check newsletter tests bench
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/render.py
	$(BIN)/python bench/messages.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/send.py --bulk
	$(BIN)/python bench/snapshot.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/site.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/signups.py
	$(BIN)/python bench/desk.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/apply_rate.py --write
	$(BIN)/python bench/papers.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/editions.py
	$(BIN)/python bench/webhook_flood.py

clean:
	rm -rf $(VENV) build demo outbox *.db
