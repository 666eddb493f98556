"""The arithmetic: per-instance moments (in >= float32, with an accurate variance), the
normalisation with its custom JVP (:func:`standardize`) and the running-statistics update.

Everything here takes validated arguments (``_functional.py`` resolves them first).

The variance comes from sums of the values shifted by an estimate of their mean, and of their
squares, never from ``E[x^2] - E[x]^2`` on the raw values (which loses every significant digit
at offsets of ~1e4 in float32). Unmasked, unsharded instances take the shift from a few leading
elements, so one pass over the input gives both sums, and a second pass about the computed
mean runs only where that estimate was poor; masked or sharded ones take it from a first pass
(the corrected two-pass algorithm). ``benchmarks/README.md`` records what else was measured.

Masks and cross-device reductions live here too: sums and counts are ``psum``-ed over
``axis_name`` before they are divided, so a sharded instance gets exactly the statistics of
the unsharded one, and masked elements never enter a sum.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lucid_jax._checks import AxisName
from lucid_jax._compat import axis_size, explicit_partition


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype statistics are computed in: the input's, promoted to at least float32."""
    return jnp.promote_types(dtype, jnp.float32)


class Moments(NamedTuple):
    """Statistics of every instance, with the reduced axes kept as size-1 axes.

    The mean is held as ``shift + mean_shifted``: centring as ``(x - shift) - mean_shifted``
    keeps the digits that rounding ``shift + mean_shifted`` to the input's precision would lose
    (half an ulp of the offset, ~5e-4 at 1e4 in float32).
    """

    shift: jax.Array  # the first-pass mean, without gradient
    mean_shifted: jax.Array  # mean of x - shift
    var: jax.Array  # biased: divided by n_valid
    n_valid: jax.Array  # valid elements per instance (summed across ``axis_name``)

    @property
    def mean(self) -> jax.Array:
        return self.shift + self.mean_shifted

    @property
    def unbiased_var(self) -> jax.Array:
        """The variance divided by ``n_valid - 1`` (by 1 where fewer than two elements count)."""
        return self.var * self.n_valid / jnp.maximum(self.n_valid - 1, 1)

    def centre(self, x: jax.Array) -> jax.Array:
        """``x - mean``, computed without rounding the mean."""
        return (x - self.shift) - self.mean_shifted


def _sums(values: tuple[jax.Array, ...], reduce_axes: tuple[int, ...], mask: jax.Array | None,
          axis_name: AxisName) -> tuple[jax.Array, ...]:
    """Per-instance sums of each array over its valid elements (and across ``axis_name``)."""
    if mask is not None:
        values = tuple(jnp.where(mask, v, 0) for v in values)
    sums = tuple(jnp.sum(v, axis=reduce_axes, keepdims=True) for v in values)
    return sums if axis_name is None else jax.lax.psum(sums, axis_name)


def _leading_mean(x: jax.Array, reduce_axes: tuple[int, ...]) -> jax.Array:
    """A cheap per-instance shift: the mean of the first (up to) 64 elements of each instance's
    first row along its last reduced axis, which XLA reads in a tiny separate fusion."""
    first_row = tuple(slice(0, 1) if a in reduce_axes[:-1] else slice(None)
                      for a in range(x.ndim))
    head = jax.lax.slice_in_dim(x[first_row], 0, min(64, x.shape[reduce_axes[-1]]),
                                axis=reduce_axes[-1])
    return jnp.mean(head, axis=reduce_axes, keepdims=True)


def _sharded(x: jax.Array, reduce_axes: tuple[int, ...]) -> bool:
    """Whether a reduced axis is split by an explicit sharding (which refuses the slice that
    :func:`_leading_mean` takes)."""
    spec = explicit_partition(x)
    return any(spec[a] is not None for a in reduce_axes if a < len(spec))


