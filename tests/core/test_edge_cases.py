"""Edge cases where the core must give a finite, decided answer: PyTorch's where PyTorch
returns one (overflowing deviations, ``eps=0`` on a constant instance, any finite momentum),
Flax's under ``edge_cases="flax"`` (nothing left to reduce), and 0 for a fully masked
instance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch
import torch.nn.functional as F

import lucid_jax


@pytest.mark.parametrize("scale", [1e18, 1e20, 1e30, 1e37])
def test_overflowing_deviations_match_torch(rng, scale):
    x = (rng.standard_normal((2, 3, 8, 8)) * scale).astype(np.float32)
    expected = F.instance_norm(torch.from_numpy(x)).numpy()
    assert np.isfinite(expected).all()
    ours = np.asarray(lucid_jax.instance_norm(x))
    assert np.isfinite(ours).all()
    oracle.assert_close(ours, expected)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("scale,length", [(1e37, 1000), (1e36, 4096)])
def test_sums_that_overflow_still_give_torchs_output_and_running_mean(rng, scale, length,
                                                                      masked):
    """|x| times the instance size passes float32's 3.4e38: the output is still PyTorch's 0
    (the variance is infinite) and the running mean PyTorch's finite one, never NaN."""
    x = (rng.standard_normal((2, 3, length)) * scale).astype(np.float32)
    x[0, 0] = np.abs(x[0, 0])  # one all-positive instance, whose sum overflows
    with np.errstate(over="ignore"):
        assert not np.isfinite(x.sum(axis=-1, dtype=np.float32)).all()
    reference = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    mask = np.ones((2, 1, length), bool) if masked else None
    np.testing.assert_array_equal(lucid_jax.instance_norm(x, mask=mask), expected)
    running_mean, running_var = lucid_jax.update_running_stats(
        x, np.zeros(3, np.float32), np.ones(3, np.float32), mask=mask)
    np.testing.assert_allclose(running_mean, reference.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(running_var, reference.running_var.numpy())


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("extreme", [[3e38, 3e38, 3e38, -3e38], [-3.4e38, 3.4e38, 3.4e38, 1.0]],
                         ids=["mean_1.5e38", "mean_8.5e37"])
def test_deviations_past_float32s_range_give_torchs_output_and_the_true_mean(rng, extreme,
                                                                             masked):
    """Values near +-3.4e38 of both signs in one instance: x - mean itself overflows float32.
    The mean is still the float64 oracle's, the variance infinite, the output PyTorch's 0 and
    the running statistics PyTorch's; the other instances are untouched."""
    x = rng.standard_normal((2, 2, 4)).astype(np.float32)
    x[0, 0] = extreme
    mask = np.ones((2, 1, 4), bool) if masked else None
    reference = torch.nn.InstanceNorm1d(2, track_running_stats=True)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    assert np.isfinite(expected).all()
    np.testing.assert_array_equal(expected[0, 0], 0)
    oracle.assert_close(lucid_jax.instance_norm(x, mask=mask), expected)

    mean, var = lucid_jax.instance_moments(x, mask=mask)
    expected_mean, expected_var = oracle.moments(x, 1)
    np.testing.assert_allclose(mean, expected_mean.squeeze(-1), rtol=1e-6)
    assert np.isinf(var[0, 0]) and np.isfinite(var[1:]).all() and np.isfinite(var[0, 1])
    np.testing.assert_allclose(var[0, 1], expected_var[0, 1, 0], rtol=1e-5)

    running_mean, running_var = lucid_jax.update_running_stats(
        x, np.zeros(2, np.float32), np.ones(2, np.float32), mask=mask)
    np.testing.assert_allclose(running_mean, reference.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(running_var, reference.running_var.numpy(), rtol=1e-5)


@pytest.mark.parametrize("value", [3.0, 0.1, 1 / 3, 7e5])
@pytest.mark.parametrize("length", [7, 1000])
def test_constant_instance_with_zero_eps_is_zero_as_in_torch(value, length):
    x = np.full((2, 3, length), value, np.float32)
    expected = F.instance_norm(torch.from_numpy(x), eps=0.0).numpy()
    np.testing.assert_array_equal(expected, 0)
    np.testing.assert_array_equal(lucid_jax.instance_norm(x, eps=0.0), 0)
    grad = jax.grad(lambda a: jnp.sum(lucid_jax.instance_norm(a, eps=0.0) * a))(x)
    assert np.isfinite(np.asarray(grad)).all()


def test_zero_eps_on_a_varying_instance_is_the_plain_formula(rng):
    x = rng.standard_normal((2, 3, 9)).astype(np.float32)
    oracle.assert_close(lucid_jax.instance_norm(x, eps=0.0), oracle.instance_norm(x, eps=0.0))


@pytest.mark.parametrize("momentum", [-1.2, -1.0, 2.5])
def test_any_finite_momentum_matches_torch(rng, momentum):
    x = rng.standard_normal((4, 3, 10)).astype(np.float32) + 2
    rm, rv = torch.zeros(3), torch.ones(3)
    F.instance_norm(torch.from_numpy(x), rm, rv, use_input_stats=True, momentum=momentum)
    mean, var = lucid_jax.update_running_stats(x, np.zeros(3), np.ones(3), momentum)
    oracle.assert_close(mean, rm.numpy())
    oracle.assert_close(var, rv.numpy())


# ------------------------------------------------------------------------ edge_cases="flax"

@pytest.mark.parametrize(("shape", "channel_axis"), [
    ((4, 3), 1),              # rank 2: nothing to reduce
    ((4, 3, 5), (1, 2)),      # the channel axes cover every non-batch axis
    ((4, 3, 1), 1),           # a single spatial element
    ((4, 1, 1, 3), -1),
])
def test_flax_edge_cases_normalise_to_zero(rng, shape, channel_axis):
    x = (rng.standard_normal(shape) * 3 + 5).astype(np.float32)
    channels = (channel_axis,) if isinstance(channel_axis, int) else channel_axis
    features = tuple(shape[a] for a in channels)
    bias = rng.standard_normal(features).astype(np.float32)
    y = lucid_jax.instance_norm(x, bias=bias, channel_axis=channel_axis, edge_cases="flax")
    expected = oracle.broadcast_param(bias, x, tuple(a % x.ndim for a in channels))
    np.testing.assert_array_equal(y, np.broadcast_to(expected, shape))
    ct = rng.standard_normal(shape).astype(np.float32)
    grad = jax.grad(lambda a: jnp.sum(lucid_jax.instance_norm(
        a, channel_axis=channel_axis, edge_cases="flax") * ct))(x)
    np.testing.assert_array_equal(grad, 0)
    # the running statistics skip instances of one element: unchanged
    mean, var = lucid_jax.update_running_stats(x, np.zeros(features), np.ones(features),
                                               channel_axis=channel_axis, edge_cases="flax")
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)


def test_flax_edge_cases_change_nothing_where_torch_accepts(rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    np.testing.assert_array_equal(lucid_jax.instance_norm(x, edge_cases="flax"),
                                  lucid_jax.instance_norm(x))
    for a, b in zip(lucid_jax.update_running_stats(x, np.zeros(3), np.ones(3), edge_cases="flax"),
                    lucid_jax.update_running_stats(x, np.zeros(3), np.ones(3)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_torch_edge_cases_keep_torch_errors():
    with pytest.raises(ValueError, match=r"Expected more than 1 spatial element when training"):
        lucid_jax.instance_norm(np.ones((4, 3, 1), np.float32))
    with pytest.raises(ValueError, match=r"rank >= 3 \(N, C, \*spatial\)"):
        lucid_jax.instance_norm(np.ones((4, 3), np.float32))


# ------------------------------------------------------------------------ fully masked

def test_fully_masked_instance_is_the_bias_with_weight_and_flax_edges(rng):
    x = (rng.standard_normal((3, 2, 6)) * 4 + 9).astype(np.float32)
    mask = np.ones((3, 1, 6), bool)
    mask[2] = False
    weight, bias = np.array([2.0, 3.0], np.float32), np.array([-1.0, 4.0], np.float32)
    for edge_cases in ("torch", "flax"):
        y = np.asarray(lucid_jax.instance_norm(x, weight=weight, bias=bias, mask=mask,
                                               edge_cases=edge_cases))
        np.testing.assert_array_equal(y[2], np.broadcast_to(bias[:, None], (2, 6)))
        oracle.assert_close(y, oracle.instance_norm(x, weight=weight, bias=bias, mask=mask))
