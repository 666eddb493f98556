"""The core against PyTorch 2.13's ``F.instance_norm`` and the float64 oracle."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch
import torch.nn.functional as F

import lucid_jax
from lucid_jax._compat import enable_x64

SHAPES = [(3, 4, 7), (2, 3, 5, 6), (2, 2, 3, 4, 5)]  # ranks 3, 4, 5; every axis reduced > 1


def _inputs(rng, shape, offset=0.0):
    x = (rng.standard_normal(shape) * 2 + offset).astype(np.float32)
    c = shape[1]
    weight = rng.standard_normal(c).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32)
    running_mean = rng.standard_normal(c).astype(np.float32)
    running_var = rng.uniform(0.5, 2.0, c).astype(np.float32)
    return x, weight, bias, running_mean, running_var


@pytest.mark.parametrize(("shape", "affine", "eps", "use_input_stats"),
                         list(itertools.product(SHAPES, [False, True], [1e-5, 1e-3, 0.5],
                                                [True, False])))
def test_forward_matches_torch_and_oracle(rng, shape, affine, eps, use_input_stats):
    x, weight, bias, running_mean, running_var = _inputs(rng, shape, offset=3.0)
    w, b = (weight, bias) if affine else (None, None)
    ours = lucid_jax.instance_norm(x, running_mean, running_var, w, b, use_input_stats, 0.1, eps)

    t = lambda a: None if a is None else torch.from_numpy(a.copy())  # noqa: E731
    theirs = F.instance_norm(t(x), t(running_mean), t(running_var), t(w), t(b),
                             use_input_stats=use_input_stats, momentum=0.1, eps=eps)
    expected = oracle.instance_norm(x, running_mean, running_var, w, b, use_input_stats, eps)
    assert ours.shape == x.shape and ours.dtype == jnp.float32
    oracle.assert_close(ours, expected)
    oracle.assert_close(ours, theirs.numpy())


@pytest.mark.parametrize(("shape", "affine", "use_input_stats"),
                         list(itertools.product(SHAPES, [False, True], [True, False])))
def test_gradients_match_torch(rng, shape, affine, use_input_stats):
    """Gradients w.r.t. x, weight and bias under a random cotangent."""
    x, weight, bias, running_mean, running_var = _inputs(rng, shape, offset=-1.0)
    cotangent = rng.standard_normal(shape).astype(np.float32)

    leaves = [x, weight, bias] if affine else [x]

    def ours(x, weight=None, bias=None):
        return lucid_jax.instance_norm(x, running_mean, running_var, weight, bias,
                                       use_input_stats)

    _, vjp = jax.vjp(ours, *leaves)
    grads = vjp(jnp.asarray(cotangent))

    torch_leaves = [torch.tensor(a, requires_grad=True) for a in leaves]
    out = F.instance_norm(torch_leaves[0], torch.from_numpy(running_mean),
                          torch.from_numpy(running_var), *torch_leaves[1:],
                          use_input_stats=use_input_stats)
    torch_grads = torch.autograd.grad(out, torch_leaves, torch.from_numpy(cotangent))
    assert len(grads) == len(leaves)
    for ours_grad, torch_grad in zip(grads, torch_grads, strict=True):
        # weight/bias gradients are sums over whole instances: compare relative to their size.
        scale = max(1.0, float(np.abs(torch_grad.numpy()).max()))
        oracle.assert_close(np.asarray(ours_grad) / scale, torch_grad.numpy() / scale)
    assert np.abs(np.asarray(grads[0])).max() > 1e-2  # a gradient that is really there


def test_input_gradient_matches_float64_oracle(rng):
    """The float64 core against the closed-form instance-norm backward."""
    x = rng.standard_normal((2, 3, 4, 5))
    g = rng.standard_normal(x.shape)
    weight = rng.standard_normal(3)
    with enable_x64(True):
        _, vjp = jax.vjp(lambda a: lucid_jax.instance_norm(a, weight=jnp.asarray(weight)),
                         jnp.asarray(x))
        (dx,) = vjp(jnp.asarray(g))
        assert dx.dtype == jnp.float64
    mean, var = oracle.moments(x)
    xhat = (x - mean) / np.sqrt(var + 1e-5)
    gw = g * weight[None, :, None, None]
    expected = (gw - gw.mean((2, 3), keepdims=True)
                - xhat * (gw * xhat).mean((2, 3), keepdims=True)) / np.sqrt(var + 1e-5)
    oracle.assert_close(dx, expected, np.float64)


def test_channels_last_equals_channels_first(rng):
    x, weight, bias, *_ = _inputs(rng, (2, 3, 5, 6))
    first = lucid_jax.instance_norm(x, weight=weight, bias=bias)
    last = lucid_jax.instance_norm(np.moveaxis(x, 1, -1), weight=weight, bias=bias,
                                   channel_axis=-1)
    oracle.assert_close(np.moveaxis(np.asarray(last), -1, 1), first)


def test_several_feature_axes(rng):
    """A tuple of channel axes: each (n, c1, c2) instance is normalised over the rest."""
    x = rng.standard_normal((2, 5, 6, 3, 4)).astype(np.float32)
    weight = rng.standard_normal((3, 4)).astype(np.float32)
    ours = lucid_jax.instance_norm(x, weight=weight, channel_axis=(-2, -1))
    oracle.assert_close(ours, oracle.instance_norm(x, weight=weight, channel_axis=(3, 4)))


def test_per_sample_affine(rng):
    """(N, C) weight and bias: conditional instance norm, which PyTorch cannot express."""
    x = rng.standard_normal((3, 4, 6, 5)).astype(np.float32)
    weight = rng.standard_normal((3, 4)).astype(np.float32)
    bias = rng.standard_normal((3, 4)).astype(np.float32)
    ours = lucid_jax.instance_norm(x, weight=weight, bias=bias)
    oracle.assert_close(ours, oracle.instance_norm(x, weight=weight, bias=bias))
    # Sample n alone with the channel affine of row n gives the same numbers.
    for n in range(3):
        alone = lucid_jax.instance_norm(x[n:n + 1], weight=weight[n], bias=bias[n])
        oracle.assert_close(ours[n:n + 1], alone)
