"""``ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``: modules over :mod:`lucid.nn.functional`."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
from lucid.nn._functional import activation as F
from lucid.nn.module import Module


class ReLU(Module):
    """``max(x, 0)``.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.ReLU()(lucid.tensor([-1.0, 1.0])).tolist()
    [0.0, 1.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return F.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` where positive, else ``negative_slope * x``.

    >>> import lucid.nn as nn
    >>> nn.LeakyReLU(0.2)
    LeakyReLU(negative_slope=0.2)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Any) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class Tanh(Module):
    """The hyperbolic tangent."""

    def forward(self, input: Any) -> Tensor:
        return F.tanh(input)


class Sigmoid(Module):
    """The logistic sigmoid."""

    def forward(self, input: Any) -> Tensor:
        return F.sigmoid(input)
