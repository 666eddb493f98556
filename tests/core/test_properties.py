"""Property tests: invariances instance normalisation must have, on random shapes and values."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax.numpy as jnp
import numpy as np
import oracle
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid_jax

shapes = hnp.array_shapes(min_dims=3, max_dims=4, min_side=2, max_side=5)
SETTINGS = settings(max_examples=25, deadline=None)


def _array(draw, shape):
    data = draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10, width=64)))
    # Keep every instance non-degenerate so that scale invariance is well conditioned.
    return (data + np.arange(np.prod(shape)).reshape(shape) % 7).astype(np.float32)


@st.composite
def inputs(draw):
    return _array(draw, draw(shapes))


@SETTINGS
@given(x=inputs(), shift=st.floats(-1e3, 1e3), scale=st.floats(0.1, 100))
def test_invariant_to_shift_and_positive_scale_per_instance(x, shift, scale):
    base = lucid_jax.instance_norm(x, eps=0.0)
    moved = lucid_jax.instance_norm(x * np.float32(scale) + np.float32(shift), eps=0.0)
    np.testing.assert_allclose(moved, base, rtol=1e-3, atol=1e-3)
    oracle.assert_close(base, oracle.instance_norm(x, eps=0.0), np.float16)


@SETTINGS
@given(x=inputs(), data=st.data())
def test_instances_are_independent(x, data):
    """Changing one (n, c) instance changes no other instance's output."""
    n = data.draw(st.integers(0, x.shape[0] - 1))
    c = data.draw(st.integers(0, x.shape[1] - 1))
    changed = x.copy()
    changed[n, c] = changed[n, c] * 3 - 7
    before, after = np.asarray(lucid_jax.instance_norm(x)), np.asarray(
        lucid_jax.instance_norm(changed))
    others = np.ones(x.shape[:2], bool)
    others[n, c] = False
    np.testing.assert_array_equal(before[others], after[others])


@SETTINGS
@given(x=inputs(), data=st.data())
def test_mask_equals_normalising_the_valid_elements_alone(x, data):
    """Statistics with a mask are those of the valid elements only."""
    length = x.shape[-1]
    valid = data.draw(st.integers(2, length))
    mask = np.arange(length) < valid
    masked = np.asarray(lucid_jax.instance_norm(x, mask=mask))
    alone = np.asarray(lucid_jax.instance_norm(x[..., :valid]))
    np.testing.assert_allclose(masked[..., :valid], alone, rtol=1e-4, atol=1e-4)
    oracle.assert_close(masked, oracle.instance_norm(x, mask=np.broadcast_to(mask, x.shape)),
                        np.float16)


@SETTINGS
@given(x=inputs())
def test_output_has_zero_mean_and_unit_variance(x):
    y = np.asarray(lucid_jax.instance_norm(x, eps=0.0), np.float64)
    axes = tuple(range(2, x.ndim))
    np.testing.assert_allclose(y.mean(axes), 0, atol=1e-4)
    np.testing.assert_allclose(y.var(axes), 1, atol=1e-3)


def test_integer_mask_is_converted():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 3, 6)), jnp.float32)
    as_int = lucid_jax.instance_norm(x, mask=jnp.array([1, 1, 1, 0, 1, 0]))
    as_bool = lucid_jax.instance_norm(x, mask=jnp.array([True, True, True, False, True, False]))
    np.testing.assert_array_equal(as_int, as_bool)
