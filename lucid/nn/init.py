"""Initialisers that write in place under ``no_grad``, as ``torch.nn.init``."""

from __future__ import annotations

import math

from lucid._creation import generator
from lucid._grad_mode import no_grad
from lucid._tensor import Tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``tensor`` with samples from ``U(a, b)``; returns it.

    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.uniform_(lucid.zeros(1000), -0.5, 0.5)
    >>> bool(-0.5 <= w.min().item() and w.max().item() <= 0.5)
    True
    """
    sample = generator().uniform(a, b, tensor.shape).astype(tensor.dtype)
    with no_grad():
        return tensor.copy_(sample)


def fan_in_uniform_(tensor: Tensor, fan_in: int) -> Tensor:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``: PyTorch's default for Linear and Conv weights
    (``kaiming_uniform_(a=sqrt(5))``) and biases."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(tensor, -bound, bound)


def zeros_(tensor: Tensor) -> Tensor:
    with no_grad():
        return tensor.zero_()


def ones_(tensor: Tensor) -> Tensor:
    with no_grad():
        return tensor.fill_(1.0)
