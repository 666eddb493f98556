"""Shared helpers for the Flax tests: a PyTorch reference run, channel moves, random inputs."""

from __future__ import annotations

import flax
import numpy as np
import pytest
import torch
from flax import nnx

TORCH_CLASSES = {1: torch.nn.InstanceNorm1d, 2: torch.nn.InstanceNorm2d, 3: torch.nn.InstanceNorm3d}

# (channels-last shape) per number of spatial axes; every reduced axis has >= 2 elements.
SHAPES = {1: (3, 7, 4), 2: (2, 5, 6, 3), 3: (2, 3, 4, 5, 2)}


def channels_first(x):
    return np.moveaxis(np.asarray(x), -1, 1)


def channels_last(x):
    return np.moveaxis(np.asarray(x), 1, -1)


def random_inputs(rng, shape, steps, offset=2.0, spread=3.0):
    """``steps`` channels-last float32 batches with per-channel offsets and scales."""
    c = shape[-1]
    return [(rng.normal(size=shape) * rng.uniform(0.5, spread, c)
             + rng.uniform(-offset, offset, c)).astype(np.float32) for _ in range(steps)]


def torch_layer(rng, spatial, channels, momentum=0.1, eps=1e-5):
    layer = TORCH_CLASSES[spatial](channels, eps=eps, momentum=momentum, affine=True,
                                   track_running_stats=True)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(rng.normal(1, 0.3, channels).astype(np.float32)))
        layer.bias.copy_(torch.from_numpy(rng.normal(0, 0.3, channels).astype(np.float32)))
    return layer


def torch_run(layer, xs_last, x_eval_last):
    """Train-mode outputs and running stats after each step, then the eval output (NHWC)."""
    outs, stats = [], []
    layer.train()
    for x in xs_last:
        y = layer(torch.from_numpy(channels_first(x)))
        outs.append(channels_last(y.detach().numpy()))
        stats.append((layer.running_mean.numpy().copy(), layer.running_var.numpy().copy()))
    layer.eval()
    y_eval = channels_last(layer(torch.from_numpy(channels_first(x_eval_last))).detach().numpy())
    return outs, stats, y_eval


# flax.nnx.InstanceNorm exists from flax 0.12; below it, the NNX comparisons are skipped (the
# Linen ones still run against flax.linen.InstanceNorm).
FLAX_NNX_INSTANCE_NORM = getattr(nnx, "InstanceNorm", None)
needs_flax_nnx_instance_norm = pytest.mark.skipif(
    FLAX_NNX_INSTANCE_NORM is None,
    reason=f"flax.nnx.InstanceNorm is new in flax 0.12 (this is flax {flax.__version__})")
