# The README's two commands (demo, test), and bench, notebooks, docs.
# Each creates .venv with the first python3 >= 3.11 it finds.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test bench notebooks docs clean

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

# Re-execute every notebook in place (stored with outputs) and strip volatile metadata.
notebooks: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) tools/notebooks.py

# The API reference and the notebooks as pages, into docs/_build/html; warnings are errors.
docs: $(PY)
	$(PY) -m pip install --quiet -e ".[docs]"
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist docs/_build *.egg-info
