"""The supported range is declared once and tested at both ends.

``pyproject.toml``'s lower bounds are the versions ``make test-floor`` installs
(``tests/floor/constraints.txt``), and an environment below them gets one clear
``ImportError`` at import, naming the installed and the required versions and the fix.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lucid_jax import _compat

ROOT = Path(__file__).resolve().parent.parent


def _lower_bounds() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    return dict(re.fullmatch(r"([\w-]+)>=([\d.]+)", d).groups() for d in dependencies)


def _floor_pins() -> dict[str, str]:
    lines = (ROOT / "tests" / "floor" / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_every_runtime_dependency_has_a_lower_bound_pinned_by_the_floor_run():
    bounds, pins = _lower_bounds(), _floor_pins()
    assert set(bounds) <= set(pins), set(bounds) - set(pins)
    assert {name: pins[name] for name in bounds} == bounds


def test_the_compat_module_names_the_same_floor():
    bounds = _lower_bounds()
    assert (bounds["jax"], bounds["jaxlib"], bounds["flax"]) == (
        _compat.JAX_FLOOR, _compat.JAXLIB_FLOOR, _compat.FLAX_FLOOR)


def test_installed_versions_are_inside_the_range():
    import jax

    assert _compat.version_tuple(jax.__version__) >= _compat.version_tuple(_compat.JAX_FLOOR)
    assert _compat.flax_version() >= _compat.version_tuple(_compat.FLAX_FLOOR)


@pytest.mark.parametrize("version, expected", [("0.5.2", (0, 5, 2)), ("0.10", (0, 10)),
                                               ("0.6.0rc1", (0, 6, 0)),
                                               ("0.4.33+cuda12", (0, 4, 33))])
def test_version_tuple(version, expected):
    assert _compat.version_tuple(version) == expected


def test_require_accepts_the_floor_and_newer():
    for installed in ("0.5.2", "0.5.10", "0.10.2"):
        _compat.require("jax", installed, "0.5.2")


def _import_with_version(package: str, version: str, module: str) -> subprocess.CompletedProcess:
    code = f"import {package}; {package}.__version__ = {version!r}; import {module}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize("package, version, module", [
    ("jax", "0.4.33", "lucid_jax"),
    ("jax", "0.4.33", "lucid"),
    ("jaxlib", "0.4.36", "lucid_jax"),
    ("flax", "0.10.3", "lucid_jax.nnx"),
    ("flax", "0.8.5", "lucid_jax.linen"),
])
def test_below_the_floor_is_one_clear_import_error(package, version, module):
    result = _import_with_version(package, version, module)
    assert result.returncode != 0
    floor = _lower_bounds()[package]
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"ImportError: lucid-jax needs {package}>={floor}, but this environment has {package} "
        f"{version}. Upgrade it with: pip install -U '{package}>={floor}' (on a GPU or TPU "
        f"runtime, upgrade JAX for it: 'jax[cuda12]>=0.5.2' or 'jax[tpu]>=0.5.2'), then "
        "restart the Python process."), result.stderr


def test_the_core_does_not_import_flax_to_check_it():
    code = "import sys, lucid_jax; print('flax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
