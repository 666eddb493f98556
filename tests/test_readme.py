"""The README's examples run as written, and it shows the two commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the facade example saves a checkpoint
    blocks = _python_blocks()
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    # The facade example's gradient: each normalised slice sums to a constant.
    assert namespace["out"].shape == (2, 16, 8, 32, 32)
    assert abs(namespace["x"].grad).max() < 1e-5
    assert namespace["stylised"].shape == (8, 3, 32, 32)


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
