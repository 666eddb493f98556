"""``Dropout`` and ``Dropout2d``: identity in ``eval()``, seeded by ``lucid.manual_seed``."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
from lucid.nn._functional import dropout as F
from lucid.nn.module import Module


class Dropout(Module):
    """Zeroes elements with probability ``p`` in training, scaling the rest by ``1/(1-p)``.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> layer = nn.Dropout(0.2)
    >>> layer
    Dropout(p=0.2, inplace=False)
    >>> layer.eval()(lucid.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        F._check_p(p)
        self.p, self.inplace = p, inplace

    def forward(self, input: Any) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zeroes whole channels of ``(N, C, H, W)`` with probability ``p`` in training."""

    def forward(self, input: Any) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)
