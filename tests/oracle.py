"""The float64 oracle every numeric test is checked against, and the tolerances.

The oracle is :mod:`lucid_jax.reference` (NumPy, extended precision), re-exported here.

Tolerances live here and nowhere else: one per input dtype, for comparisons of a computed
result against the float64 oracle (or against PyTorch, which is itself within them).
"""

from __future__ import annotations

import numpy as np

from lucid_jax.reference import adain, broadcast_param, instance_norm, moments, update_running_stats

__all__ = ["TOLERANCE", "adain", "broadcast_param", "assert_close", "instance_norm", "moments",
           "tolerance", "update_running_stats"]

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
