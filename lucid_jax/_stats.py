"""Per-instance moments: computed in >= float32 with an accurate variance.

The variance is a shifted two-pass one: every instance is first shifted by one of its own
elements (so large offsets cancel exactly, and a constant instance gives exactly zero
variance), then centred on its mean before squaring. It never uses ``E[x^2] - E[x]^2``, which
loses every significant digit at offsets of ~1e4 in float32.

Masks and cross-device reductions live here too: sums and counts are ``psum``-ed over
``axis_name`` before they are divided, so a sharded instance gets exactly the statistics of
the unsharded one, and masked elements never enter a sum.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lucid_jax._checks import AxisName


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype statistics are computed in: the input's, promoted to at least float32."""
    return jnp.promote_types(dtype, jnp.float32)


class Moments(NamedTuple):
    """Statistics of every instance, with the reduced axes kept as size-1 axes.

    The mean is held as ``shift + mean_shifted``: centring as ``(x - shift) - mean_shifted``
    keeps the digits that rounding ``shift + mean_shifted`` to the input's precision would lose
    (half an ulp of the offset, ~5e-4 at 1e4 in float32).
    """

    shift: jax.Array  # one element of the instance, without gradient
    mean_shifted: jax.Array  # mean of x - shift
    var: jax.Array  # biased: divided by count
    count: jax.Array  # valid elements per instance (summed across ``axis_name``)

    @property
    def mean(self) -> jax.Array:
        return self.shift + self.mean_shifted

    def centre(self, x: jax.Array) -> jax.Array:
        """``x - mean``, computed without rounding the mean."""
        return (x - self.shift) - self.mean_shifted


def _psum(value: jax.Array, axis_name: AxisName) -> jax.Array:
    return value if axis_name is None else jax.lax.psum(value, axis_name)


def _first_element(x: jax.Array, reduce_axes: tuple[int, ...]) -> jax.Array:
    index = tuple(slice(0, 1) if a in reduce_axes else slice(None) for a in range(x.ndim))
    return x[index]


def moments(x: jax.Array, reduce_axes: tuple[int, ...], mask: jax.Array | None = None,
            axis_name: AxisName = None) -> Moments:
    """Mean and biased variance over ``reduce_axes`` of ``x`` (already validated).

    ``mask`` (boolean, broadcastable to ``x``) selects the elements that count. With
    ``axis_name`` the instance is split across that mesh axis and sums are reduced over it.
    An instance with no valid element gets mean 0 and variance 0 (finite, never NaN).
    """
    x = x.astype(compute_dtype(x.dtype))
    if mask is not None:
        mask = jnp.broadcast_to(mask, x.shape)

    # Any common value works as the shift; the instance's first (valid) element is close to
    # its mean, so the sums below stay small. It carries no gradient: y does not depend on it.
    shift = _first_element(x, reduce_axes)
    if mask is not None:
        shift = jnp.where(_first_element(mask, reduce_axes), shift, 0)
    if axis_name is not None:
        shift = jax.lax.pmean(shift, axis_name)  # the same shift on every shard
    shift = jax.lax.stop_gradient(shift)

    def masked_sum(values: jax.Array) -> jax.Array:
        if mask is not None:
            values = jnp.where(mask, values, 0)
        return _psum(jnp.sum(values, axis=reduce_axes, keepdims=True), axis_name)

    if mask is None:
        local = int(np.prod([x.shape[a] for a in reduce_axes]))
        shards = 1 if axis_name is None else jax.lax.axis_size(axis_name)
        count = jnp.full(shift.shape, local * shards, x.dtype)
    else:
        count = masked_sum(jnp.ones_like(x))
    divisor = jnp.maximum(count, 1)

    mean_shifted = masked_sum(x - shift) / divisor
    partial = Moments(shift, mean_shifted, var=None, count=count)
    centred = partial.centre(x)
    return partial._replace(var=masked_sum(centred * centred) / divisor)
