"""``Identity``, ``Linear``, ``Flatten``."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
from lucid.nn import init
from lucid.nn._functional.linear import linear
from lucid.nn.module import Module
from lucid.nn.parameter import Parameter, _empty


class Identity(Module):
    """Returns its input (extra arguments are accepted and ignored, as in PyTorch).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Identity()(lucid.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """``y = x @ weight.T + bias``; ``weight`` ``(out, in)`` and ``bias`` from ``U(±1/sqrt(in))``.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> layer = nn.Linear(3, 2)
    >>> layer
    Linear(in_features=3, out_features=2, bias=True)
    >>> layer(lucid.ones(4, 3)).shape
    (4, 2)
    """

    weight: Parameter
    bias: Parameter | None

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty((out_features, in_features), device, dtype)
        self.register_parameter("bias", _empty((out_features,), device, dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw ``weight`` and ``bias`` from ``U(±1/sqrt(in_features))``."""
        init.fan_in_uniform_(self.weight, self.in_features)
        if self.bias is not None:
            init.fan_in_uniform_(self.bias, self.in_features)

    def forward(self, input: Any) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flattens axes ``start_dim`` to ``end_dim`` (by default all but the batch axis).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Flatten()(lucid.ones(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
