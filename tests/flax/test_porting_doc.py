"""``docs/porting-pytorch.md`` runs as written, and proves what it says.

Every ```` ```python ```` block is executed in order, in one namespace: a CycleGAN-style
generator trained in PyTorch, ported to NNX and Linen, compared in evaluation and training
mode within 1e-5 (the blocks assert it), and converted back to a PyTorch model that loads it
with ``strict=True``, tensor for tensor equal.
"""

from __future__ import annotations

import re
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

import lucid_jax.nnx
from lucid_jax._compat import flax_version, iter_modules

DOC = Path(__file__).resolve().parents[2] / "docs" / "porting-pytorch.md"


def _blocks() -> list[tuple[int, str]]:
    text = DOC.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)]


@pytest.mark.skipif(flax_version() < (0, 12),
                    reason="the page holds NNX layers in nnx.List/nnx.Dict (flax >= 0.12)")
def test_porting_doc_runs_and_matches_torch(capsys):
    blocks = _blocks()
    assert len(blocks) >= 10, f"expected the page's walkthrough, found {len(blocks)} blocks"
    namespace: dict = {"__name__": "__docs__"}
    for line, source in blocks:
        exec(compile(source, f"{DOC} (block at line {line})", "exec", dont_inherit=True),
             namespace)  # noqa: S102

    torch_model, model = namespace["torch_model"], namespace["model"]
    # a realistic network: the layers the issue names, with trained (non-initial) state
    kinds = {type(m) for m in torch_model.modules()}
    assert {torch.nn.ReflectionPad2d, torch.nn.Conv2d, torch.nn.InstanceNorm2d,
            torch.nn.ConvTranspose2d} <= kinds
    (up,) = namespace["torch_model"].up
    assert (up.conv.stride, up.conv.padding, up.conv.output_padding) == ((2, 2), (1, 1), (1, 1))
    norms = [m for m in torch_model.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert len(norms) == 7 and all(m.affine and m.track_running_stats for m in norms)
    assert all(not torch.equal(m.running_var, torch.ones_like(m.running_var)) for m in norms)
    ported = [m for _, m in iter_modules(model) if isinstance(m, lucid_jax.nnx.InstanceNorm)]
    assert len(ported) == 7
    # the Linen port holds every variable of the model, in both collections
    variables = namespace["variables"]
    assert sum(np.size(v) for v in jax.tree.leaves(variables)) == sum(
        v.numel() for k, v in namespace["state_dict"].items() if "num_batches" not in k)
    stats = jax.tree.leaves(variables["batch_stats"])
    assert len(stats) == 2 * 7

    printed = capsys.readouterr().out
    assert "'head.1.wieght' (3, 8, 7, 7); nearest: 'head.1.weight'" in printed
    assert "pass prefix= one of its normalisation layers" in printed

