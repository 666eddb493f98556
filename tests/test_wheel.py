"""The published artefact works without the source tree.

Builds the sdist and the wheel with ``python -m build`` (the wheel from the sdist, as pip
builds it for users of the sdist) and checks both with ``twine check --strict``. Then, in a
fresh virtual environment outside the checkout that starts like a Colab runtime (this
interpreter's jax, jaxlib, flax, optax and numpy installed, lucid-jax not), it runs the
notebooks' install cell against the built wheel, checks that none of those changed, and there
runs ``python -m lucid_jax``, imports
``lucid``, ``lucid_jax.linen`` and ``lucid_jax.nnx``, and executes the quickstart notebook.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

import lucid_jax

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebooks.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

# What a Colab runtime already holds, which installing lucid-jax must leave as it is.
RUNTIME = ("jax", "jaxlib", "flax", "optax", "numpy")

# The notebook a new user opens first.
QUICKSTART = ROOT / "notebooks" / "01_quickstart_lucid.ipynb"


def _run(command: list[str], cwd: Path, timeout: int = 900) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_NO_COMPILE"] = "1"  # skip byte-compiling ~1 GB of dependencies; imports still work
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (f"{command}\n{result.stdout[-4000:]}\n"
                                    f"{result.stderr[-4000:]}")
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out)
    return out


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    [wheel] = dist.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh venv holding this interpreter's jax, jaxlib, flax, optax and numpy, then
    lucid-jax by the install cell. Under ``make test-floor`` these are the declared floor
    (Colab's runtime of March 2025), so this is the Colab path at the floor."""
    root = tmp_path_factory.mktemp("colab")
    assert ROOT not in root.parents
    _run([sys.executable, "-m", "venv", root / "venv"], cwd=root)
    assert "include-system-site-packages = false" in (root / "venv" / "pyvenv.cfg").read_text()
    python = root / "venv" / "bin" / "python"
    runtime = {name: importlib.metadata.version(name) for name in RUNTIME}
    _run([python, "-m", "pip", "install", "-q", *(f"{n}=={v}" for n, v in runtime.items())],
         cwd=root)
    cell = tool.INSTALL_CELL.replace('"lucid-jax[notebooks]"',
                                     f'"lucid-jax[notebooks] @ {wheel.as_uri()}"')
    assert cell != tool.INSTALL_CELL
    _run([python, "-c", cell], cwd=root)
    assert _versions(python, root) == runtime, "the install cell changed the runtime's packages"
    # Upgrading lucid-jax from the wheel, without constraints, keeps them too.
    _run([python, "-m", "pip", "install", "-q", "--upgrade", wheel], cwd=root)
    assert _versions(python, root) == runtime, "pip install -U lucid-jax changed them"
    return root / "venv"


def _versions(python: Path, cwd: Path) -> dict[str, str]:
    code = f"import importlib.metadata as m; print(*[m.version(n) for n in {RUNTIME!r}])"
    return dict(zip(RUNTIME, _run([python, "-c", code], cwd=cwd).split(), strict=True))


def test_twine_check(dist):
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"]
    assert "PASSED" in _run([sys.executable, "-m", "twine", "check", "--strict", *files],
                            cwd=dist)


def test_artefacts_carry_version_license_and_both_packages(dist, wheel):
    version = lucid_jax.__version__
    assert wheel.name == f"lucid_jax-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(f"lucid_jax-{version}.dist-info/METADATA").decode()
    assert "lucid/__init__.py" in names and "lucid_jax/__init__.py" in names
    assert "lucid_jax/py.typed" in names and "lucid/py.typed" in names
    assert f"lucid_jax-{version}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.split("/")[0] in ("tests", "tools", "benchmarks")]
    assert f"Version: {version}\n" in metadata and "License-Expression: MIT\n" in metadata
    for requirement in ("jax>=0.5.2", "jaxlib>=0.5.1", "flax>=0.10.4", "optax>=0.2.4"):
        assert f"Requires-Dist: {requirement}\n" in metadata
    with tarfile.open(dist / f"lucid_jax-{version}.tar.gz") as tf:
        assert f"lucid_jax-{version}/LICENSE" in tf.getnames()


def test_installed_package_runs_outside_the_checkout(venv, tmp_path):
    python = venv / "bin" / "python"
    out = _run([python, "-m", "lucid_jax"], cwd=tmp_path)
    assert "all checks passed" in out
    code = ("import lucid, lucid_jax, lucid_jax.linen, lucid_jax.nnx, lucid_jax.interop; "
            "print(lucid_jax.__file__); print(lucid.__file__); print(lucid.__version__)")
    core, facade, version = _run([python, "-c", code], cwd=tmp_path).split()
    assert Path(core).is_relative_to(venv) and Path(facade).is_relative_to(venv)
    assert version == lucid_jax.__version__


def test_quickstart_notebook_runs_on_the_installed_package(venv, tmp_path):
    copy = tmp_path / QUICKSTART.name
    shutil.copy(QUICKSTART, copy)
    nb = nbformat.read(copy, as_version=4)
    tool.execute(nb, tmp_path, tmp_path / "kernels", python=str(venv / "bin" / "python"))
    assert all(out.output_type != "error" for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)