def _shifted_moments(x: jax.Array, shift: jax.Array, reduce_axes: tuple[int, ...],
                     mask: jax.Array | None, axis_name: AxisName, divisor: jax.Array,
                     prescale: bool = False) -> tuple[jax.Array, jax.Array]:
    """Mean of ``x - shift`` and the biased variance, from sums of the shifted values and their
    squares: accurate while ``shift`` is within a few standard deviations of the mean.

    With ``prescale`` each value is divided by ``divisor`` before it is summed, so a mean stays
    finite where the plain sum of ``|x - shift|`` would pass float32's 3.4e38, or where one
    ``x - shift`` does (values near +-3.4e38 of both signs).
    """
    # The barrier hands each reduction its own copy of the small shift array, so that XLA fuses
    # ``x - shift`` into each reduction instead of materialising it once and reading it twice
    # (benchmarks/README.md, "without the barrier").
    for_sum, for_squares = jax.lax.optimization_barrier((shift, shift))
    scale = 1 / divisor if prescale else 1
    sum_shifted, = _sums(((x - for_sum) * scale,), reduce_axes, mask, axis_name)
    if prescale:
        # Where some x - shift overflowed (values near +-3.4e38 of both signs), one more pass,
        # only then, scales both terms before subtracting; other instances keep their sum.
        def scaled_first() -> jax.Array:
            total, = _sums((x * scale - for_sum * scale,), reduce_axes, mask, axis_name)
            return jnp.where(jnp.isfinite(sum_shifted), sum_shifted, total)

        sum_shifted = jax.lax.cond(jnp.all(jnp.isfinite(sum_shifted)), lambda: sum_shifted,
                                   scaled_first)
    sum_squares, = _sums((jnp.square(x - for_squares) * scale,), reduce_axes, mask, axis_name)
    mean_shifted = sum_shifted if prescale else sum_shifted / divisor
    mean_squares = sum_squares if prescale else sum_squares / divisor
    # Squared deviations that overflow (|x - mean| ~ 1e19 in float32) leave the variance
    # infinite, as PyTorch's does, so the output is 0; mean_shifted**2 may overflow as well,
    # and inf - inf would be NaN.
    var = jnp.where(mean_squares == jnp.inf, mean_squares,
                    jnp.maximum(mean_squares - mean_shifted * mean_shifted, 0))
    return mean_shifted, var


def moments(x: jax.Array, reduce_axes: tuple[int, ...], mask: jax.Array | None = None,
            axis_name: AxisName = None) -> Moments:
    """Mean and biased variance over ``reduce_axes`` of ``x`` (already validated).

    ``mask`` (boolean, broadcastable to ``x``) selects the elements that count. With
    ``axis_name`` the instance is split across that mesh axis and sums are reduced over it.
    An instance with no valid element gets mean 0 and variance 0 (finite, never NaN); one
    whose squared deviations overflow gets an infinite variance, never NaN.
    """
    x = x.astype(compute_dtype(x.dtype))
    if reduce_axes and mask is None and axis_name is None and not _sharded(x, reduce_axes):
        # One pass: sums of x shifted by a cheap estimate of its mean. Their mean ``m`` is
        # then a few standard deviations at most, and ``E[(x - s)^2] - m^2`` loses only
        # ``log2(1 + m^2 / var)`` bits. Where some instance would lose more than ~3 (an
        # outlier among the leading elements), a second pass shifts by the computed mean,
        # whose error is only rounding: the corrected two-pass algorithm of Chan, Golub &
        # LeVeque. The shift carries no gradient (y does not depend on it).
        count = jnp.full([1 if a in reduce_axes else n for a, n in enumerate(x.shape)],
                         np.prod([x.shape[a] for a in reduce_axes]), x.dtype)
        shift = jax.lax.stop_gradient(_leading_mean(x, reduce_axes))
        mean_shifted, var = _shifted_moments(x, shift, reduce_axes, None, None, count)

        def refine() -> tuple[jax.Array, jax.Array, jax.Array]:
            # Where the sum overflowed float32, the mean of the prescaled values replaces the
            # shift (one more pass, only then); prescaling keeps the second pass finite too.
            mean = shift + mean_shifted
            better = jax.lax.stop_gradient(jax.lax.cond(
                jnp.all(jnp.isfinite(mean)), lambda: mean,
                lambda: jnp.where(jnp.isfinite(mean), mean,
                                  jnp.sum(x * (1 / count), reduce_axes, keepdims=True))))
            return better, *_shifted_moments(x, better, reduce_axes, None, None, count,
                                             prescale=True)

        shift, mean_shifted, var = jax.lax.cond(
            jnp.any((mean_shifted * mean_shifted > 8 * var) | ~jnp.isfinite(mean_shifted)),
            refine, lambda: (shift, mean_shifted, var))
        return Moments(shift, mean_shifted, var, count)

    # Masked or split across devices: pass 1 gives the mean to working precision, the shift.
    # Both passes divide before they sum, so no sum of finite values overflows.
    size = int(np.prod([x.shape[a] for a in reduce_axes]))
    size *= 1 if axis_name is None else axis_size(axis_name)
    if mask is None:
        total, = _sums((x * (1 / size),), reduce_axes, mask, axis_name)
        count = jnp.full(total.shape, size, x.dtype)
    else:
        mask = jnp.broadcast_to(mask, x.shape)
        total, count = _sums((x * (1 / size), jnp.ones_like(x)), reduce_axes, mask, axis_name)
    divisor = jnp.maximum(count, 1)
    shift = jax.lax.stop_gradient(total * (size / divisor))
    mean_shifted, var = _shifted_moments(x, shift, reduce_axes, mask, axis_name, divisor,
                                         prescale=True)
    return Moments(shift, mean_shifted, var, count)


