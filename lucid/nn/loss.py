"""``MSELoss``, ``L1Loss``, ``CrossEntropyLoss``: modules over :mod:`lucid.nn.functional`."""

from __future__ import annotations

from typing import Any

from lucid.nn._functional import loss as F
from lucid.nn.module import Module


class MSELoss(Module):
    """Squared error, averaged (``reduction="mean"``), summed or per element.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.MSELoss()(lucid.tensor([1.0, 3.0]), lucid.zeros(2)).item()
    5.0
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Any:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(MSELoss):
    """Absolute error, averaged (``reduction="mean"``), summed or per element."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.l1_loss(input, target, self.reduction)


class CrossEntropyLoss(Module):
    """Cross entropy of logits against class indices or probabilities (see ``F.cross_entropy``).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> round(nn.CrossEntropyLoss()(lucid.zeros(2, 4), lucid.tensor([0, 3])).item(), 4)
    1.3863
    """

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)
