"""Activations, ``linear`` and ``pad``: one cached kernel each, on the tape."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lucid._autograd import _no_aux
from lucid._tensor import apply

_RELU, _TANH, _SIGMOID = (_no_aux(op) for op in (jax.nn.relu, jnp.tanh, jax.nn.sigmoid))
_LEAKY_RELU = _no_aux(lambda x, slope: jnp.where(x > 0, x, x * slope))
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


@functools.cache
def _linear_kernel(has_bias: bool) -> Callable:
    """``x @ weight.T + bias`` fused in one kernel."""
    def linear(x, weight, bias):
        y = jnp.matmul(x, weight.T)
        return (y + bias if has_bias else y), None
    return linear


def relu(input: Any, inplace: bool = False) -> Any:
    """``max(input, 0)``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.relu(lucid.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _maybe_inplace(input, apply(_RELU, input)[0], inplace)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """``input`` where positive, ``negative_slope * input`` elsewhere.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.leaky_relu(lucid.tensor([-1.0, 2.0]), 0.5).tolist()
    [-0.5, 2.0]
    """
    return _maybe_inplace(input, apply(_LEAKY_RELU, input, negative_slope)[0], inplace)


def tanh(input: Any) -> Any:
    """The hyperbolic tangent, elementwise."""
    return apply(_TANH, input)[0]


def sigmoid(input: Any) -> Any:
    """``1 / (1 + exp(-input))``, elementwise."""
    return apply(_SIGMOID, input)[0]


def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.linear(lucid.ones(1, 2), lucid.ones(3, 2), lucid.zeros(3)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    return apply(_linear_kernel(bias is not None), input, weight, bias)[0]


@functools.cache
def _pad_kernel(widths: tuple, mode: str) -> Callable:
    def pad(x, value):
        if mode == "constant":
            return jnp.pad(x, widths, constant_values=value.astype(x.dtype)), None
        return jnp.pad(x, widths, mode=_PAD_MODES[mode]), None
    return pad


def pad_widths(pad: tuple[int, ...], ndim: int) -> tuple[tuple[int, int], ...]:
    """PyTorch's flat ``pad`` (last axis first, ``(left, right, top, bottom, ...)``) as pairs."""
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, got {len(pad)}: {pad}")
    if len(pad) // 2 > ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                         f"dimension but got padding length {len(pad)} and input of dimension "
                         f"{ndim}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    return ((0, 0),) * (ndim - len(pairs)) + tuple(reversed(pairs))


def pad(input: Any, pad: tuple[int, ...], mode: str = "constant", value: float | None = None
        ) -> Any:
    """Pad the last ``len(pad) // 2`` axes, as ``torch.nn.functional.pad``.

    ``mode`` is ``"constant"`` (with ``value``, default 0), ``"reflect"``, ``"replicate"``
    or ``"circular"``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.pad(lucid.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode!r}; use one of "
                                  f"{sorted(_PAD_MODES)}")
    widths = pad_widths(tuple(pad), len(input.shape))
    if mode == "reflect":
        for dim in range(len(input.shape) - 1, len(input.shape) - 1 - len(pad) // 2, -1):
            if max(widths[dim]) >= input.shape[dim]:
                pair = len(input.shape) - 1 - dim
                raise RuntimeError(f"Argument #{4 + 2 * pair}: Padding size should be less than "
                                   "the corresponding input dimension, but got: padding "
                                   f"{widths[dim]} at dimension {dim} of input "
                                   f"{list(input.shape)}")
    return apply(_pad_kernel(widths, mode), input, jnp.asarray(value or 0.0))[0]


def _maybe_inplace(input: Any, result: Any, inplace: bool) -> Any:
    return input._assign_(lambda: result) if inplace else result
