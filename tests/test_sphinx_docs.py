"""``make docs``: the Sphinx build (API reference, guides, every notebook as a page) has no
warning, and each notebook page shows the outputs it is stored with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         ROOT / "docs", tmp_path], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    api = (tmp_path / "api.html").read_text()
    for name in ("lucid_jax.instance_norm", "lucid_jax.linen.InstanceNorm",
                 "lucid_jax.nnx.InstanceNorm", "lucid.nn.InstanceNorm2d",
                 "lucid_jax.nnx.AdaIN", "lucid_jax.linen.ConditionalInstanceNorm",
                 "lucid_jax.interop.torch_to_nnx", "lucid.optim.SGD", "lucid.save"):
        assert f'id="{name}"' in api, name
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = (tmp_path / "notebooks" / notebook.with_suffix(".html").name).read_text()
        assert "colab-badge.svg" in page and "<img" in page, notebook.name  # badge and plots
