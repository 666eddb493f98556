"""The public normalisation functions: ``instance_norm``, ``instance_moments``, the
running-statistics update and ``adain``.

They validate their arguments (``_checks.py``) and compose the arithmetic of ``_stats.py``
(moments, and ``standardize`` with its custom JVP). The Flax modules and the ``lucid`` facade
declare parameters and state, then call these functions.

Each public function validates its Python arguments and calls a jitted kernel, so eager calls
reuse one compiled program per shape and setting; inside a caller's ``jit``, ``grad``,
``vmap`` or ``shard_map`` the kernel is simply inlined.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp

from lucid_jax import _checks
from lucid_jax._checks import AxisName
from lucid_jax._compat import axis_size
from lucid_jax._stats import affine, compute_dtype, moments, standardize

ChannelAxis = int | Sequence[int]


def _static(channel_axis: ChannelAxis, axis_name: AxisName | list[str]):
    """Hashable forms of the static arguments (lists become tuples)."""
    if isinstance(channel_axis, list):
        channel_axis = tuple(channel_axis)
    if isinstance(axis_name, list):
        axis_name = tuple(axis_name)
    return channel_axis, axis_name


def _arrays(*values):
    """Arrays as ``jax.jit`` accepts them: objects that define ``__jax_array__`` (a ``lucid``
    Tensor, an Equinox module's array...) are converted; everything else passes as is."""
    return tuple(v.__jax_array__() if not isinstance(v, jax.Array)
                 and hasattr(type(v), "__jax_array__") else v for v in values)


def _layout(x: jax.Array, channel_axis: ChannelAxis,
            edge_cases: str = "torch") -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validated (channel axes, reduced axes) of ``x``."""
    _checks.check_input(x, channel_axis, edge_cases)
    channels = _checks.channel_axes(x.ndim, channel_axis)
    reduce_axes = tuple(a for a in range(1, x.ndim) if a not in channels)
    return channels, reduce_axes


def _broadcast_param(value, x: jax.Array, channels: tuple[int, ...], dtype) -> jax.Array:
    """A ``(C,)`` or per-sample ``(N, C)`` array shaped to broadcast against ``x``."""
    value = jnp.asarray(value, dtype)
    shape = [1] * x.ndim
    if value.ndim > len(channels):
        shape[0] = value.shape[0]
    for axis, size in zip(channels, value.shape[value.ndim - len(channels):], strict=True):
        shape[axis] = size
    return value.reshape(shape)


def _squeeze(stat: jax.Array, reduce_axes: tuple[int, ...]) -> jax.Array:
    return jnp.squeeze(stat, axis=reduce_axes)


def _check_input_stats(x, channels, axis_name, edge_cases="torch"):
    """Checks for statistics taken from the input (possibly split across ``axis_name``)."""
    _checks.check_axis_name(axis_name)
    shards = 1 if axis_name is None else axis_size(axis_name)
    if edge_cases == "torch":
        _checks.check_reduced_size(x, channels, shards)


def _input_moments(x, mask, channel_axis, axis_name, edge_cases="torch"):
    """Validated per-instance moments (reduced axes kept) and the reduced axes."""
    channels, reduce_axes = _layout(x, channel_axis, edge_cases)
    _check_input_stats(x, channels, axis_name, edge_cases)
    mask = _checks.as_mask(mask, x, channels)
    return moments(x, reduce_axes, mask, axis_name), channels, reduce_axes


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float | None = 0.1,
                  eps: float = 1e-5, *, channel_axis: ChannelAxis = 1, mask=None,
                  axis_name: AxisName = None, edge_cases: str = "torch") -> jax.Array:
    """Instance normalisation: each ``(n, c)`` slice normalised over its spatial axes.

    ``y = (x - mean[n, c]) / sqrt(var[n, c] + eps) * weight + bias`` with the biased variance,
    exactly ``torch.nn.functional.instance_norm``. Positional parameters follow lucid's order.

    Args:
      x: ``(N, C, *spatial)`` floating-point array (``channel_axis=-1`` for ``(N, *spatial, C)``;
        a tuple of axes for several feature axes).
      running_mean, running_var: ``(C,)`` statistics, used instead of the input's when
        ``use_input_stats=False``.
      weight, bias: ``(C,)``, or ``(N, C)`` for a per-sample affine (conditional instance norm,
        AdaIN — see :func:`adain`).
      use_input_stats: normalise with the input's own statistics (training, or no tracking).
      momentum: validated and otherwise unused: the core never writes. Compute new running
        statistics with :func:`update_running_stats`.
      eps: added to the variance inside the square root.
      channel_axis: the channel axis (or axes); axis 0 is always the batch axis.
      mask: boolean, broadcastable to ``x``; a lower rank is read NumPy's way (trailing
        axes) where that is the only reading that fits, and refused where it also fits as a
        mask without the channel axes (``(N, H, W)`` on NCHW with N == C: use
        ``mask[:, None]``). Only
        ``True`` elements enter the statistics, every element is normalised. 0/1 integers
        are accepted. An instance with no valid element normalises to 0 (output ``bias``):
        finite, with a zero gradient, so a padded sample cannot poison a loss.
      axis_name: mesh axis (or axes) across which each instance's spatial elements are split,
        inside ``jax.shard_map``; sums and counts are reduced over it.
      edge_cases: ``"torch"`` (default) raises PyTorch's errors for an input with no spatial
        axis or a single spatial element; ``"flax"`` follows ``flax.linen.InstanceNorm``:
        such instances normalise to 0 (output ``bias``). The Flax modules use ``"flax"``.

    A constant instance with ``eps=0`` normalises to 0, and one whose squared deviations
    overflow (values of 1e19 and up in float32) to 0, as in PyTorch, even where the
    instance's sum overflows float32 too.

    Returns:
      An array of ``x``'s shape and dtype; statistics are computed in at least float32.

    >>> import jax, jax.numpy as jnp
    >>> from lucid_jax import instance_norm
    >>> x = jax.random.normal(jax.random.key(0), (2, 3, 8, 8)) * 5 + 2
    >>> y = instance_norm(x)
    >>> mean, var = y.mean(axis=(2, 3)), y.var(axis=(2, 3))
    >>> bool(jnp.allclose(mean, 0, atol=1e-5)), bool(jnp.allclose(var, 1, atol=1e-3))
    (True, True)

    Channels last, and a per-sample affine:

    >>> y = instance_norm(jnp.moveaxis(x, 1, -1), weight=jnp.ones((2, 3)), channel_axis=-1)
    >>> y.shape
    (2, 8, 8, 3)
    """
    _checks.check_momentum(momentum)
    _checks.check_eps(eps)
    _checks.check_edge_cases(edge_cases)
    channel_axis, axis_name = _static(channel_axis, axis_name)
    return _instance_norm(*_arrays(x, running_mean, running_var, weight, bias, mask),
                          use_input_stats=bool(use_input_stats), eps=float(eps),
                          channel_axis=channel_axis, axis_name=axis_name, edge_cases=edge_cases)


@partial(jax.jit, static_argnames=("use_input_stats", "eps", "channel_axis", "axis_name",
                                   "edge_cases"))
def _instance_norm(x, running_mean, running_var, weight, bias, mask, *, use_input_stats, eps,
                   channel_axis, axis_name, edge_cases):
    x = jnp.asarray(x)
    channels, reduce_axes = _layout(x, channel_axis, edge_cases)
    _checks.check_param("weight", weight, x, channels, per_sample=True)
    _checks.check_param("bias", bias, x, channels, per_sample=True)
    dtype = compute_dtype(x.dtype)
    if weight is not None:
        weight = _broadcast_param(weight, x, channels, dtype)
    if bias is not None:
        bias = _broadcast_param(bias, x, channels, dtype)
    if use_input_stats:
        _check_input_stats(x, channels, axis_name, edge_cases)
        y = standardize(x, weight, bias, _checks.as_mask(mask, x, channels), reduce_axes,
                        axis_name, eps)
    else:
        _checks.check_running_stats(running_mean, running_var)
        _checks.check_param("running_mean", running_mean, x, channels, per_sample=False)
        _checks.check_param("running_var", running_var, x, channels, per_sample=False)
        # Validated for a uniform API (a typo fails in eval too); running statistics ignore them.
        _checks.as_mask(mask, x, channels)
        _checks.check_axis_name(axis_name)
        mean = _broadcast_param(running_mean, x, channels, dtype)
        var = _broadcast_param(running_var, x, channels, dtype)
        y = affine((x.astype(dtype) - mean) * jax.lax.rsqrt(var + eps), weight, bias)
    return y.astype(x.dtype)


def instance_moments(x, *, channel_axis: ChannelAxis = 1, mask=None, axis_name: AxisName = None,
                     unbiased: bool = False) -> tuple[jax.Array, jax.Array]:
    """Per-instance mean and variance, each of shape ``(N, C)``, in at least float32.

    The statistics :func:`instance_norm` normalises with (``unbiased=False``), or the unbiased
    variance PyTorch feeds its running statistics (``unbiased=True``, divides by ``count - 1``).

    >>> import jax.numpy as jnp
    >>> from lucid_jax import instance_moments
    >>> mean, var = instance_moments(jnp.array([[[1.0, 2.0, 3.0, 6.0]]]))
    >>> mean.tolist(), var.tolist()
    ([[3.0]], [[3.5]])
    """
    channel_axis, axis_name = _static(channel_axis, axis_name)
    return _instance_moments(*_arrays(x, mask), channel_axis=channel_axis, axis_name=axis_name,
                             unbiased=bool(unbiased))


@partial(jax.jit, static_argnames=("channel_axis", "axis_name", "unbiased"))
def _instance_moments(x, mask, *, channel_axis, axis_name, unbiased):
    x = jnp.asarray(x)
    stats, _, reduce_axes = _input_moments(x, mask, channel_axis, axis_name)
    var = stats.var
    if unbiased:
        var = var * stats.count / jnp.maximum(stats.count - 1, 1)
    return _squeeze(stats.mean, reduce_axes), _squeeze(var, reduce_axes)


def update_running_stats(x, running_mean, running_var, momentum: float | None = 0.1, *,
                         channel_axis: ChannelAxis = 1, mask=None, axis_name: AxisName = None,
                         batch_axis_name: AxisName = None,
                         edge_cases: str = "torch") -> tuple[jax.Array, jax.Array]:
    """New running statistics after seeing ``x``, by PyTorch's InstanceNorm rule.

    ``new = (1 - momentum) * old + momentum * mean_n(stat[n, c])`` where ``stat`` is each
    instance's mean, or its *unbiased* variance (divided by ``count - 1``). ``momentum`` is
    PyTorch's: the weight of the new value. ``momentum=None`` freezes the statistics, as
    PyTorch's InstanceNorm does (it is not a cumulative average); any other finite value is
    accepted, as PyTorch accepts it. Returns new arrays in the running statistics' dtype;
    nothing is written.

    With a ``mask``, instances with fewer than two valid elements are left out of the batch
    average (if none is left, the statistics stay as they were); so are single-element
    instances under ``edge_cases="flax"`` (PyTorch's rule raises). ``axis_name`` is the mesh axis
    that splits each instance's spatial elements; ``batch_axis_name`` the one that splits the
    batch, over which the batch average is taken.

    >>> import jax.numpy as jnp
    >>> from lucid_jax import update_running_stats
    >>> x = jnp.array([[[1.0, 3.0]], [[5.0, 9.0]]])        # N=2, C=1, L=2
    >>> mean, var = update_running_stats(x, jnp.zeros(1), jnp.ones(1), momentum=0.5)
    >>> mean.tolist(), var.tolist()                       # means 2, 7; unbiased vars 2, 8
    ([2.25], [3.0])
    """
    _checks.check_momentum(momentum)
    _checks.check_edge_cases(edge_cases)
    channel_axis, axis_name = _static(channel_axis, axis_name)
    _, batch_axis_name = _static(channel_axis, batch_axis_name)
    return _update_running_stats(*_arrays(x, running_mean, running_var, mask),
                                 momentum=None if momentum is None else float(momentum),
                                 channel_axis=channel_axis, axis_name=axis_name,
                                 batch_axis_name=batch_axis_name, edge_cases=edge_cases)


@partial(jax.jit, static_argnames=("momentum", "channel_axis", "axis_name", "batch_axis_name",
                                   "edge_cases"))
def _update_running_stats(x, running_mean, running_var, mask, *, momentum, channel_axis,
                          axis_name, batch_axis_name, edge_cases):
    x = jnp.asarray(x)
    channels, _ = _layout(x, channel_axis, edge_cases)
    _checks.check_running_stats(running_mean, running_var)
    _checks.check_param("running_mean", running_mean, x, channels, per_sample=False)
    _checks.check_param("running_var", running_var, x, channels, per_sample=False)
    running_mean, running_var = jnp.asarray(running_mean), jnp.asarray(running_var)
    _checks.check_axis_name(batch_axis_name, "batch_axis_name")
    if momentum is None or momentum == 0.0:
        _input_moments(x, mask, channel_axis, axis_name, edge_cases)  # a real update's checks
        return running_mean, running_var
    stats, _, reduce_axes = _input_moments(x, mask, channel_axis, axis_name, edge_cases)
    count = _squeeze(stats.count, reduce_axes)
    unbiased_var = _squeeze(stats.var, reduce_axes) * count / jnp.maximum(count - 1, 1)
    valid = count > 1

    def batch_sum(values):
        total = jnp.sum(values, axis=0)
        return total if batch_axis_name is None else jax.lax.psum(total, batch_axis_name)

    instances = batch_sum(valid.astype(count.dtype))

    def blend(old, per_instance):
        batch_mean = batch_sum(jnp.where(valid, per_instance, 0)) / jnp.maximum(instances, 1)
        new = (1 - momentum) * old.astype(batch_mean.dtype) + momentum * batch_mean
        return jnp.where(instances > 0, new, old).astype(old.dtype)

    return (blend(running_mean, _squeeze(stats.mean, reduce_axes)),
            blend(running_var, unbiased_var))


def adain(content, style, eps: float = 1e-5, *, alpha=1.0, channel_axis: ChannelAxis = 1,
          content_mask=None, style_mask=None, axis_name: AxisName = None) -> jax.Array:
    """Adaptive instance normalisation (Huang & Belongie, 2017).

    ``content`` is instance-normalised, then scaled by the style's per-instance standard
    deviation ``sqrt(var + eps)`` (biased variance) and shifted by its per-instance mean: the
    per-sample ``(N, C)`` affine of :func:`instance_norm`. ``style`` has the content's layout
    and channels; its spatial size may differ. Its batch is the content's, or 1: one style for
    every content image, applied as a ``(C,)`` affine (nothing is tiled).

    ``alpha`` in [0, 1] trades style for content, as at inference in the paper:
    ``alpha * adain(content, style) + (1 - alpha) * content``. A traced ``alpha`` (to
    differentiate or ``vmap`` over it) is not range-checked.

    >>> import jax, jax.numpy as jnp
    >>> from lucid_jax import adain, instance_moments
    >>> content = jax.random.normal(jax.random.key(0), (2, 3, 16, 16))
    >>> style = 4 * jax.random.normal(jax.random.key(1), (2, 3, 8, 8)) + 1
    >>> out = adain(content, style)
    >>> bool(jnp.allclose(instance_moments(out)[0], instance_moments(style)[0], atol=1e-4))
    True

    One style for the whole batch, half strength:

    >>> adain(content, style[:1], alpha=0.5).shape
    (2, 3, 16, 16)
    """
    _checks.check_eps(eps)
    alpha = _checks.check_alpha(alpha)
    channel_axis, axis_name = _static(channel_axis, axis_name)
    return _adain(*_arrays(content, style, content_mask, style_mask), alpha, eps=float(eps),
                  channel_axis=channel_axis, axis_name=axis_name)


@partial(jax.jit, static_argnames=("eps", "channel_axis", "axis_name"))
def _adain(content, style, content_mask, style_mask, alpha, *, eps, channel_axis, axis_name):
    content, style = jnp.asarray(content), jnp.asarray(style)
    _checks.check_adain(content, style, channel_axis)
    style_mean, style_var = instance_moments(style, channel_axis=channel_axis, mask=style_mask,
                                             axis_name=axis_name)
    style_std = jnp.sqrt(style_var + eps)
    if style.shape[0] != content.shape[0]:  # one style for every content image
        style_mean, style_std = style_mean[0], style_std[0]
    y = instance_norm(content, weight=style_std, bias=style_mean, eps=eps,
                      channel_axis=channel_axis, mask=content_mask, axis_name=axis_name)
    if alpha is None:
        return y
    dtype = compute_dtype(content.dtype)
    alpha = jnp.asarray(alpha, dtype)
    return (alpha * y.astype(dtype) + (1 - alpha) * content.astype(dtype)).astype(content.dtype)
