# Two entry points on a fresh clone: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSET := ../shared/data/devset/sentences.tsv
EVAL_SET := $(if $(wildcard $(DEVSET)),--eval-set $(DEVSET),)

.PHONY: run test lint check bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,dask]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m kwct_ml.dataset check
	$(PY) -m kwct_ml.train --config experiments/default.toml $(EVAL_SET)
	$(PY) -m kwct_ml.predict data/raw --output out/sample_tags.csv --summary out/sample_summary.csv && head -n 4 out/sample_tags.csv
	$(PY) -c "import pandas as pd; print(pd.read_csv('out/sample_summary.csv')[['doc_id', 'n_sentences', 'dominant_topic', 'dominant_stance']].to_string(index=False))"

$(VENV)/.bench-installed: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,dask,bench]"
	touch $@

# The issue-7 benchmarks (need ../shared/data; their run times are in experiments/benchmarks.md): docs/benchmarks.md.
bench: $(VENV)/.bench-installed
	$(PY) bench/mawqif.py
	$(PY) bench/ant_topic.py
	$(PY) bench/throughput.py

# Every shown output of README.md, docs/predict.md and docs/labelling.md, from the current code.
docs: $(STAMP)
	$(PY) docs/regenerate.py

check: $(STAMP)
	$(PY) -m kwct_ml.dataset check

lint: $(STAMP)
	$(PY) -m ruff check src tests bench

test: lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
