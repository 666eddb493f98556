"""A float64 NumPy reference for instance normalisation, independent of JAX.

The textbook formulas, with statistics in ``np.longdouble`` (80-bit on x86) so that the
reference stays exact for float64 inputs far from zero; results are float64. The test suite
and ``python -m lucid_jax`` check the library against it. It is slow and meant for checking,
not for use in models.

>>> import numpy as np
>>> from lucid_jax import reference
>>> reference.instance_norm(np.array([[[1.0, 2.0, 3.0]]])).round(4).tolist()
[[[-1.2247, 0.0, 1.2247]]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

ChannelAxis = int | Sequence[int]


def layout(x: np.ndarray,
           channel_axis: ChannelAxis) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(channel axes, reduced axes) of ``x``; axis 0 is the batch axis."""
    requested = ((channel_axis,) if isinstance(channel_axis, int | np.integer)
                 else tuple(channel_axis))
    channels = tuple(int(a) % x.ndim for a in requested)
    return channels, tuple(a for a in range(1, x.ndim) if a not in channels)


def broadcast_param(value: npt.ArrayLike | None, x: np.ndarray,
                    channels: tuple[int, ...]) -> np.ndarray:
    """A ``(C,)`` or per-sample ``(N, C)`` array shaped to broadcast against ``x``."""
    array = np.asarray(value, np.float64)
    shape = [1] * x.ndim
    if array.ndim > len(channels):
        shape[0] = array.shape[0]
    for axis, size in zip(channels, array.shape[array.ndim - len(channels):], strict=True):
        shape[axis] = size
    return array.reshape(shape)


def _reduce_axes(x: np.ndarray, channel_axis: ChannelAxis) -> tuple[int, ...]:
    return layout(x, channel_axis)[1]


def moments(x: npt.ArrayLike, channel_axis: ChannelAxis = 1,
            mask: npt.ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-instance mean and biased variance (reduced axes kept), in float64."""
    mean, var = _moments(x, channel_axis, mask)
    return mean.astype(np.float64), var.astype(np.float64)


def _moments(x: npt.ArrayLike, channel_axis: ChannelAxis,
             mask: npt.ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(x, np.longdouble)
    _, reduce_axes = layout(values, channel_axis)
    if mask is None:
        return values.mean(reduce_axes, keepdims=True), values.var(reduce_axes, keepdims=True)
    m = np.broadcast_to(np.asarray(mask, bool), values.shape)
    count = m.sum(reduce_axes, keepdims=True)
    safe = np.maximum(count, 1)
    mean = np.where(m, values, 0).sum(reduce_axes, keepdims=True) / safe
    var = np.where(m, (values - mean) ** 2, 0).sum(reduce_axes, keepdims=True) / safe
    return mean, var


def instance_norm(x: npt.ArrayLike, running_mean: npt.ArrayLike | None = None,
                  running_var: npt.ArrayLike | None = None, weight: npt.ArrayLike | None = None,
                  bias: npt.ArrayLike | None = None, use_input_stats: bool = True,
                  eps: float = 1e-5, channel_axis: ChannelAxis = 1,
                  mask: npt.ArrayLike | None = None) -> np.ndarray:
    """Instance normalisation in float64, the textbook formula.

    An instance with nothing to normalise by (fully masked, or constant with ``eps=0``)
    normalises to 0, the library's decided semantics.
    """
    values = np.asarray(x, np.longdouble)
    channels, _ = layout(values, channel_axis)
    if use_input_stats:
        mean, var = _moments(values, channel_axis, mask)
    else:
        mean = broadcast_param(running_mean, values, channels)
        var = broadcast_param(running_var, values, channels)
    std = np.sqrt(var + eps)
    # Nothing to normalise by (a fully masked instance, or a constant one with eps=0): 0.
    empty = std == 0
    if use_input_stats and mask is not None:
        empty = empty | ~np.broadcast_to(np.asarray(mask, bool), values.shape).any(
            _reduce_axes(values, channel_axis), keepdims=True)
    y = np.where(empty, 0, (values - mean) / np.where(empty, 1, std))
    if weight is not None:
        y = y * broadcast_param(weight, values, channels)
    if bias is not None:
        y = y + broadcast_param(bias, values, channels)
    return y.astype(np.float64)


def update_running_stats(x: npt.ArrayLike, running_mean: npt.ArrayLike,
                         running_var: npt.ArrayLike, momentum: float | None = 0.1,
                         channel_axis: ChannelAxis = 1) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's rule: batch average of per-instance mean and unbiased variance (float64)."""
    values = np.asarray(x, np.longdouble)
    if momentum is None:
        return np.asarray(running_mean, np.float64), np.asarray(running_var, np.float64)
    _, reduce_axes = layout(values, channel_axis)
    mean, var = _moments(values, channel_axis, None)
    n = np.prod([values.shape[a] for a in reduce_axes])
    mean = mean.squeeze(reduce_axes).mean(0)
    var = (var * n / (n - 1)).squeeze(reduce_axes).mean(0)
    new_mean = (1 - momentum) * np.asarray(running_mean, np.longdouble) + momentum * mean
    new_var = (1 - momentum) * np.asarray(running_var, np.longdouble) + momentum * var
    return new_mean.astype(np.float64), new_var.astype(np.float64)


def adain(content: npt.ArrayLike, style: npt.ArrayLike, eps: float = 1e-5,
          alpha: float = 1.0, channel_axis: ChannelAxis = 1,
          content_mask: npt.ArrayLike | None = None,
          style_mask: npt.ArrayLike | None = None) -> np.ndarray:
    """AdaIN in float64: the content normalised (:func:`instance_norm`), given the style's
    per-instance mean and standard deviation ``sqrt(var + eps)``, then
    ``alpha * that + (1 - alpha) * content``.

    ``style`` has the content's rank; a style batch of 1 broadcasts over the content's.
    """
    style_mean, style_var = _moments(style, channel_axis, style_mask)
    normalised = instance_norm(content, eps=eps, channel_axis=channel_axis, mask=content_mask)
    y = normalised * np.sqrt(style_var + eps) + style_mean
    return (alpha * y + (1 - alpha) * np.asarray(content, np.longdouble)).astype(np.float64)
