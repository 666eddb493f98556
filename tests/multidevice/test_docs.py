"""``docs/multi-device.md`` runs as written.

Every ```` ```python ```` block is executed, in order and in one namespace, in a subprocess (the
page's first block asks for 8 CPU devices before importing JAX). The ```` ```python multihost ````
block is an excerpt of ``examples/multihost.py`` (run by ``test_multihost.py``): each of its
lines must appear there verbatim, so the page cannot drift from the tested program.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lucid_jax._compat import HAS_EXPLICIT_SHARDING, SHARD_MAP_TRACKS_VARYING

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "multi-device.md"
EXAMPLE = ROOT / "examples" / "multihost.py"

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)

RUNNER = """
import json, sys
blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__docs__"}
for line, source in blocks:
    exec(compile(source, f"docs/multi-device.md (block at line {line})", "exec"), namespace)
print("ALL BLOCKS RAN")
"""


def blocks(info: str) -> list[tuple[int, str]]:
    text = DOC.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(2)) for m in FENCE.finditer(text)
            if m.group(1).strip() == info]


@pytest.mark.skipif(not (HAS_EXPLICIT_SHARDING and SHARD_MAP_TRACKS_VARYING),
                    reason="the page is written for jax >= 0.7 (jax.shard_map, explicit meshes)")
def test_python_blocks_run_on_eight_devices():
    python = blocks("python")
    assert len(python) >= 8, f"expected the page's examples, found {len(python)} blocks"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)  # the page sets it itself
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(python), env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0 and "ALL BLOCKS RAN" in proc.stdout, (
        f"a docs block failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


def test_multihost_excerpt_is_the_tested_program():
    (excerpt,) = [source for _, source in blocks("python multihost")]
    program = EXAMPLE.read_text().splitlines()
    missing = [line for line in excerpt.splitlines() if line.strip() and line not in program]
    assert not missing, f"lines of the docs' multi-host excerpt not in {EXAMPLE.name}: {missing}"


def test_shell_recipe_matches_the_example_arguments():
    (shell,) = [source for _, source in blocks("bash")]
    example = EXAMPLE.read_text()
    flags = set(re.findall(r"--[a-z-]+", shell))
    assert flags, "the shell recipe shows no arguments"
    for flag in flags:
        assert f'"{flag}"' in example, f"{flag} is not an argument of {EXAMPLE.name}"
