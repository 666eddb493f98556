"""Property tests: invariances instance normalisation must have, on random shapes and values."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax.numpy as jnp
import numpy as np
import oracle
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid_jax
from lucid_jax._compat import enable_x64

shapes = hnp.array_shapes(min_dims=3, max_dims=4, min_side=2, max_side=5)
SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def inputs(draw):
    """float32 inputs whose every instance has variance >= 16.

    Noise in [-1, 1] on top of a +-5 pattern alternating along the last axis (>= 2 long), so
    no draw is (nearly) constant and every comparison is well conditioned.
    """
    shape = draw(shapes)
    noise = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1, width=64)))
    pattern = np.where(np.arange(shape[-1]) % 2 == 0, 5.0, -5.0)
    return (noise + pattern).astype(np.float32)


@SETTINGS
@given(x=inputs())
def test_matches_the_oracle(x):
    oracle.assert_close(lucid_jax.instance_norm(x), oracle.instance_norm(x))


@SETTINGS
@given(x=inputs(), shift=st.floats(-1e3, 1e3), scale=st.floats(0.1, 100))
def test_invariant_to_shift_and_positive_scale_per_instance(x, shift, scale):
    """In float64, where the transformed input is exact enough for the property to be tight."""
    with enable_x64(True):
        x64 = jnp.asarray(x, jnp.float64)
        base = lucid_jax.instance_norm(x64, eps=0.0)
        moved = lucid_jax.instance_norm(x64 * scale + shift, eps=0.0)
        oracle.assert_close(moved, base, np.float64)


@SETTINGS
@given(x=inputs(), data=st.data())
def test_instances_are_independent(x, data):
    """Changing one (n, c) instance changes no other instance's output."""
    n = data.draw(st.integers(0, x.shape[0] - 1))
    c = data.draw(st.integers(0, x.shape[1] - 1))
    changed = x.copy()
    changed[n, c] = -changed[n, c]  # flips its output's sign (an affine change would not)
    before, after = np.asarray(lucid_jax.instance_norm(x)), np.asarray(
        lucid_jax.instance_norm(changed))
    others = np.ones(x.shape[:2], bool)
    others[n, c] = False
    np.testing.assert_array_equal(before[others], after[others])
    assert not np.array_equal(before[n, c], after[n, c])


@SETTINGS
@given(x=inputs(), data=st.data())
def test_mask_equals_normalising_the_valid_elements_alone(x, data):
    """Statistics with a mask are those of the valid elements only."""
    length = x.shape[-1]
    valid = data.draw(st.integers(2, length))
    mask = (np.arange(length) < valid).reshape((1,) * (x.ndim - 1) + (length,))
    masked = np.asarray(lucid_jax.instance_norm(x, mask=mask))
    alone = np.asarray(lucid_jax.instance_norm(x[..., :valid]))
    oracle.assert_close(masked[..., :valid], alone)
    oracle.assert_close(masked, oracle.instance_norm(x, mask=np.broadcast_to(mask, x.shape)))


@SETTINGS
@given(x=inputs())
def test_output_has_zero_mean_and_unit_variance(x):
    y = np.asarray(lucid_jax.instance_norm(x, eps=0.0), np.float64)
    axes = tuple(range(2, x.ndim))
    oracle.assert_close(y.mean(axes), np.zeros(x.shape[:2]))
    oracle.assert_close(y.var(axes), np.ones(x.shape[:2]))


def test_integer_mask_is_converted():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 3, 6)), jnp.float32)
    as_int = lucid_jax.instance_norm(x, mask=jnp.array([[[1, 1, 1, 0, 1, 0]]]))
    as_bool = lucid_jax.instance_norm(x, mask=jnp.array([[[True, True, True, False, True, False]]]))
    np.testing.assert_array_equal(as_int, as_bool)
