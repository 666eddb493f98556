"""Array and padding layouts between PyTorch (channels first) and Flax (channels last)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _move(x: Any, source: int, destination: int) -> Any:
    if hasattr(x, "movedim") and hasattr(x, "detach"):  # a torch tensor
        return x.movedim(source, destination)
    if type(x).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp
        return jnp.moveaxis(x, source, destination)
    return np.moveaxis(np.asarray(x), source, destination)


def to_channels_last(x: Any) -> Any:
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)`` (NCHW -> NHWC) for numpy, JAX or torch
    (the result is of the input's kind; anything else becomes numpy).

    >>> to_channels_last(np.zeros((2, 3, 4, 5))).shape
    (2, 4, 5, 3)
    """
    return _move(x, 1, -1)


def to_channels_first(x: Any) -> Any:
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)`` (NHWC -> NCHW) for numpy, JAX or torch
    (the result is of the input's kind; anything else becomes numpy).

    >>> to_channels_first(np.zeros((2, 4, 5, 3))).shape
    (2, 3, 4, 5)
    """
    return _move(x, -1, 1)


def conv_transpose_padding(kernel_size: int | Sequence[int], padding: int | Sequence[int] = 0,
                           output_padding: int | Sequence[int] = 0,
                           dilation: int | Sequence[int] = 1) -> list[tuple[int, int]]:
    """Flax ``ConvTranspose`` padding equal to PyTorch ``ConvTranspose`` ``padding`` and
    ``output_padding``: ``(d*(k-1) - p, d*(k-1) - p + output_padding)`` per spatial axis.

    Ints apply to every axis of ``kernel_size``; use the same ``strides`` and
    ``kernel_dilation`` in Flax.

    >>> conv_transpose_padding((3, 3), padding=1, output_padding=1)   # CycleGAN's upsampling
    [(1, 2), (1, 2)]
    """
    kernel = tuple(kernel_size) if not isinstance(kernel_size, int) else (kernel_size,)
    n = len(kernel)

    def per_axis(value: int | Sequence[int], name: str) -> tuple[int, ...]:
        values = (value,) * n if isinstance(value, int) else tuple(value)
        if len(values) != n:
            raise ValueError(f"{name}={value!r} has {len(values)} entries for a "
                             f"{n}-dimensional kernel_size={kernel!r}")
        return values

    pairs = []
    for k, p, op, d in zip(kernel, per_axis(padding, "padding"),
                           per_axis(output_padding, "output_padding"),
                           per_axis(dilation, "dilation"), strict=True):
        lo = d * (k - 1) - p
        if lo < 0:
            raise ValueError(f"padding={padding!r} exceeds dilation * (kernel_size - 1) = "
                             f"{d * (k - 1)}: no Flax padding gives PyTorch's output")
        pairs.append((lo, lo + op))
    return pairs
