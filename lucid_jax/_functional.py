"""The public normalisation functions (``instance_norm``, ``instance_moments``, the
running-statistics update, ``adain``) and the private training step
:func:`instance_norm_and_update` (not exported from :mod:`lucid_jax`), which the Flax modules
and the ``lucid`` facade call.

Each function works in three steps, in this order:

1. it checks its Python settings (``momentum``, ``eps``, ``edge_cases``, ``alpha``) and passes
   them as static arguments to a jitted kernel, so eager calls reuse one compiled program per
   shape and setting (inside a caller's ``jit``, ``grad``, ``vmap`` or ``shard_map`` the kernel
   is simply inlined);
2. the kernel resolves its arrays into one :class:`_Call` (:func:`_resolve`): layout, mask,
   parameters shaped to broadcast. Every check of ``_checks.py`` has run by then, at trace
   time, before any arithmetic;
3. it computes with ``_stats.py``: the moments once, handed to the normalisation and to the
   running-statistics update alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from lucid_jax import _checks
from lucid_jax._checks import AxisName, Layout
from lucid_jax._stats import (
    Moments,
    affine,
    compute_dtype,
    moments,
    running_stats_update,
    standardize,
)

ChannelAxis = int | Sequence[int]


def _static(channel_axis: ChannelAxis,
            axis_name: AxisName | list[str]) -> tuple[ChannelAxis, AxisName]:
    """Hashable forms of the static arguments (lists become tuples)."""
    if isinstance(channel_axis, list):
        channel_axis = tuple(channel_axis)
    if isinstance(axis_name, list):
        axis_name = tuple(axis_name)
    return channel_axis, axis_name


def _arrays(*values: Any) -> tuple[Any, ...]:
    """Arrays as ``jax.jit`` accepts them: objects that define ``__jax_array__`` (a ``lucid``
    Tensor, an Equinox module's array...) are converted; everything else passes as is."""
    return tuple(v.__jax_array__() if not isinstance(v, jax.Array)
                 and hasattr(type(v), "__jax_array__") else v for v in values)


def _broadcast_param(value: ArrayLike, x: jax.Array, channels: tuple[int, ...],
                     dtype: DTypeLike) -> jax.Array:
    """A ``(C,)`` or per-sample ``(N, C)`` array shaped to broadcast against ``x``."""
    value = jnp.asarray(value, dtype)
    shape = [1] * x.ndim
    if value.ndim > len(channels):
        shape[0] = value.shape[0]
    for axis, size in zip(channels, value.shape[value.ndim - len(channels):], strict=True):
        shape[axis] = size
    return value.reshape(shape)


class _Call(NamedTuple):
    """One call's arrays, validated and resolved: what the arithmetic reads, checked no more."""

    x: jax.Array
    layout: Layout
    mask: jax.Array | None  # boolean, of x's rank; None: every element counts
    weight: jax.Array | None  # shaped to broadcast against x, in the statistics' dtype
    bias: jax.Array | None
    running: tuple[jax.Array, jax.Array] | None  # (mean, var) of shape (C,), as given
    axis_name: AxisName

    def input_moments(self) -> Moments:
        """The per-instance moments of ``x`` (reduced axes kept)."""
        return moments(self.x, self.layout.reduce_axes, self.mask, self.axis_name)

    def standardize(self, eps: float) -> tuple[jax.Array, Moments]:
        """``x`` normalised by its own moments, with the affine; and those moments."""
        return standardize(self.x, self.weight, self.bias, self.mask, self.layout.reduce_axes,
                           self.axis_name, eps)

    def running_stats(self) -> tuple[jax.Array, jax.Array]:
        """The running ``(mean, var)``, for a call resolved with them."""
        assert self.running is not None, "resolved without running statistics"
        return self.running

    def squeeze(self, stat: jax.Array) -> jax.Array:
        """A per-instance statistic as ``(N, *features)``."""
        return jnp.squeeze(stat, axis=self.layout.reduce_axes)


def _resolve(x: ArrayLike, *, channel_axis: ChannelAxis, edge_cases: str = "torch",
             mask: ArrayLike | None = None, axis_name: AxisName = None,
             weight: ArrayLike | None = None, bias: ArrayLike | None = None,
             running: tuple[ArrayLike | None, ArrayLike | None] | None = None,
             batch_axis_name: AxisName = None, input_stats: bool = True,
             layout: Layout | None = None) -> _Call:
    """Every check of one call, in one order (input and layout, affine parameters, running
    statistics, mesh axes, then the mask), and the resolved call.

    ``running`` is given where the running statistics are read (``input_stats=False``) or
    updated; ``input_stats`` says whether statistics are taken from ``x``. ``layout`` is
    ``x``'s where the caller has checked it already (:func:`adain`, with its own messages);
    otherwise it comes from ``channel_axis`` here.
    """
    x = jnp.asarray(x)
    if layout is None:
        layout = _checks.layout(x, channel_axis, edge_cases)
    channels = layout.channels
    _checks.check_param("weight", weight, x, layout, per_sample=True)
    _checks.check_param("bias", bias, x, layout, per_sample=True)
    resolved_running = None
    if running is not None:
        running_mean, running_var = running
        _checks.check_running_stats(running_mean, running_var)
        _checks.check_param("running_mean", running_mean, x, layout, per_sample=False)
        _checks.check_param("running_var", running_var, x, layout, per_sample=False)
        resolved_running = (jnp.asarray(running_mean), jnp.asarray(running_var))
    _checks.check_axis_name(batch_axis_name, "batch_axis_name")
    if input_stats:
        _checks.check_input_stats(x, channels, axis_name, edge_cases)
    else:  # validated for a uniform API (a typo fails in eval too); running statistics ignore it
        _checks.check_axis_name(axis_name)
    dtype = compute_dtype(x.dtype)
    return _Call(
        x=x, layout=layout, mask=_checks.as_mask(mask, x, channels),
        weight=None if weight is None else _broadcast_param(weight, x, channels, dtype),
        bias=None if bias is None else _broadcast_param(bias, x, channels, dtype),
        running=resolved_running, axis_name=axis_name)


def _updated(call: _Call, momentum: float | None, batch_axis_name: AxisName,
             stats: Moments | None = None) -> tuple[jax.Array, jax.Array]:
    """The call's running statistics moved towards its moments ``stats`` (computed here unless
    given); unchanged, and no moments computed, for a momentum of None or 0."""
    running_mean, running_var = call.running_stats()
    if momentum is None or momentum == 0.0:
        return running_mean, running_var
    return running_stats_update(call.input_moments() if stats is None else stats,
                                call.layout.reduce_axes, running_mean, running_var, momentum,
                                batch_axis_name)


def instance_norm(x: ArrayLike, running_mean: ArrayLike | None = None,
                  running_var: ArrayLike | None = None, weight: ArrayLike | None = None,
                  bias: ArrayLike | None = None, use_input_stats: bool = True,
                  momentum: float | None = 0.1, eps: float = 1e-5, *,
                  channel_axis: ChannelAxis = 1, mask: ArrayLike | None = None,
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
def _instance_norm(x: ArrayLike, running_mean: ArrayLike | None, running_var: ArrayLike | None,
                   weight: ArrayLike | None, bias: ArrayLike | None, mask: ArrayLike | None, *,
                   use_input_stats: bool, eps: float, channel_axis: ChannelAxis,
                   axis_name: AxisName, edge_cases: str) -> jax.Array:
    call = _resolve(x, channel_axis=channel_axis, edge_cases=edge_cases, mask=mask,
                    axis_name=axis_name, weight=weight, bias=bias,
                    running=None if use_input_stats else (running_mean, running_var),
                    input_stats=use_input_stats)
    if use_input_stats:
        y, _ = call.standardize(eps)
    else:
        dtype = compute_dtype(call.x.dtype)
        mean, var = (_broadcast_param(s, call.x, call.layout.channels, dtype)
                     for s in call.running_stats())
        y = affine((call.x.astype(dtype) - mean) * jax.lax.rsqrt(var + eps), call.weight,
                   call.bias)
    return y.astype(call.x.dtype)


def instance_moments(x: ArrayLike, *, channel_axis: ChannelAxis = 1,
                     mask: ArrayLike | None = None, axis_name: AxisName = None,
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
def _instance_moments(x: ArrayLike, mask: ArrayLike | None, *, channel_axis: ChannelAxis,
                      axis_name: AxisName, unbiased: bool) -> tuple[jax.Array, jax.Array]:
    call = _resolve(x, channel_axis=channel_axis, mask=mask, axis_name=axis_name)
    stats = call.input_moments()
    return call.squeeze(stats.mean), call.squeeze(stats.unbiased_var if unbiased else stats.var)


def update_running_stats(x: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike,
                         momentum: float | None = 0.1, *, channel_axis: ChannelAxis = 1,
                         mask: ArrayLike | None = None, axis_name: AxisName = None,
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
def _update_running_stats(x: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike,
                          mask: ArrayLike | None, *, momentum: float | None,
                          channel_axis: ChannelAxis, axis_name: AxisName,
                          batch_axis_name: AxisName,
                          edge_cases: str) -> tuple[jax.Array, jax.Array]:
    call = _resolve(x, channel_axis=channel_axis, edge_cases=edge_cases, mask=mask,
                    axis_name=axis_name, running=(running_mean, running_var),
                    batch_axis_name=batch_axis_name)
    return _updated(call, momentum, batch_axis_name)


def instance_norm_and_update(
        x: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike,
        weight: ArrayLike | None = None, bias: ArrayLike | None = None,
        momentum: float | None = 0.1, eps: float = 1e-5, *, channel_axis: ChannelAxis = 1,
        mask: ArrayLike | None = None, axis_name: AxisName = None,
        batch_axis_name: AxisName = None,
        edge_cases: str = "torch") -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """A layer's training step (private: the Flax modules and the ``lucid`` facade call it):
    :func:`instance_norm` by the input's statistics and :func:`update_running_stats`, from one
    computation of the moments.

    Returns ``(y, (new_mean, new_var))``. The new running statistics carry no gradient from
    ``x``; from the old ones they carry the blend's, ``d new / d old = 1 - momentum``.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[[1.0, 3.0]], [[5.0, 9.0]]])
    >>> y, (mean, var) = instance_norm_and_update(x, jnp.zeros(1), jnp.ones(1), momentum=0.5)
    >>> y[:, 0].round(3).tolist(), mean.tolist(), var.tolist()
    ([[-1.0, 1.0], [-1.0, 1.0]], [2.25], [3.0])
    """
    _checks.check_eps(eps)
    _checks.check_edge_cases(edge_cases)
    _checks.check_momentum(momentum)
    channel_axis, axis_name = _static(channel_axis, axis_name)
    _, batch_axis_name = _static(channel_axis, batch_axis_name)
    return _instance_norm_and_update(
        *_arrays(x, running_mean, running_var, weight, bias, mask),
        momentum=None if momentum is None else float(momentum), eps=float(eps),
        channel_axis=channel_axis, axis_name=axis_name, batch_axis_name=batch_axis_name,
        edge_cases=edge_cases)


@partial(jax.jit, static_argnames=("momentum", "eps", "channel_axis", "axis_name",
                                   "batch_axis_name", "edge_cases"))
def _instance_norm_and_update(
        x: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike, weight: ArrayLike | None,
        bias: ArrayLike | None, mask: ArrayLike | None, *, momentum: float | None, eps: float,
        channel_axis: ChannelAxis, axis_name: AxisName, batch_axis_name: AxisName,
        edge_cases: str) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    call = _resolve(x, channel_axis=channel_axis, edge_cases=edge_cases, mask=mask,
                    axis_name=axis_name, weight=weight, bias=bias,
                    running=(running_mean, running_var), batch_axis_name=batch_axis_name)
    y, stats = call.standardize(eps)
    return y.astype(call.x.dtype), _updated(call, momentum, batch_axis_name, stats)


def adain(content: ArrayLike, style: ArrayLike, eps: float = 1e-5, *, alpha: ArrayLike = 1.0,
          channel_axis: ChannelAxis = 1, content_mask: ArrayLike | None = None,
          style_mask: ArrayLike | None = None, axis_name: AxisName = None) -> jax.Array:
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
    blend = _checks.check_alpha(alpha)
    channel_axis, axis_name = _static(channel_axis, axis_name)
    return _adain(*_arrays(content, style, content_mask, style_mask), blend, eps=float(eps),
                  channel_axis=channel_axis, axis_name=axis_name)


@partial(jax.jit, static_argnames=("eps", "channel_axis", "axis_name"))
def _adain(content: ArrayLike, style: ArrayLike, content_mask: ArrayLike | None,
           style_mask: ArrayLike | None, alpha: ArrayLike | None, *, eps: float,
           channel_axis: ChannelAxis, axis_name: AxisName) -> jax.Array:
    content, style = jnp.asarray(content), jnp.asarray(style)
    content_layout, style_layout = _checks.adain_layouts(content, style, channel_axis)
    styled = _resolve(style, channel_axis=channel_axis, mask=style_mask, axis_name=axis_name,
                      layout=style_layout)
    call = _resolve(content, channel_axis=channel_axis, mask=content_mask, axis_name=axis_name,
                    layout=content_layout)
    style_stats = styled.input_moments()
    style_mean = styled.squeeze(style_stats.mean)
    style_std = jnp.sqrt(styled.squeeze(style_stats.var) + eps)
    if style.shape[0] != content.shape[0]:  # one style for every content image
        style_mean, style_std = style_mean[0], style_std[0]
    dtype = compute_dtype(content.dtype)
    call = call._replace(weight=_broadcast_param(style_std, content, call.layout.channels, dtype),
                         bias=_broadcast_param(style_mean, content, call.layout.channels, dtype))
    y = call.standardize(eps)[0].astype(content.dtype)
    if alpha is None:
        return y
    alpha = jnp.asarray(alpha, dtype)
    return (alpha * y.astype(dtype) + (1 - alpha) * content.astype(dtype)).astype(content.dtype)
