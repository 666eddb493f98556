"""The float64 NumPy oracle every numeric test is checked against, and the tolerances.

Statistics are computed in ``np.longdouble`` (80-bit on x86) so that the oracle stays exact
for float64 inputs far from zero; results are returned in float64.

Tolerances live here and nowhere else: one per input dtype, for comparisons of a computed
result against the float64 oracle (or against PyTorch, which is itself within them).
"""

from __future__ import annotations

import numpy as np

# (rtol, atol) per input dtype name, for outputs of order 1 (normalised values, gradients).
TOLERANCE = {
    "float64": (1e-10, 1e-10),
    "float32": (1e-5, 2e-5),
    "bfloat16": (2e-2, 5e-2),
    "float16": (2e-3, 5e-3),
}


def tolerance(dtype) -> dict:
    rtol, atol = TOLERANCE[np.dtype(dtype).name]
    return {"rtol": rtol, "atol": atol}


def assert_close(actual, expected, dtype=np.float32, err_msg: str = "") -> None:
    """``actual`` matches ``expected`` within the tolerance of the *input* dtype."""
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               err_msg=err_msg, **tolerance(dtype))


def _axes(x, channel_axis):
    channels = (channel_axis,) if np.isscalar(channel_axis) else tuple(channel_axis)
    channels = tuple(a % x.ndim for a in channels)
    return channels, tuple(a for a in range(1, x.ndim) if a not in channels)


def _param(value, x, channels):
    value = np.asarray(value, np.float64)
    shape = [1] * x.ndim
    if value.ndim > len(channels):
        shape[0] = value.shape[0]
    for axis, size in zip(channels, value.shape[value.ndim - len(channels):], strict=True):
        shape[axis] = size
    return value.reshape(shape)


def moments(x, channel_axis=1, mask=None):
    """Per-instance mean and biased variance (reduced axes kept), in extended precision."""
    x = np.asarray(x, np.longdouble)
    _, reduce_axes = _axes(x, channel_axis)
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
    """Instance normalisation in float64, the textbook formula."""
    x = np.asarray(x, np.longdouble)
    channels, _ = _axes(x, channel_axis)
    if use_input_stats:
        mean, var = moments(x, channel_axis, mask)
    else:
        mean, var = _param(running_mean, x, channels), _param(running_var, x, channels)
    y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * _param(weight, x, channels)
    if bias is not None:
        y = y + _param(bias, x, channels)
    return y.astype(np.float64)


def update_running_stats(x, running_mean, running_var, momentum=0.1, channel_axis=1):
    """PyTorch's rule: batch average of per-instance mean and unbiased variance."""
    x = np.asarray(x, np.float64)
    if momentum is None:
        return np.asarray(running_mean, np.float64), np.asarray(running_var, np.float64)
    channels, reduce_axes = _axes(x, channel_axis)
    mean, var = moments(x, channel_axis)
    n = np.prod([x.shape[a] for a in reduce_axes])
    mean = mean.squeeze(reduce_axes).mean(0)
    var = (var * n / (n - 1)).squeeze(reduce_axes).mean(0)
    return ((1 - momentum) * np.asarray(running_mean, np.float64) + momentum * mean,
            (1 - momentum) * np.asarray(running_var, np.float64) + momentum * var)
