# Two commands that work on a fresh machine with Python 3.10+ and PyPI:
#   make test   create .venv, install keras-liver[serving,notebooks,dev,batch], run pytest (not slow/gpu)
#   make demo   create .venv, install, run the main job into demo_out/
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: test demo install bench bench-peers presets clean
PEERS := .venv-peers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): setup.py $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[serving,notebooks,dev,batch]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not gpu" $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --out $(DEMO_OUT)

bench: $(STAMP)
	$(BIN)/python scripts/bench_io.py

# Rebuild every shipped preset from scratch with its committed recipe (hours on 2 CPU cores; see docs/RESULTS.md).
presets: $(STAMP)
	$(BIN)/python scripts/train_presets.py ct_liver_tumour
	$(BIN)/python scripts/train_presets.py dce_lesion

# MONAI and CPU torch in a virtualenv of their own (never a dependency of keras-liver), then the side-by-side run.
$(PEERS)/bin/python:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet torch==2.13.0 monai==1.6.1

bench-peers: $(STAMP) $(PEERS)/bin/python
	$(BIN)/python scripts/bench_vs_monai.py --peers $(PEERS)/bin/python --cascade ct_liver_tumour --out bench_peers.json

clean:
	rm -rf $(VENV) $(PEERS) $(DEMO_OUT) build *.egg-info .pytest_cache
