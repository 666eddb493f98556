"""``linear``: ``x @ weight.T + bias``, one fused kernel, on the tape."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lucid._tensor import Tensor, apply

_LinearKernel = Callable[[jax.Array, jax.Array, Any], tuple[jax.Array, None]]  # bias: array or None


@functools.cache
def _linear_kernel(has_bias: bool) -> _LinearKernel:
    """``x @ weight.T + bias`` fused in one kernel."""
    def linear(x: jax.Array, weight: jax.Array, bias: Any) -> tuple[jax.Array, None]:
        y = jnp.matmul(x, weight.T)
        return (y + bias if has_bias else y), None
    return linear


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.linear(lucid.ones(1, 2), lucid.ones(3, 2), lucid.zeros(3)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    return apply(_linear_kernel(bias is not None), input, weight, bias)[0]
