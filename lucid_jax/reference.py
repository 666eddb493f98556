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

import numpy as np


def layout(x, channel_axis):
    """(channel axes, reduced axes) of ``x``; axis 0 is the batch axis."""
    channels = (channel_axis,) if np.isscalar(channel_axis) else tuple(channel_axis)
    channels = tuple(a % x.ndim for a in channels)
    return channels, tuple(a for a in range(1, x.ndim) if a not in channels)


def broadcast_param(value, x, channels):
    """A ``(C,)`` or per-sample ``(N, C)`` array shaped to broadcast against ``x``."""
    value = np.asarray(value, np.float64)
    shape = [1] * x.ndim
    if value.ndim > len(channels):
        shape[0] = value.shape[0]
    for axis, size in zip(channels, value.shape[value.ndim - len(channels):], strict=True):
        shape[axis] = size
    return value.reshape(shape)


def _reduce_axes(x, channel_axis):
    return layout(x, channel_axis)[1]


def moments(x, channel_axis=1, mask=None):
    """Per-instance mean and biased variance (reduced axes kept), in float64."""
    mean, var = _moments(x, channel_axis, mask)
    return mean.astype(np.float64), var.astype(np.float64)


def _moments(x, channel_axis, mask):
    x = np.asarray(x, np.longdouble)
    _, reduce_axes = layout(x, channel_axis)
    if mask is None:
        return x.mean(reduce_axes, keepdims=True), x.var(reduce_axes, keepdims=True)
    m = np.broadcast_to(np.asarray(mask, bool), x.shape)
    count = m.sum(reduce_axes, keepdims=True)
    safe = np.maximum(count, 1)
    mean = np.where(m, x, 0).sum(reduce_axes, keepdims=True) / safe
    var = np.where(m, (x - mean) ** 2, 0).sum(reduce_axes, keepdims=True) / safe
    return mean, var


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, eps=1e-5, channel_axis=1, mask=None):
    """Instance normalisation in float64, the textbook formula.

    An instance with nothing to normalise by (fully masked, or constant with ``eps=0``)
    normalises to 0, the library's decided semantics.
    """
    x = np.asarray(x, np.longdouble)
    channels, _ = layout(x, channel_axis)
    if use_input_stats:
        mean, var = _moments(x, channel_axis, mask)
    else:
        mean = broadcast_param(running_mean, x, channels)
        var = broadcast_param(running_var, x, channels)
    std = np.sqrt(var + eps)
    # Nothing to normalise by (a fully masked instance, or a constant one with eps=0): 0.
    empty = std == 0
    if use_input_stats and mask is not None:
        empty = empty | ~np.broadcast_to(np.asarray(mask, bool), x.shape).any(
            _reduce_axes(x, channel_axis), keepdims=True)
    y = np.where(empty, 0, (x - mean) / np.where(empty, 1, std))
    if weight is not None:
        y = y * broadcast_param(weight, x, channels)
    if bias is not None:
        y = y + broadcast_param(bias, x, channels)
    return y.astype(np.float64)


def update_running_stats(x, running_mean, running_var, momentum=0.1, channel_axis=1):
    """PyTorch's rule: batch average of per-instance mean and unbiased variance (float64)."""
    x = np.asarray(x, np.longdouble)
    if momentum is None:
        return np.asarray(running_mean, np.float64), np.asarray(running_var, np.float64)
    _, reduce_axes = layout(x, channel_axis)
    mean, var = _moments(x, channel_axis, None)
    n = np.prod([x.shape[a] for a in reduce_axes])
    mean = mean.squeeze(reduce_axes).mean(0)
    var = (var * n / (n - 1)).squeeze(reduce_axes).mean(0)
    new_mean = (1 - momentum) * np.asarray(running_mean, np.longdouble) + momentum * mean
    new_var = (1 - momentum) * np.asarray(running_var, np.longdouble) + momentum * var
    return new_mean.astype(np.float64), new_var.astype(np.float64)
