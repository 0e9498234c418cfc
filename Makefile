# Two entry points for a newcomer: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("dwh needs Python 3.11 or newer; set PYTHON=python3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default (no server needed): a generated sample of the
# sources, deploy (upgrade to head, run every layer), then a short summary of gold.
demo: install
	DWH_DATABASE_URL= DWH_SOURCE_DIR= $(BIN)/dwh deploy
	DWH_DATABASE_URL= $(BIN)/dwh report

# The whole test suite, against DWH_TEST_DATABASE_URL when set, else an embedded server.
test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# The benchmark (bench/README.md): scales 1, 10 and 100, the reference extracts, the
# floor and the peers (installed into bench/.venv); the table goes into docs/performance.md.
bench: install
	$(BIN)/python -m bench --update-readme
