"""Initialisers that write in place under ``no_grad``, as ``torch.nn.init``.

Samples come from the generator :func:`lucid.manual_seed` resets (not PyTorch's numbers);
the distributions, gains and fan rules are PyTorch's: ``fan_in = size(1) * receptive
field``, ``fan_out = size(0) * receptive field``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

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


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``tensor`` with samples from ``N(mean, std**2)``; returns it.

    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.normal_(lucid.zeros(10000), 1.0, 0.02)
    >>> round(w.mean().item(), 2), round(w.std().item(), 2)
    (1.0, 0.02)
    """
    sample = generator().normal(mean, std, tensor.shape).astype(tensor.dtype)
    with no_grad():
        return tensor.copy_(sample)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``; returns it.

    >>> import lucid
    >>> from lucid.nn import init
    >>> init.constant_(lucid.zeros(2), 0.5).tolist()
    [0.5, 0.5]
    """
    with no_grad():
        return tensor.fill_(val)


def calculate_gain(nonlinearity: str, param: Any = None) -> float:
    """PyTorch's recommended gain for ``nonlinearity`` (``param``: leaky_relu's slope).

    >>> from lucid.nn import init
    >>> init.calculate_gain("tanh"), round(init.calculate_gain("leaky_relu", 0.2), 4)
    (1.6666666666666667, 1.3868)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if len(tensor.shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """``U(±gain * sqrt(6 / (fan_in + fan_out)))`` (Glorot & Bengio)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """``N(0, gain**2 * 2 / (fan_in + fan_out))`` (Glorot & Bengio)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _zero_elements(tensor: Tensor) -> bool:
    """PyTorch's Kaiming initialisers leave a zero-element tensor alone, with a warning."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """``U(±gain * sqrt(3 / fan))`` (He et al.), ``fan`` by ``mode``.

    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.kaiming_uniform_(lucid.zeros(64, 32, 3, 3), nonlinearity="relu")
    >>> bool(abs(w).max().item() <= (6 / (32 * 9)) ** 0.5)
    True
    """
    if _zero_elements(tensor):
        return tensor
    fan = _fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """``N(0, gain**2 / fan)`` (He et al.), ``fan`` by ``mode``."""
    if _zero_elements(tensor):
        return tensor
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


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
