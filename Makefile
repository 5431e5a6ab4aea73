# `make run` and `make test` are the only set-up a fresh machine needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SUITE   ?= suites/wgan_vs_gan.yaml

.PHONY: run test lint bench docs clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ganbench run $(SUITE)

test: $(STAMP)
	$(BIN)/ruff check ganbench tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/toy_throughput.py
	$(BIN)/python bench/toy_throughput.py --steps 20 --runs 40 --set defaults.model.hidden=512
	$(BIN)/python bench/sweep_throughput.py
	$(BIN)/python bench/eval_speed.py
	$(BIN)/python bench/image_throughput.py
	$(BIN)/python bench/fixed_costs.py
	$(BIN)/python bench/sweep_scale.py
	$(BIN)/python bench/module_vs_builtin.py

docs: $(STAMP)
	$(BIN)/ganbench schema --out docs

clean:
	rm -rf $(VENV) runs
