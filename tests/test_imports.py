"""What each import loads: the layers stay one-way (core <- Flax modules; interop on demand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _loaded(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_core_does_not_import_flax():
    assert _loaded("import sys, lucid_jax; print('flax' in sys.modules)") == "False"


def test_the_flax_modules_do_not_load_the_checkpoint_converters():
    code = ("import sys, lucid_jax.linen, lucid_jax.nnx; print(sorted(m for m in sys.modules "
            "if m.startswith('lucid_jax.') and 'interop' in m))")
    assert _loaded(code) == "[]"
