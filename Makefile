# Two entry points for a fresh clone: `make demo` and `make test`.
# Each creates .venv with the pinned stack on first use (a few minutes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := demo

.PHONY: install demo test bench bench-quick clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --progress-bar off -e '.[test]'
	touch $@

demo: install
	$(PY) -m tfrs_adcg.synthetic --output $(DEMO)/raw
	$(PY) -m beam.preprocess --input '$(DEMO)/raw/events.csv' \
	  --advertiser_catalog $(DEMO)/raw/advertisers.csv --output $(DEMO)/data
	$(PY) -m tfrs_adcg.train --data $(DEMO)/data --model_dir $(DEMO)/model \
	  --export_dir $(DEMO)/serving/adcg
	$(PY) -m export.check $$(ls -d $(DEMO)/serving/adcg/* | sort -n | tail -1)
	$(PY) -m beam.batch_candidates --input '$(DEMO)/raw/events.csv' \
	  --model $$(ls -d $(DEMO)/serving/adcg/* | sort -n | tail -1) \
	  --output $(DEMO)/candidates

test: install
	$(PY) -m pytest tests

bench: install
	$(PY) -m benchmarks.run

bench-quick: install
	$(PY) -m benchmarks.run --quick

clean:
	rm -rf $(DEMO) .pytest_cache
