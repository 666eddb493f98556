"""Accuracy where naive variance formulas fail, low precision, NaN isolation, constants."""

from __future__ import annotations

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import oracle
import pytest
import torch
import torch.nn.functional as F

import lucid_jax


def _max_error(actual, expected):
    return float(np.abs(np.asarray(actual, np.float64) - expected).max())


@pytest.mark.parametrize("offset", [1e3, 1e4, 1e5])
def test_large_offsets_no_worse_than_torch(rng, offset):
    """float32 input far from zero: our error against float64 is at most torch's."""
    x = (rng.standard_normal((4, 8, 16, 16)) + offset).astype(np.float32)
    expected = oracle.instance_norm(x)
    ours = _max_error(lucid_jax.instance_norm(x), expected)
    theirs = _max_error(F.instance_norm(torch.from_numpy(x)).numpy(), expected)
    naive_var = (x.astype(np.float32) ** 2).mean((2, 3)) - x.mean((2, 3)) ** 2
    naive = _max_error(naive_var, oracle.moments(x)[1][..., 0, 0])
    assert ours <= max(theirs, 1e-5), (ours, theirs)
    assert ours < 1e-4
    assert naive > 100 * ours or offset < 1e4  # what E[x^2] - E[x]^2 would have cost


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_in_same_dtype_out(rng, dtype):
    x32 = (rng.standard_normal((2, 4, 8, 8)) * 3 + 5).astype(np.float32)
    x = jnp.asarray(x32, dtype)
    weight = jnp.asarray(rng.standard_normal(4), jnp.float32)
    y = lucid_jax.instance_norm(x, weight=weight)
    assert y.dtype == dtype
    # Compare against the oracle fed the same (rounded) low-precision values.
    expected = oracle.instance_norm(np.asarray(x, np.float64), weight=np.asarray(weight))
    oracle.assert_close(y, expected, np.dtype(ml_dtypes.bfloat16) if dtype == jnp.bfloat16
                        else np.float16)


def test_float64_stays_float64(rng):
    import jax

    x = rng.standard_normal((2, 3, 17)) + 1e8
    with jax.enable_x64(True):
        y = lucid_jax.instance_norm(jnp.asarray(x))
        assert y.dtype == jnp.float64
        oracle.assert_close(y, oracle.instance_norm(x), np.float64)


def test_nan_stays_in_its_instance(rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    x[1, 2, 0, 3] = np.nan
    y = np.asarray(lucid_jax.instance_norm(x))
    assert np.isnan(y[1, 2]).all()
    finite = np.ones(y.shape[:2], bool)
    finite[1, 2] = False
    assert np.isfinite(y[finite]).all()
    oracle.assert_close(y[0], oracle.instance_norm(x[:1])[0])


@pytest.mark.parametrize("value", [0.0, 0.1, 7.7e-3, 12345.678, -3e5])
@pytest.mark.parametrize("spatial", [(5, 7), (64, 64), (1000,)])
def test_constant_instance_gives_the_bias(value, spatial):
    """Zero variance: the output is the bias (to within 1e-6 of float32 rounding), not NaN."""
    x = np.full((2, 3, *spatial), value, np.float32)
    bias = np.array([0.5, -1.0, 2.0], np.float32)
    y = np.asarray(lucid_jax.instance_norm(x, weight=np.ones(3, np.float32), bias=bias))
    expected = np.broadcast_to(bias.reshape(1, 3, *[1] * len(spatial)), x.shape)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)


def test_all_masked_instance_is_finite(rng):
    x = rng.standard_normal((2, 2, 6)).astype(np.float32)
    mask = np.ones_like(x, bool)
    mask[0, 1] = False
    y = np.asarray(lucid_jax.instance_norm(x, mask=mask))
    assert np.isfinite(y).all()
    oracle.assert_close(y[1], oracle.instance_norm(x[1:])[0])
