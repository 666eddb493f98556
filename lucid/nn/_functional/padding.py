"""``pad``: PyTorch's flat padding and its four modes, one cached kernel per setting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lucid._tensor import apply

# PyTorch's padding modes as jnp.pad's
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad_array(x: jax.Array, widths: tuple[tuple[int, int], ...], mode: str,
              value: ArrayLike = 0) -> jax.Array:
    """``x`` padded by ``widths`` (pairs per axis) in PyTorch's ``mode``; ``constant`` fills
    with ``value``. A negative width crops that side, as in PyTorch: ``circular`` crops first
    and wraps the rest, the other modes pad the uncropped input and then crop."""
    def crop(y: jax.Array) -> jax.Array:
        return y[tuple(slice(-min(lo, 0), y.shape[axis] + min(hi, 0))
                       for axis, (lo, hi) in enumerate(widths))]

    padding = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
    if mode == "circular":
        return jnp.pad(crop(x), padding, mode="wrap")
    if mode == "constant":
        padded = jnp.pad(x, padding, constant_values=jnp.asarray(value).astype(x.dtype))
    else:
        padded = jnp.pad(x, padding, mode=_PAD_MODES[mode])
    return crop(padded)


@functools.cache
def _pad_kernel(widths: tuple, mode: str) -> Callable:
    def pad(x: jax.Array, value: jax.Array) -> tuple[jax.Array, None]:
        return pad_array(x, widths, mode, value), None
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
    or ``"circular"``. A negative width crops that side, as in PyTorch. Circular padding
    wider than the (cropped) axis is refused: PyTorch refuses it uncropped, and cropped it
    returns memory it never wrote.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.pad(lucid.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    >>> F.pad(lucid.tensor([[1.0, 2.0, 3.0]]), (-1, 1)).tolist()
    [[2.0, 3.0, 0.0]]
    """
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode!r}; use one of "
                                  f"{sorted(_PAD_MODES)}")
    widths = pad_widths(tuple(pad), len(input.shape))
    for dim, (lo, hi) in enumerate(widths):
        if input.shape[dim] + lo + hi < 0 or input.shape[dim] + min(lo, 0) + min(hi, 0) < 0:
            raise RuntimeError(f"The input size {input.shape[dim]}, plus negative padding {lo} "
                               f"and {hi} resulted in a negative output size, which is invalid. "
                               f"Check dimension {dim} of your input.")
    if mode == "circular":  # stricter than torch where its crop-then-wrap reads unset memory
        for dim, (lo, hi) in enumerate(widths):
            if max(lo, hi) > input.shape[dim] + min(lo, 0) + min(hi, 0):
                raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode == "reflect":
        for dim in range(len(input.shape) - 1, len(input.shape) - 1 - len(pad) // 2, -1):
            if max(widths[dim]) >= input.shape[dim]:
                pair = len(input.shape) - 1 - dim
                raise RuntimeError(f"Argument #{4 + 2 * pair}: Padding size should be less than "
                                   "the corresponding input dimension, but got: padding "
                                   f"{widths[dim]} at dimension {dim} of input "
                                   f"{list(input.shape)}")
    return apply(_pad_kernel(widths, mode), input, jnp.asarray(value or 0.0))[0]
