"""Every notebook in notebooks/ is Colab-ready, stored with its outputs, and runs.

The checks share their definitions (badge, install cell, volatile metadata) with
``tools/notebooks.py``, the tool behind ``make notebooks``. A copy of each notebook is executed
in a scratch directory on this interpreter's kernel, so a run proves the notebook needs nothing
from the repository and leaves nothing in it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebooks.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.extend(str(v) for k, v in out.get("data", {}).items() if not k.startswith("image/"))
        parts.extend(out.get("traceback", []))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_colab_ready(path):
    assert tool.INSTALL_CELL.startswith(tool.INSTALL_MARKER)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.splitlines()[0] == tool.badge(path), "run `make notebooks`"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[0].source == tool.INSTALL_CELL, "run `make notebooks`"
    assert sum(cell.cell_type == "markdown" for cell in nb.cells) >= len(code) // 2, "add prose"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_stored_with_clean_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: run `make notebooks` ({counts})"
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors
    plots = [out for cell in code for out in cell.outputs if "image/png" in out.get("data", {})]
    assert plots, f"{path.name}: every notebook shows a matplotlib plot"
    for cell in nb.cells:
        volatile = {"execution", "ExecuteTime", "collapsed", "scrolled"} & set(cell.metadata)
        assert not volatile, f"{path.name}: volatile cell metadata {volatile}"
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info == {"name": "python"}
    text = "\n".join(cell.source + _outputs_text(cell) for cell in nb.cells)
    leaked = [p for p in tool.machine_paths() if p in text]
    assert not leaked, f"{path.name}: outputs mention {leaked}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    tool.execute(nb, tmp_path, tmp_path / "kernels")  # raises CellExecutionError on any error
    assert all(out.output_type != "error" for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)
    assert not (ROOT / "notebooks" / path.name).samefile(copy)


def test_readme_links_every_notebook_with_its_badge():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.name})" in readme and tool.badge(path) in readme, path.name


# --- the install cell, on a simulated Colab -------------------------------------------------

def _distribution(name, version):
    return SimpleNamespace(metadata={"Name": name}, version=version)


def _run_install_cell(monkeypatch, *, importable, installed):
    """Execute INSTALL_CELL with lucid_jax (not) importable and these distributions installed."""
    calls = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        (real_find_spec(name) if importable else None) if name == "lucid_jax"
        else real_find_spec(name, *a)))
    monkeypatch.setattr(importlib.metadata, "distributions",
                        lambda: [_distribution(n, v) for n, v in installed.items()])

    def check_call(command):
        constraints = Path(command[command.index("--constraint") + 1])
        calls.append((command, constraints.read_text()))
        constraints.unlink()

    monkeypatch.setattr(subprocess, "check_call", check_call)
    exec(compile(tool.INSTALL_CELL, "install-cell", "exec"), {})  # noqa: S102
    return calls


def test_install_cell_does_nothing_when_lucid_jax_is_importable(monkeypatch):
    assert _run_install_cell(monkeypatch, importable=True, installed={"jax": "0.4.33"}) == []


def test_install_cell_pins_the_runtime_jax(monkeypatch):
    installed = {"jax": "0.7.2", "jaxlib": "0.7.2", "jax-cuda12-plugin": "0.7.2",
                 "libtpu": "0.0.21", "numpy": "2.0.2", "flax": "0.10.6",
                 None: "1.0"}  # a broken distribution without a name
    [(command, constraints)] = _run_install_cell(monkeypatch, importable=False,
                                                  installed=installed)
    assert command[:5] == [sys.executable, "-m", "pip", "install", "-q"]
    assert "lucid-jax[notebooks]" in command
    assert sorted(constraints.splitlines()) == [
        "jax-cuda12-plugin==0.7.2", "jax==0.7.2", "jaxlib==0.7.2", "libtpu==0.0.21"]


@pytest.mark.parametrize("floor_or_newer", ["0.5.2", "0.5.3", "0.6.2", "0.10.2"])
def test_install_cell_accepts_the_floor_and_newer(monkeypatch, floor_or_newer):
    installed = {"jax": floor_or_newer, "jaxlib": floor_or_newer}
    [(_, constraints)] = _run_install_cell(monkeypatch, importable=False, installed=installed)
    assert f"jax=={floor_or_newer}" in constraints.splitlines()


def test_install_cell_installs_jax_where_there_is_none(monkeypatch):
    [(command, constraints)] = _run_install_cell(monkeypatch, importable=False,
                                                  installed={"numpy": "2.0.2"})
    assert "lucid-jax[notebooks]" in command and constraints == ""


@pytest.mark.parametrize("old", ["0.4.33", "0.4.38", "0.5.1", "0.5.0rc1"])
def test_install_cell_refuses_an_older_jax_with_the_fix(monkeypatch, old):
    message = re.escape(f"This runtime has jax {old}; lucid-jax needs jax>=0.5.2.")
    with pytest.raises(RuntimeError, match=message + ".*restart the runtime"):
        _run_install_cell(monkeypatch, importable=False, installed={"jax": old, "jaxlib": old})


# --- the tool ---------------------------------------------------------------------------------

def test_normalise_adds_badge_and_install_cell_once(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    path = tmp_path / "05_example.ipynb"
    nb = new_notebook(cells=[new_markdown_cell("# Title\n\nText."), new_code_cell("!pip x"),
                             new_code_cell("print(1)")])
    tool.normalise(nb, path)
    first = nb.cells[0].source
    assert first.startswith(tool.badge(path) + "\n\n# Title")
    assert "/blob/main/notebooks/05_example.ipynb" in first
    assert [c.source for c in nb.cells[1:]] == [tool.INSTALL_CELL, "!pip x", "print(1)"]
    tool.normalise(nb, path)
    assert nb.cells[0].source == first  # idempotent: one badge, one install cell
    assert [c.source for c in nb.cells[1:]] == [tool.INSTALL_CELL, "!pip x", "print(1)"]


def test_normalise_updates_an_older_install_cell():
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    older = tool.INSTALL_MARKER + " (an older version)\nprint('old')"
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell(older), new_code_cell("1")])
    tool.normalise(nb, Path("x.ipynb"))
    assert [c.source for c in nb.cells[1:]] == [tool.INSTALL_CELL, "1"]


def test_normalise_fills_the_benchmark_cell():
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell(tool.INSTALL_CELL),
                             new_code_cell("x", metadata={"tags": [tool.RESULTS_TAG]})])
    tool.normalise(nb, Path("x.ipynb"))
    namespace: dict = {}
    exec(nb.cells[2].source, namespace)  # noqa: S102
    assert namespace["RESULTS_MD"] == tool.RESULTS.read_text().strip() + "\n"


def test_normalise_refuses_a_notebook_without_a_title_cell():
    from nbformat.v4 import new_code_cell, new_notebook

    with pytest.raises(ValueError, match="x.ipynb: the first cell must be markdown"):
        tool.normalise(new_notebook(cells=[new_code_cell("1")]), Path("x.ipynb"))


def test_normalise_refuses_a_notebook_without_code():
    from nbformat.v4 import new_markdown_cell, new_notebook

    with pytest.raises(ValueError, match="x.ipynb: no code cell to follow"):
        tool.normalise(new_notebook(cells=[new_markdown_cell("# T")]), Path("x.ipynb"))
