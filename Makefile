# Two commands on a fresh machine: `make demo` and `make test`. Both create the virtual
# environment first (pinned CPU PyTorch and the other development pins in requirements-dev.txt).
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eventlift demo

# The report's browser test needs headless Chromium, the warehouse tests a PostgreSQL server and
# the Spark JDBC test its JDBC driver: Debian packages, installed (when missing) and started by
# the scripts below.
test: $(STAMP)
	$(BIN)/ruff check .
	scripts/install-test-packages.sh
	eval "$$(scripts/start-postgres.sh)" && $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	-scripts/start-postgres.sh stop
	rm -rf $(VENV) eventlift-demo .pytest_cache .pgdata
