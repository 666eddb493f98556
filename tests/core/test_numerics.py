"""Accuracy against the float64 oracle where naive variance formulas fail, low precision, NaN
isolation, constants."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import oracle
import pytest

import lucid_jax
from lucid_jax._compat import enable_x64


def _max_error(actual, expected):
    return float(np.abs(np.asarray(actual, np.float64) - expected).max())


@pytest.mark.parametrize("shape", [(4, 8, 16, 16), (2, 4, 64, 64)])
@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4, 1e5, -1e6])
def test_float32_within_2e_6_of_float64_far_from_zero(rng, offset, shape):
    """Unit-variance float32 input at large offsets: every output within 2e-6 of float64.

    The float32 result of the exact statistics is within ~5e-7; ``E[x^2] - E[x]^2`` is off by
    thousands at 1e4, and a two-pass variance without its correction term by ~5e-5 at 1e5.
    (torch's float32 kernel is off by 8e-4 at 1e4.)
    """
    x = (rng.standard_normal(shape) + offset).astype(np.float32)
    weight = rng.standard_normal(shape[1]).astype(np.float32)
    bias = rng.standard_normal(shape[1]).astype(np.float32)
    y = lucid_jax.instance_norm(x, weight=weight, bias=bias)
    error = _max_error(y, oracle.instance_norm(x, weight=weight, bias=bias))
    assert error <= 2e-6 * max(1.0, float(np.abs(weight).max()))


def test_outliers_among_the_leading_elements_keep_full_accuracy(rng):
    """The one-pass variance shifts by the mean of a few leading elements; where those are
    outliers (here 1e3 above the rest, at an offset of 1e3), cancellation would cost ~1e-5
    unless the variance is recomputed about the true mean."""
    x = (rng.standard_normal((2, 3, 128, 128)) + 1e3).astype(np.float32)
    x[..., 0, :64] += 1e3
    y = np.asarray(lucid_jax.instance_norm(x), np.float64)
    expected = oracle.instance_norm(x)
    assert (np.abs(y - expected) <= 2e-6 * np.maximum(1, np.abs(expected))).all()


@pytest.mark.parametrize(("dtype", "offset"), [(jnp.bfloat16, 5.0), (jnp.float16, 5.0),
                                               (jnp.float16, 200.0), (jnp.bfloat16, 200.0)])
def test_low_precision_is_the_exact_result_rounded(rng, dtype, offset):
    """bfloat16/float16 in, same dtype out, within half an output ulp of the float64 result.

    Statistics taken in the input's dtype miss by many ulps (and a float16 sum of squares at
    offset 200 overflows).
    """
    x = jnp.asarray((rng.standard_normal((2, 4, 16, 16)) * 3 + offset).astype(np.float32), dtype)
    weight = jnp.asarray(rng.standard_normal(4), jnp.float32)
    bias = jnp.asarray(rng.standard_normal(4), jnp.float32)
    y = lucid_jax.instance_norm(x, weight=weight, bias=bias)
    assert y.dtype == dtype
    # The oracle is fed the same (rounded) low-precision values.
    expected = oracle.instance_norm(np.asarray(x, np.float64), weight=np.asarray(weight),
                                    bias=np.asarray(bias))
    oracle.assert_within_half_ulp(y, expected, dtype)


def test_float64_stays_float64(rng):

    x = rng.standard_normal((2, 3, 17)) + 1e8
    with enable_x64(True):
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
