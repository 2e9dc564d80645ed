# Two commands do all set-up on a fresh machine:
#   make lab    install, start the database, apply the schema, open JupyterLab
#   make test   install, lint, run the tests and execute every notebook
# and one for the inner loop:
#   make check  lint and the tests not marked slow (no notebook runs), about a minute
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

.PHONY: lab test check install lint bench mutate up down status clean

# JupyterLab at the repository root (sql/, benchmarks/ and labkit/ are reachable),
# notebook 01 open, the venv's bin first on the PATH of its terminals and kernels,
# and jupyter/ for the lab's JupyterLab settings (no news prompt).
lab: install
	$(BIN)/labkit up
	$(BIN)/labkit setup
	PATH="$(CURDIR)/$(BIN):$$PATH" VIRTUAL_ENV="$(CURDIR)/$(VENV)" \
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter" \
	  $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(JUPYTER_FLAGS) \
	  notebooks/01_extensions.ipynb

# Every test, notebooks included (tests/test_notebooks.py runs each one; nbval is for
# running one notebook by hand). The slowest tests are listed at the end.
# The tests run shuffled (pytest-randomly), in one fixed order here so that a CI run
# can be repeated; `make test SEED=N` tries another order.
SEED ?= 2718

test: install lint
	$(BIN)/python -m pytest -p no:cacheprovider --randomly-seed=$(SEED) --durations=25

check: install lint
	$(BIN)/python -m pytest -p no:cacheprovider -m "not slow" --durations=10

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "The lab needs Python 3.11 or newer; set PYTHON=/path/to/python3.11"; exit 1; }
	@echo "Installing the lab's packages into $(VENV)/: about 3 to 5 minutes the first time"
	@echo "on a 2-core laptop (JupyterLab, PostgreSQL, numpy, pandas, onnxruntime, ...)."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	for bench in benchmarks/[a-z]*.py; do \
	  case $$bench in */record.py) continue;; esac; \
	  $(BIN)/python $$bench --record || exit 1; \
	done

# Mutation testing (mutmut, configured in pyproject.toml): plant small bugs in the
# modules where a silent one costs most and count how many the tests catch. The
# database tests share one server started and set up here; tests/MUTANTS.md keeps
# the score and the survivors judged harmless. One core (the machine is shared);
# MUTANTS='labkit.perf*' runs one module.
mutate: install
	export LABKIT_DATA_DIR="$(CURDIR)/.mutate/data" LABKIT_TESTS_PREPARED_SERVER=1 \
	  LABKIT_PORT=$$($(BIN)/python -c 'from labkit.server import free_port; print(free_port())'); \
	$(BIN)/labkit up && $(BIN)/labkit setup && $(BIN)/mutmut run --max-children 1 $(MUTANTS); status=$$?; \
	$(BIN)/labkit down; find .mutate -maxdepth 1 -name 'labkit-tests-*' -empty -delete; \
	$(BIN)/mutmut results; exit $$status

up down status: install
	$(BIN)/labkit $@

clean:
	-$(BIN)/labkit down
	rm -rf $(VENV) .pytest_cache .ruff_cache
