"""``ReflectionPad2d``, ``ReplicationPad2d``, ``ZeroPad2d``: modules over ``F.pad``."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
from lucid.nn._functional.padding import pad
from lucid.nn.module import Module


class _Pad2d(Module):
    """Pads the last two axes by ``padding``: an int, or ``(left, right, top, bottom)``."""

    mode = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = tuple(padding) if isinstance(padding, tuple | list) else (padding,) * 4

    def forward(self, input: Any) -> Tensor:
        return pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return str(self.padding)


class ReflectionPad2d(_Pad2d):
    """Pads by reflecting about the edge (each side smaller than the axis), as PyTorch.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.ReflectionPad2d((1, 0, 0, 0))(lucid.tensor([[[[1.0, 2.0]]]])).tolist()
    [[[[2.0, 1.0, 2.0]]]]
    """

    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pads by repeating the edge values, as PyTorch.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.ReplicationPad2d((2, 0, 0, 0))(lucid.tensor([[[[1.0, 2.0]]]])).tolist()
    [[[[1.0, 1.0, 1.0, 2.0]]]]
    """

    mode = "replicate"


class ZeroPad2d(_Pad2d):
    """Pads with zeros, as PyTorch; a negative side crops.

    >>> import lucid.nn as nn
    >>> nn.ZeroPad2d((1, 2, 3, 4))
    ZeroPad2d((1, 2, 3, 4))
    """
