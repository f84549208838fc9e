# Two commands that work on a fresh machine with Python 3.10+ and PyPI:
#   make test   create .venv, install keras-liver[serving,notebooks,dev], run pytest (not slow/gpu)
#   make demo   create .venv, install, run the main job into demo_out/
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: test demo install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): setup.py $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[serving,notebooks,dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not gpu" $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --out $(DEMO_OUT)

bench: $(STAMP)
	$(BIN)/python scripts/bench_io.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info .pytest_cache
