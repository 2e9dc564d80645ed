# Two commands do all set-up on a fresh machine:
#   make lab    install, start the database, apply the schema, open JupyterLab
#   make test   install, lint, run the tests and execute every notebook
# Windows without make: see README.md, "Windows".

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Jupyter refuses to run as root unless told (containers, CI machines).
JUPYTER_FLAGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

# jupysql's usage statistics would try the network; the lab works offline.
export PLOOMBER_STATS_ENABLED := false
export PLOOMBER_VERSION_CHECK_DISABLED := true

.PHONY: lab test install lint bench up down status clean

lab: install
	$(BIN)/labkit up
	$(BIN)/labkit setup
	$(BIN)/jupyter lab notebooks/ $(JUPYTER_FLAGS)

test: install lint
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "The lab needs Python 3.11 or newer; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	for bench in benchmarks/[a-z]*.py; do \
	  case $$bench in */record.py) continue;; esac; \
	  $(BIN)/python $$bench --record || exit 1; \
	done

up down status: install
	$(BIN)/labkit $@

clean:
	-$(BIN)/labkit down
	rm -rf $(VENV) .pytest_cache .ruff_cache
