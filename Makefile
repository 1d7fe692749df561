# Quick start: `make demo` and `make test` on a machine with only python3 and make.
VENV ?= .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

.PHONY: install test lint demo demo-ui bench simulator cluster-test clean

# The editable install leaves airflow_live_provider.egg-info in the checkout (setuptools' build
# leftover; the venv has its own metadata): removed, since any process with the checkout on its
# sys.path (PYTHONPATH, pytest) would see a second copy of the distribution, and Airflow would load
# the Live events plugin twice ("already registered": an import error).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]' 'apache-airflow==$(AIRFLOW_VERSION)'
	rm -rf airflow_live_provider.egg-info
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy airflow_live_provider

test: lint
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(PY) scripts/demo.py

# The Live events page over the demo's runs: Airflow's api-server on 127.0.0.1:8080 (Ctrl-C stops).
demo-ui: $(STAMP)
	$(PY) scripts/demo.py --serve-ui

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# A real distributed Airflow (Celery, PostgreSQL, Redis, triggerer, two workers, S3) on loopback.
cluster-test:
	python3 scripts/cluster_test.py

simulator: $(STAMP)
	$(PY) -m airflow_live_provider.simulator --port 8999

clean:
	rm -rf $(VENV) .demo .cluster .pytest_cache .mypy_cache .ruff_cache
