# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cur demo

test: $(STAMP)
	# bytecode caches on: a machine that sets PYTHONDONTWRITEBYTECODE recompiles every module in every
	# worker and every `cur` process a test starts (about 0.2 CPU-s each)
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -n auto --dist worksteal

clean:
	rm -rf $(VENV) cur-demo.db* .pytest_cache
