"""The float64 oracle every numeric test is checked against, and the tolerances.

The oracle is :mod:`lucid_jax.reference` (NumPy, extended precision), re-exported here.

Tolerances live here and nowhere else: one per input dtype, for comparisons of a computed
result against the float64 oracle (or against PyTorch, which is itself within them).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from lucid_jax.reference import (
    adain,
    broadcast_param,
    instance_norm,
    layout,
    moments,
    update_running_stats,
)

__all__ = ["TOLERANCE", "adain", "assert_close", "assert_within_half_ulp", "broadcast_param",
           "input_grad", "instance_norm", "moments", "tolerance", "ulp", "update_running_stats"]

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


def input_grad(x, cotangent, eps=1e-5, channel_axis=1, mask=None, weight=None):
    """float64 gradient of ``sum(instance_norm(x, weight=weight) * cotangent)`` in ``x``.

    With ``y = (x - mu) * r * w``, ``r = (var + eps)^-1/2`` and statistics over the masked
    elements ``m`` (count ``n``): ``dx = r*g - m*r*sum(g)/n - m*(x - mu)*r^3*sum(g*(x - mu))/n``
    where ``g = cotangent * w`` and the sums run over every element of the instance. A fully
    masked instance normalises to 0, so its gradient is 0.
    """
    x = np.asarray(x, np.float64)
    g = np.asarray(cotangent, np.float64)
    channels, axes = layout(x, channel_axis)
    if weight is not None:
        g = g * broadcast_param(weight, x, channels)
    mean, var = moments(x, channel_axis, mask)
    m = np.ones_like(x) if mask is None else np.broadcast_to(np.asarray(mask, bool), x.shape)
    count = m.sum(axes, keepdims=True)
    n = np.maximum(count, 1)
    r = np.where(count > 0, 1.0 / np.sqrt(var + eps), 0)
    centred = x - mean
    return (r * g - m * r * g.sum(axes, keepdims=True) / n
            - m * centred * r**3 * (g * centred).sum(axes, keepdims=True) / n)


def ulp(value, dtype) -> np.ndarray:
    """The spacing of ``dtype``'s numbers at each ``value`` (subnormals included), as float64."""
    info = ml_dtypes.finfo(dtype)
    magnitude = np.maximum(np.abs(np.asarray(value, np.float64)), float(info.smallest_normal))
    return np.maximum(2.0 ** np.floor(np.log2(magnitude)) * float(info.eps),
                      float(info.smallest_subnormal))


def assert_within_half_ulp(actual, expected, dtype, slack=2e-6) -> None:
    """A low-precision result is the exact one rounded: within half an ulp of ``dtype``.

    ``slack`` (absolute) is the float32 error of the computation before the final rounding,
    which only matters for outputs so close to 0 that their ulp is below it.
    """
    expected = np.asarray(expected, np.float64)
    error = np.abs(np.asarray(actual, np.float64) - expected)
    bound = 0.5 * ulp(expected, dtype) + slack
    worst = np.unravel_index(np.argmax(error / bound), error.shape)
    assert (error <= bound).all(), (
        f"error {error[worst]:.3g} at {worst} exceeds half an ulp of {np.dtype(dtype).name} "
        f"({bound[worst]:.3g}) around the exact {expected[worst]:.6g}")
