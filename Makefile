# The two entry points: `make demo` and `make test`. Both build .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo needs the package alone; tests also need the dev tools and Spark.
STAMP := $(VENV)/.installed-base
TEST_STAMP := $(VENV)/.installed-test
# The hub's front-end libraries from npm, vendored into its static files (docs/web.md).
FRONTEND_STAMP := src/epitrace/hub/web/static/vendor/.installed

.PHONY: demo test lint bench install lock clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(TEST_STAMP)

$(FRONTEND_STAMP): package.json package-lock.json scripts/vendor-frontend.sh src/epitrace/hub/locale/ko/LC_MESSAGES/django.po
	bash scripts/vendor-frontend.sh
	touch $(FRONTEND_STAMP)

install: $(TEST_STAMP) $(FRONTEND_STAMP)

# The PDF report embeds a Korean font (scripts/install-fonts.sh: fonts-nanum).
demo: $(STAMP) $(FRONTEND_STAMP)
	bash scripts/install-fonts.sh
	$(BIN)/epitrace demo

# The hub's tests (and the exchange's fault tests) run again against a real PostgreSQL server.
TEST_DATABASE_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/postgres

test: $(TEST_STAMP) $(FRONTEND_STAMP)
	$(BIN)/ruff check src tests bench
	bash scripts/install-browser.sh
	$(BIN)/python -m pytest
	bash scripts/ensure-postgres.sh
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest tests/hub tests/exchange

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet -e '.[dev,spark]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^epitrace' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
