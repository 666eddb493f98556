"""The type checker's contract (point 8 of issue 16), kept from drifting.

``make test`` runs mypy over ``lucid_jax`` and ``lucid`` with every function annotated. These tests
keep the configuration honest: no module is switched off, and every silenced line names the
error it silences, so a reader can see what was waived and why.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lucid_jax", "lucid")
BARE_IGNORE = re.compile(r"#\s*type:\s*ignore(?!\[)")  # an ignore without [error-code]


def _mypy_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["mypy"]


def test_mypy_checks_both_packages_with_every_def_annotated():
    config = _mypy_config()
    assert sorted(config["files"]) == sorted(PACKAGES)
    for flag in ("disallow_untyped_defs", "disallow_incomplete_defs", "check_untyped_defs",
                 "warn_unused_ignores"):
        assert config[flag] is True, flag


def test_no_module_is_ignored_wholesale():
    for override in _mypy_config().get("overrides", []):
        assert "ignore_errors" not in override, override
        assert "ignore_missing_imports" not in override, override
        modules = override["module"]
        assert not any(m.split(".")[0] in PACKAGES for m in modules), override


def test_every_type_ignore_names_its_error_code():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BARE_IGNORE.search(line) or "# mypy: ignore-errors" in line
    ]
    assert offenders == []


def test_the_bare_ignore_pattern_catches_what_it_should():
    assert BARE_IGNORE.search("x = f()  # type: ignore")
    assert not BARE_IGNORE.search("x = f()  # type: ignore[attr-defined]  # flax stubs lack it")
