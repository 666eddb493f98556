"""Loss modules over :mod:`lucid.nn.functional`: MSE, L1, smooth L1, cross entropy, BCE."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
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

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(MSELoss):
    """Absolute error, averaged (``reduction="mean"``), summed or per element."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class CrossEntropyLoss(Module):
    """Cross entropy of logits against class indices or probabilities (see ``F.cross_entropy``).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> round(nn.CrossEntropyLoss()(lucid.zeros(2, 4), lucid.tensor([0, 3])).item(), 4)
    1.3863
    """

    weight: Tensor | None

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class BCEWithLogitsLoss(Module):
    """Binary cross entropy of logits (see ``F.binary_cross_entropy_with_logits``).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> round(nn.BCEWithLogitsLoss()(lucid.zeros(2), lucid.ones(2)).item(), 4)
    0.6931
    """

    weight: Tensor | None
    pos_weight: Tensor | None

    def __init__(self, weight: Any = None, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class BCELoss(Module):
    """Binary cross entropy of probabilities (see ``F.binary_cross_entropy``)."""

    weight: Tensor | None

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class SmoothL1Loss(Module):
    """Squared error below ``beta``, absolute error above (see ``F.smooth_l1_loss``)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__()
        self.reduction, self.beta = reduction, beta

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)