@partial(jax.custom_jvp, nondiff_argnums=(4, 5, 6))
def standardize(x: jax.Array, weight: jax.Array | None, bias: jax.Array | None,
                mask: jax.Array | None, reduce_axes: tuple[int, ...], axis_name: AxisName,
                eps: float) -> tuple[jax.Array, Moments]:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` per instance, in the statistics' dtype,
    and the moments it normalised with.

    ``weight`` and ``bias`` (either may be None) are already shaped to broadcast against ``x``.
    The derivative is the closed form ``w * dy + y * dw + db`` with
    ``dy = inv * (dx - mean(dx) - y * mean(y * dx))``: linear in the tangents, so reverse mode
    costs two per-instance reductions of the cotangent, shared by the gradients of ``x``,
    ``weight`` and ``bias``; higher derivatives differentiate that rule. The moments come out
    as constants (zero tangent): they feed running statistics, which carry no gradient.
    """
    y, stats, _ = _standardized(x, mask, reduce_axes, axis_name, eps)
    return affine(y, weight, bias), stats


def affine(y: jax.Array, weight: jax.Array | None, bias: jax.Array | None) -> jax.Array:
    """``y * weight + bias``, either of them possibly None."""
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def _standardized(x: jax.Array, mask: jax.Array | None, reduce_axes: tuple[int, ...],
                  axis_name: AxisName, eps: float) -> tuple[jax.Array, Moments, jax.Array]:
    """The standardised ``x``, its moments and ``inv = 1 / sqrt(var + eps)``.

    Where an instance has nothing to normalise by, ``inv`` is 0 and so is the output (and its
    derivative): a fully masked instance (not ``x / sqrt(eps)``), and with ``eps=0`` a constant
    one (PyTorch's 0, not ``0 * inf``).
    """
    stats = moments(x, reduce_axes, mask, axis_name)
    inv = jax.lax.rsqrt(stats.var + eps)
    if eps == 0:
        inv = jnp.where(stats.var > 0, inv, 0)
    if mask is not None:
        inv = jnp.where(stats.n_valid > 0, inv, 0)
    # Where the variance is infinite inv is 0 and so is the output; centring there by 0 keeps
    # x - mean finite where it would overflow (inf * 0 would be NaN).
    infinite = stats.var == jnp.inf
    centring = stats._replace(shift=jnp.where(infinite, 0, stats.shift),
                              mean_shifted=jnp.where(infinite, 0, stats.mean_shifted))
    return centring.centre(x.astype(inv.dtype)) * inv, stats, inv


Primals = tuple[jax.Array, jax.Array | None, jax.Array | None, jax.Array | None]
Tangents = tuple[jax.Array, jax.Array | None, jax.Array | None, Any]  # the mask's is float0


@standardize.defjvp
def _standardize_jvp(reduce_axes: tuple[int, ...], axis_name: AxisName, eps: float,
                     primals: Primals, tangents: Tangents
                     ) -> tuple[tuple[jax.Array, Moments], tuple[jax.Array, Moments]]:
    x, weight, bias, mask = primals
    y, stats, inv = _standardized(x, mask, reduce_axes, axis_name, eps)
    if mask is not None:
        mask = jnp.broadcast_to(mask, x.shape)
    # Checkpointed, so that the backward keeps x and per-instance statistics rather than any
    # full-size array computed from them (x - shift would be two more), and recomputes the rest.
    tangent = jax.checkpoint(partial(_tangent, reduce_axes=reduce_axes, axis_name=axis_name))
    dx, dweight, dbias, _ = tangents
    return ((affine(y, weight, bias), stats),
            (tangent(x, stats.shift, stats.mean_shifted, inv, stats.n_valid, weight, mask, dx,
                     dweight, dbias), jax.tree.map(jnp.zeros_like, stats)))


def _tangent(x: jax.Array, shift: jax.Array, mean_shifted: jax.Array, inv: jax.Array,
             n_valid: jax.Array, weight: jax.Array | None, mask: jax.Array | None,
             dx: jax.Array, dweight: jax.Array | None, dbias: jax.Array | None, *,
             reduce_axes: tuple[int, ...], axis_name: AxisName) -> jax.Array:
    """``w * dy + y * dw + db`` with ``dy = inv * (dx - mean(dx) - y * mean(y * dx))``."""
    x = x.astype(inv.dtype)
    divisor = jnp.maximum(n_valid, 1)
    # Scaling by inv first makes the transpose (reverse mode) reduce the raw cotangent, and
    # scale by inv once at the end.
    scaled = dx.astype(inv.dtype) * inv
    # y = ((x - shift) - mean_shifted) * inv enters through x - shift, never as a full-size
    # array: the backward's two reductions, sum(g) and sum(g * (x - shift)), then read x and g
    # with one small broadcast operand, which XLA's CPU backend keeps inside one reduction
    # fusion (benchmarks/README.md). The barrier hands the reduction and the elementwise term
    # their own copy of the shift; without it XLA materialises x - shift once for both.
    for_sum, for_term = jax.lax.optimization_barrier((shift, shift))
    sum_scaled, = _sums((scaled,), reduce_axes, mask, axis_name)
    sum_centred_scaled, = _sums(((x - for_sum) * scaled,), reduce_axes, mask, axis_name)
    mean_scaled = sum_scaled / divisor
    mean_y_scaled = inv * (sum_centred_scaled / divisor - mean_shifted * mean_scaled)
    # w * (scaled - mean_scaled - y * mean_y_scaled) + y * dw + db, gathered as
    # w * scaled + const + y * coef with per-instance const and coef, where
    # y * coef = (x - shift) * (inv * coef) - mean_shifted * (inv * coef).
    const, coef = -mean_scaled, -mean_y_scaled
    if weight is not None:
        assert dweight is not None  # a weight array has a tangent
        scaled, const, coef = weight * scaled, weight * const, weight * coef + dweight
    if dbias is not None:
        const = const + dbias
    coef = coef * inv
    return scaled + (const - mean_shifted * coef) + (x - for_term) * coef


def running_stats_update(stats: Moments, reduce_axes: tuple[int, ...], running_mean: jax.Array,
                         running_var: jax.Array, momentum: float,
                         batch_axis_name: AxisName) -> tuple[jax.Array, jax.Array]:
    """PyTorch's InstanceNorm update: ``(1 - momentum) * old + momentum * batch average`` of
    each instance's mean and unbiased variance, in the running statistics' dtype.

    Only instances with two valid elements or more enter the average, taken across
    ``batch_axis_name`` too; where none does, a statistic keeps its old value.
    """
    n_valid = jnp.squeeze(stats.n_valid, axis=reduce_axes)
    valid = n_valid > 1

    def batch_sum(values: jax.Array) -> jax.Array:
        total = jnp.sum(values, axis=0)
        return total if batch_axis_name is None else jax.lax.psum(total, batch_axis_name)

    instances = batch_sum(valid.astype(n_valid.dtype))

    def blend(old: jax.Array, per_instance: jax.Array) -> jax.Array:
        batch_mean = batch_sum(jnp.where(valid, per_instance, 0)) / jnp.maximum(instances, 1)
        new = (1 - momentum) * old.astype(batch_mean.dtype) + momentum * batch_mean
        return jnp.where(instances > 0, new, old).astype(old.dtype)

    return (blend(running_mean, jnp.squeeze(stats.mean, axis=reduce_axes)),
            blend(running_var, jnp.squeeze(stats.unbiased_var, axis=reduce_axes)))
