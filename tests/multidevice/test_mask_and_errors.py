"""Masks and bad input on one device: mask semantics against the float64 oracle, and the
errors for an unbound ``axis_name``, an unbroadcastable mask and a non-boolean mask."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid_jax
from lucid_jax import adain, instance_moments, instance_norm, update_running_stats


def data(shape, seed=0, offset=50.0):
    return (np.random.default_rng(seed).normal(size=shape) * 2 + offset).astype(np.float32)


def lengths_mask(lengths, length):
    return (np.arange(length)[None, :] < np.asarray(lengths)[:, None])[:, None, :]


# --------------------------------------------------------------------------- mask semantics


@pytest.mark.parametrize("mask_shape", [(4, 1, 16), (4, 3, 16), (1, 1, 16), (1, 3, 1)])
def test_mask_broadcasts_and_matches_oracle(mask_shape):
    x = data((4, 3, 16))
    mask = np.random.default_rng(1).random(mask_shape) < 0.5
    mask[..., :2] = True  # at least one valid element everywhere
    oracle.assert_close(instance_norm(x, mask=mask), oracle.instance_norm(x, mask=mask))


def test_padded_sequences_ignore_the_padding():
    """InstanceNorm1d-style padded batch: the pad value never enters the statistics."""
    x = data((3, 2, 20))
    mask = lengths_mask([20, 11, 3], 20)
    valid = np.broadcast_to(mask, x.shape)
    y_zero = instance_norm(np.where(valid, x, 0), mask=mask)
    y_huge = instance_norm(np.where(valid, x, 1e6), mask=mask)
    oracle.assert_close(np.asarray(y_zero)[valid], np.asarray(y_huge)[valid])
    # each valid prefix normalises exactly as the unpadded sequence on its own would
    for n, length in enumerate([20, 11, 3]):
        oracle.assert_close(np.asarray(y_zero)[n, :, :length],
                            oracle.instance_norm(x[n:n + 1, :, :length])[0])


def test_all_masked_instance_normalises_to_zero():
    """A fully masked instance gives the bias (not x / sqrt(eps)) and a zero gradient."""
    x = data((2, 3, 8, 8))
    mask = np.ones((2, 1, 8, 8), bool)
    mask[1] = False
    bias = np.array([0.5, -1.0, 2.0], np.float32)
    ct = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    y = np.asarray(instance_norm(x, bias=bias, mask=mask))
    oracle.assert_close(y[0], oracle.instance_norm(x[:1], bias=bias)[0])
    np.testing.assert_array_equal(y[1], np.broadcast_to(bias[:, None, None], (3, 8, 8)))
    oracle.assert_close(y, oracle.instance_norm(x, bias=bias, mask=mask))
    grad = np.asarray(jax.grad(lambda a: jnp.sum(instance_norm(a, mask=mask) * ct))(x))
    np.testing.assert_array_equal(grad[1], 0)
    assert np.abs(grad[0]).max() > 1e-3
    mean, var = instance_moments(x, mask=mask)
    assert np.asarray(mean)[1].tolist() == [0.0] * 3 and np.asarray(var)[1].tolist() == [0.0] * 3


def test_all_masked_batch_leaves_running_stats_unchanged():
    x = data((2, 3, 8))
    rm, rv = np.array([1.0, 2.0, 3.0], np.float32), np.array([4.0, 5.0, 6.0], np.float32)
    mean, var = update_running_stats(x, rm, rv, mask=np.zeros((2, 1, 8), bool))
    np.testing.assert_array_equal(mean, rm)
    np.testing.assert_array_equal(var, rv)


def test_masked_running_stats_skip_instances_with_one_element():
    x = data((3, 1, 6))
    mask = lengths_mask([6, 1, 4], 6)
    mean, var = update_running_stats(x, np.zeros(1, np.float32), np.ones(1, np.float32),
                                     momentum=1.0, mask=mask)
    kept = [x[0, 0, :6].astype(np.float64), x[2, 0, :4].astype(np.float64)]
    oracle.assert_close(np.asarray(mean) / 50, np.mean([k.mean() for k in kept]) / 50)
    oracle.assert_close(var, np.mean([k.var(ddof=1) for k in kept]))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), p=st.floats(0.0, 1.0), shape_index=st.integers(0, 1))
def test_masked_statistics_property(seed, p, shape_index):
    """Random masks (empty instances included): matches the oracle; changing masked-out values
    changes nothing but their own outputs."""
    shape = [(3, 2, 12), (2, 2, 4, 6)][shape_index]
    rng = np.random.default_rng(seed)
    x = data(shape, seed=seed)
    mask = rng.random(shape) < p
    y = np.asarray(instance_norm(x, mask=mask))
    assert np.isfinite(y).all()
    oracle.assert_close(y / 1e3, oracle.instance_norm(x, mask=mask) / 1e3)
    noise = np.where(mask, 0, rng.normal(size=shape) * 100).astype(np.float32)
    y2 = np.asarray(instance_norm(x + noise, mask=mask))
    oracle.assert_close(y2[mask], y[mask])


# --------------------------------------------------------------------------- mask dtype


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.int64])
def test_integer_01_mask_equals_boolean_mask(dtype):
    x = data((2, 3, 10))
    mask = lengths_mask([10, 4], 10)
    np.testing.assert_array_equal(np.asarray(instance_norm(x, mask=mask.astype(dtype))),
                                  np.asarray(instance_norm(x, mask=mask)))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, jnp.bfloat16,
                                   np.complex64])
def test_floating_mask_is_rejected(dtype):
    x = data((2, 3, 10))
    mask = np.ones((2, 3, 10)).astype(dtype)
    with pytest.raises(ValueError, match=r"mask must be boolean \(or 0/1 integers\), got dtype "
                                         r".*use e\.g\. mask > 0\.5"):
        instance_norm(x, mask=mask)


@pytest.mark.parametrize("fn", [
    lambda x, m: instance_norm(x, mask=m),
    lambda x, m: instance_moments(x, mask=m),
    lambda x, m: update_running_stats(x, np.zeros(3), np.ones(3), mask=m),
    lambda x, m: instance_norm(x, np.zeros(3), np.ones(3), use_input_stats=False, mask=m),
    lambda x, m: adain(x, x, content_mask=m),
    lambda x, m: adain(x, x, style_mask=m),
], ids=["instance_norm", "instance_moments", "update_running_stats", "running_stats_eval",
        "adain_content", "adain_style"])
def test_every_entry_point_validates_the_mask(fn):
    x = data((2, 3, 10))
    with pytest.raises(ValueError, match="mask must be boolean"):
        fn(x, np.ones((2, 3, 10), np.float32))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3, 9\) cannot be broadcast to "
                                         r"the input's shape \(2, 3, 10\)"):
        fn(x, np.ones((2, 3, 9), bool))


@pytest.mark.parametrize("mask_shape", [(2, 3, 9), (3, 10, 1), (4, 2, 3, 10), (1, 5, 1)])
def test_unbroadcastable_mask(mask_shape):
    x = data((2, 3, 10))
    with pytest.raises(ValueError, match=r"cannot be broadcast to the input's shape \(2, 3, 10\)"):
        instance_norm(x, mask=np.ones(mask_shape, bool))


def test_mask_that_would_enlarge_the_input_is_rejected():
    """(2, 3, 10) broadcasts with (1, 3, 10) to a larger shape: not 'broadcastable to x'."""
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3, 10\) cannot be broadcast"):
        instance_norm(data((1, 3, 10)), mask=np.ones((2, 3, 10), bool))


def test_mask_errors_under_jit():
    x = data((2, 3, 10))
    with pytest.raises(ValueError, match="mask must be boolean"):
        jax.jit(lambda a, m: instance_norm(a, mask=m))(x, np.ones((2, 3, 10), np.float32))


# --------------------------------------------------------------------------- axis_name


UNBOUND = r"axis_name='batch' is not bound here: call inside jax\.shard_map \(or pmap/vmap\)"


@pytest.mark.parametrize("fn", [
    lambda x: instance_norm(x, axis_name="batch"),
    lambda x: jax.jit(lambda a: instance_norm(a, axis_name="batch"))(x),
    lambda x: jax.vmap(lambda a: instance_norm(a[None], axis_name="batch"), axis_name="v")(x),
    lambda x: jax.grad(lambda a: jnp.sum(instance_norm(a, axis_name="batch")))(x),
    lambda x: instance_moments(x, axis_name="batch"),
    lambda x: update_running_stats(x, np.zeros(3), np.ones(3), axis_name="batch"),
    lambda x: adain(x, x, axis_name="batch"),
], ids=["eager", "jit", "vmap_other_name", "grad", "instance_moments", "update_running_stats",
        "adain"])
def test_unbound_axis_name_is_a_clear_value_error(fn):
    with pytest.raises(ValueError, match=UNBOUND):
        fn(data((2, 3, 10)))


def test_unbound_name_in_a_tuple_is_named():
    fn = jax.vmap(lambda a: instance_norm(a[None], axis_name=("v", "space")), axis_name="v")
    with pytest.raises(ValueError, match=r"axis_name='space' is not bound"):
        fn(data((2, 3, 10)))


def test_unbound_batch_axis_name():
    with pytest.raises(ValueError, match=r"batch_axis_name='data' is not bound here.*"
                                         r"or pass batch_axis_name=None"):
        update_running_stats(data((2, 3, 10)), np.zeros(3), np.ones(3), batch_axis_name="data")


def test_axis_name_bound_by_vmap_reduces_over_it():
    """vmap binds an axis name too: splitting L into 4 mapped chunks gives the full result."""
    x = data((2, 3, 16))
    chunks = x.reshape(2, 3, 4, 4).transpose(2, 0, 1, 3)
    y = jax.vmap(lambda a: instance_norm(a, axis_name="chunk"), axis_name="chunk")(chunks)
    oracle.assert_close(np.asarray(y).transpose(1, 2, 0, 3).reshape(x.shape),
                        oracle.instance_norm(x))


def test_public_api_exports_the_multi_device_features():
    for name in ("adain", "instance_moments", "instance_norm", "update_running_stats"):
        assert name in lucid_jax.__all__


# A misspelt name fails in every mode, not only once training (or a non-zero momentum) uses it.
def test_unbound_axis_name_with_running_statistics():
    with pytest.raises(ValueError, match=UNBOUND):
        instance_norm(data((2, 3, 10)), np.zeros(3), np.ones(3), use_input_stats=False,
                      axis_name="batch")


@pytest.mark.parametrize("momentum", [None, 0.0])
def test_unbound_batch_axis_name_with_frozen_statistics(momentum):
    with pytest.raises(ValueError, match=r"batch_axis_name='batch' is not bound"):
        update_running_stats(data((2, 3, 10)), np.zeros(3), np.ones(3), momentum=momentum,
                             batch_axis_name="batch")
