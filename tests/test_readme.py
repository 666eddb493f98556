"""The README's examples run exactly as written, and it shows the two commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _run(block: str) -> dict:
    """One block, in a fresh namespace: it must import what it uses."""
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    return namespace


def test_every_fenced_block_is_tagged():
    """An untagged or ``py`` block would escape this test; shell blocks are tagged ``sh``."""
    fences = re.findall(r"^```(\S*)$", README.read_text(), flags=re.M)
    openings = fences[::2]
    assert all(tag in ("python", "sh", "text") for tag in openings), openings


def test_readme_python_examples_run():
    blocks = _python_blocks()
    assert len(blocks) >= 3
    namespaces = [_run(block) for block in blocks]

    def block_defining(name):
        return next(ns for ns in namespaces if name in ns)

    assert block_defining("stylised")["stylised"].shape == (8, 3, 32, 32)
    facade = block_defining("output")
    assert facade["out"].shape == (2, 16, 8, 32, 32)
    # The facade example's gradient: each normalised slice sums to a constant.
    assert abs(facade["x"].grad).max() < 1e-5
    flax_block = block_defining("y_masked")
    assert flax_block["layer"].use_running_average is True
    assert flax_block["updates"]["batch_stats"]["mean"].shape == (64,)


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
