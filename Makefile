# The README's two commands (demo, test: lint, type check, the suite), and bench, notebooks, docs.
# Each creates .venv with the first python3 >= 3.11 it finds.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

FLOOR  := .venv-floor
FLOOR_PY := $(FLOOR)/bin/python

.PHONY: demo test test-floor bench notebooks docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

demo: $(PY)
	$(PY) -m pip install --quiet -e .
	$(PY) -m lucid_jax

test: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --dist loadfile

# The same suites (slow tests aside) on the declared lower bounds (tests/floor/constraints.txt:
# jax 0.5.2, flax 0.10.4, ...), then the Colab path there: the wheel installed by the notebooks'
# install cell into an environment holding the floor, which it must not change, and every
# notebook executed on the floor.
$(FLOOR_PY):
	$(PYTHON) -m venv $(FLOOR)
	$(FLOOR_PY) -m pip install --quiet --upgrade pip

test-floor: $(FLOOR_PY)
	$(FLOOR_PY) -m pip install --quiet -c tests/floor/constraints.txt -e ".[test]"
	$(FLOOR_PY) -m pytest -n 2 --dist loadfile -m "not slow" tests/core tests/flax tests/facade \
		tests/multidevice tests/test_floor.py tests/test_imports.py lucid_jax lucid
	$(FLOOR_PY) -m pytest -n 2 tests/test_wheel.py tests/test_notebooks.py

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
	rm -rf $(VENV) $(FLOOR) .pytest_cache .hypothesis build dist docs/_build *.egg-info
