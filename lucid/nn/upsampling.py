"""``Upsample``: a module over ``F.interpolate``."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
from lucid.nn._functional.upsampling import interpolate
from lucid.nn.module import Module


class Upsample(Module):
    """Resamples to ``size`` or by ``scale_factor`` (``"nearest"``, ``"bilinear"``, ...).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> up = nn.Upsample(scale_factor=2, mode="bilinear")
    >>> up
    Upsample(scale_factor=2.0, mode='bilinear')
    >>> up(lucid.ones(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = (tuple(float(f) for f in scale_factor)
                             if isinstance(scale_factor, tuple | list)
                             else None if scale_factor is None else float(scale_factor))
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        where = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                 else f"size={self.size!r}")
        return f"{where}, mode={self.mode!r}"
