"""Activations: one cached kernel each, on the tape (relu, tanh and sigmoid are the Tensor
methods' kernels)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from lucid._autograd import _no_aux
from lucid._ops.elementwise import _RELU, _SIGMOID, _TANH
from lucid._tensor import Tensor, apply

_LEAKY_RELU = _no_aux(lambda x, slope: jnp.where(x > 0, x, x * slope))


def relu(input: Any, inplace: bool = False) -> Tensor:
    """``max(input, 0)``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.relu(lucid.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _maybe_inplace(input, apply(_RELU, input)[0], inplace)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``negative_slope * input`` elsewhere.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.leaky_relu(lucid.tensor([-1.0, 2.0]), 0.5).tolist()
    [-0.5, 2.0]
    """
    return _maybe_inplace(input, apply(_LEAKY_RELU, input, negative_slope)[0], inplace)


def tanh(input: Any) -> Tensor:
    """The hyperbolic tangent, elementwise."""
    return apply(_TANH, input)[0]


def sigmoid(input: Any) -> Tensor:
    """``1 / (1 + exp(-input))``, elementwise."""
    return apply(_SIGMOID, input)[0]


def _maybe_inplace(input: Any, result: Any, inplace: bool) -> Tensor:
    return input._assign_(lambda: result) if inplace else result
