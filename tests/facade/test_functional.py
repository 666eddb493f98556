"""lucid.nn.functional.instance_norm and adain against torch and the float64 oracle."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch

import lucid
from lucid.nn.functional import adain, instance_norm


@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_instance_norm_updates_given_running_stats_in_place_like_torch(momentum, rng):
    mean, var = lucid.zeros(3), lucid.ones(3)
    t_mean, t_var = torch.zeros(3), torch.ones(3)
    weight_np, bias_np = rng.standard_normal((2, 3)).astype(np.float32)
    weight, bias = lucid.tensor(weight_np, requires_grad=True), lucid.tensor(bias_np,
                                                                             requires_grad=True)
    t_weight = torch.tensor(weight_np, requires_grad=True)
    t_bias = torch.tensor(bias_np, requires_grad=True)
    for _ in range(3):
        x_np = (rng.standard_normal((2, 3, 6, 5)) * 2 + 1).astype(np.float32)
        cotangent = rng.standard_normal(x_np.shape).astype(np.float32)
        x, tx = lucid.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        out = instance_norm(x, mean, var, weight, bias, momentum=momentum)
        expected = torch.nn.functional.instance_norm(tx, t_mean, t_var, t_weight, t_bias,
                                                     momentum=momentum)
        out.backward(cotangent)
        expected.backward(torch.tensor(cotangent))
        oracle.assert_close(out.numpy(), expected.detach().numpy())
        oracle.assert_close(out.numpy(), oracle.instance_norm(x_np, weight=weight_np,
                                                              bias=bias_np))
        oracle.assert_close(x.grad, tx.grad.numpy())
    oracle.assert_close(mean, t_mean.numpy())
    oracle.assert_close(var, t_var.numpy())
    oracle.assert_close(weight.grad, t_weight.grad.numpy())
    oracle.assert_close(bias.grad, t_bias.grad.numpy())


def test_instance_norm_with_running_stats_normalises_with_them_and_leaves_them(rng):
    x_np = rng.standard_normal((2, 3, 7)).astype(np.float32)
    mean_np, var_np = np.array([0.5, -1, 2], np.float32), np.array([1, 2, 0.5], np.float32)
    mean, var = lucid.tensor(mean_np), lucid.tensor(var_np)
    out = instance_norm(lucid.tensor(x_np), mean, var, use_input_stats=False)
    expected = torch.nn.functional.instance_norm(torch.tensor(x_np), torch.tensor(mean_np),
                                                 torch.tensor(var_np), use_input_stats=False)
    oracle.assert_close(out.numpy(), expected.numpy())
    oracle.assert_close(out.numpy(), oracle.instance_norm(x_np, mean_np, var_np,
                                                          use_input_stats=False))
    np.testing.assert_array_equal(mean, mean_np)
    np.testing.assert_array_equal(var, var_np)


def test_instance_norm_accepts_plain_arrays_and_momentum_none(rng):
    x_np = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    mean, var = lucid.zeros(3), lucid.ones(3)
    out = instance_norm(x_np, mean, var, momentum=None)
    oracle.assert_close(out.numpy(), oracle.instance_norm(x_np))
    np.testing.assert_array_equal(mean, np.zeros(3))


def test_instance_norm_needs_both_running_stats():
    with pytest.raises(ValueError, match="running_mean and running_var are given together or "
                       "not at all, got running_mean=a tensor and running_var=None"):
        instance_norm(lucid.randn(2, 3, 4), running_mean=lucid.zeros(3))


def test_instance_norm_bad_input_raises_and_changes_nothing():
    mean, var = lucid.zeros(3), lucid.ones(3)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        instance_norm(lucid.ones(2, 3, 1), mean, var)
    with pytest.raises(ValueError, match=r"weight has shape \(4,\), expected \(3,\)"):
        instance_norm(lucid.randn(2, 3, 5), mean, var, weight=lucid.ones(4))
    np.testing.assert_array_equal(mean, np.zeros(3))
    np.testing.assert_array_equal(var, np.ones(3))


def test_adain_matches_the_oracle_and_is_differentiable_in_both_inputs(rng):
    content_np = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    style_np = (rng.standard_normal((2, 3, 5, 5)) * 3 + 1).astype(np.float32)
    cotangent = rng.standard_normal(content_np.shape).astype(np.float32)
    content = lucid.tensor(content_np, requires_grad=True)
    style = lucid.tensor(style_np, requires_grad=True)
    out = adain(content, style)
    out.backward(cotangent)
    # float64: out = normalised(content) * std + mean, with the style's biased statistics.
    eps = 1e-5
    mean, var = oracle.moments(style_np)
    std = np.sqrt(var + eps)
    normalised = oracle.instance_norm(content_np)
    oracle.assert_close(out.numpy(), normalised * std + mean)
    oracle.assert_close(content.grad, oracle.input_grad(content_np, cotangent,
                                                        weight=std[..., 0, 0]))
    g = cotangent.astype(np.float64)
    d_mean, d_std = g.sum((2, 3), keepdims=True), (g * normalised).sum((2, 3), keepdims=True)
    length = style_np.shape[2] * style_np.shape[3]
    oracle.assert_close(style.grad, (d_mean + d_std * (style_np - mean) / std) / length)


@pytest.mark.parametrize("kind", ["numpy", "jax", "one of each"])
def test_array_running_stats_that_would_be_updated_raise_before_any_work(kind):
    mean, var = {"numpy": (np.zeros(3, np.float32), np.ones(3, np.float32)),
                 "jax": (jnp.zeros(3), jnp.ones(3)),
                 "one of each": (lucid.zeros(3), np.ones(3, np.float32))}[kind]
    got = {"numpy": "running_mean=numpy.ndarray and running_var=numpy.ndarray",
           "jax": r"running_mean=jaxlib\..*ArrayImpl and running_var=jaxlib\..*ArrayImpl",
           "one of each": "running_mean=lucid._tensor.Tensor and running_var=numpy.ndarray"}
    x = lucid.randn(2, 3, 5) * 2 + 3
    with pytest.raises(TypeError, match="^use_input_stats=True updates running_mean and "
                       f"running_var in place, so they must be lucid.Tensor, got {got[kind]}; "
                       "pass lucid.Tensor running statistics, or use_input_stats=False to "
                       "normalise with them, or lucid_jax.update_running_stats for pure code$"):
        instance_norm(x, mean, var)
    np.testing.assert_array_equal(mean, np.zeros(3))
    np.testing.assert_array_equal(var, np.ones(3))


def test_array_running_stats_are_fine_when_nothing_is_updated(rng):
    x_np = rng.standard_normal((2, 3, 7)).astype(np.float32)
    mean_np, var_np = np.array([0.5, -1, 2], np.float32), np.array([1, 2, 0.5], np.float32)
    expected = torch.nn.functional.instance_norm(torch.tensor(x_np), torch.tensor(mean_np),
                                                 torch.tensor(var_np), use_input_stats=False)
    for mean, var in ((mean_np, var_np), (jnp.asarray(mean_np), jnp.asarray(var_np))):
        out = instance_norm(lucid.tensor(x_np), mean, var, use_input_stats=False)
        oracle.assert_close(out.numpy(), expected.numpy())


def test_an_unused_momentum_is_never_checked_like_torch(rng):
    x_np = rng.standard_normal((2, 3, 7)).astype(np.float32)
    mean, var = lucid.tensor([0.5, -1, 2]), lucid.tensor([1.0, 2, 0.5])
    for kwargs in ({}, {"running_mean": mean, "running_var": var, "use_input_stats": False}):
        t_kwargs = {k: torch.tensor(np.asarray(v)) if isinstance(v, lucid.Tensor) else v
                    for k, v in kwargs.items()}
        expected = torch.nn.functional.instance_norm(torch.tensor(x_np), momentum=1.5,
                                                     **t_kwargs)
        out = instance_norm(lucid.tensor(x_np), momentum=1.5, **kwargs)
        oracle.assert_close(out.numpy(), expected.numpy())
    with pytest.raises(ValueError, match=r"momentum must be a finite float \(or None to freeze\), "
                       "got nan"):
        instance_norm(lucid.tensor(x_np), mean, var, momentum=float("nan"))
    np.testing.assert_array_equal(mean, np.array([0.5, -1, 2], np.float32))


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_instance_norm_rank_error_says_at_least_3_d_like_lucid(shape):
    with pytest.raises(ValueError, match=r"got rank \d with shape .*at least 3-D"):
        instance_norm(lucid.ones(*shape))
