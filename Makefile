# The README's two commands. Each creates .venv with the first python3 >= 3.11 it finds.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

demo: $(PY)
	$(PY) -m pip install --quiet -e .
	$(PY) -m lucid_jax

test: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) benchmarks/run.py --markdown benchmarks/RESULTS.md --readme --plot benchmarks/ratios.png

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
