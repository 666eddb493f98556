"""``BatchNorm1d``/``BatchNorm2d`` and ``GroupNorm``: PyTorch's state, checks and numbers.

The statistics are the core's (see :mod:`lucid.nn._functional.norm`); these modules hold the
parameters and running statistics and decide which ones a call uses.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lucid._grad_mode import no_grad
from lucid._tensor import Tensor, check_dtype, resolve_device
from lucid.nn._functional.norm import batch_norm_update, group_norm
from lucid.nn.module import Module
from lucid.nn.parameter import Parameter


class RunningStats:
    """``reset_running_stats`` for the layers that hold ``running_mean``, ``running_var`` and
    ``num_batches_tracked`` when ``track_running_stats`` (PyTorch's ``_NormBase``)."""

    track_running_stats: bool
    running_mean: Tensor | None  # each None exactly when track_running_stats is False
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def reset_running_stats(self) -> None:
        """Running statistics back to ``mean 0, var 1`` and ``num_batches_tracked`` to 0."""
        mean, var, count = self.running_mean, self.running_var, self.num_batches_tracked
        if self.track_running_stats and mean is not None and var is not None and count is not None:
            with no_grad():
                mean.zero_()
                var.fill_(1.0)
                count.zero_()


class _Affine(Module):
    """Per-channel parameters at ``weight = 1, bias = 0`` (``None`` when switched off)."""

    weight: Parameter | None
    bias: Parameter | None

    def _per_channel(self, count: int, value: float, device: Any, dtype: Any) -> Tensor:
        return Tensor(np.full((count,), value, check_dtype(dtype) or jnp.float32),
                      device=resolve_device(device))

    def _create_affine(self, count: int, affine: bool, bias: bool, device: Any,
                       dtype: Any) -> None:
        self.register_parameter("weight", Parameter(self._per_channel(count, 1.0, device, dtype))
                                if affine else None)
        self.register_parameter("bias", Parameter(self._per_channel(count, 0.0, device, dtype))
                                if affine and bias else None)

    def reset_parameters(self) -> None:
        """``weight`` back to 1 and ``bias`` to 0."""
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if self.bias is not None:
                self.bias.zero_()


class _BatchNorm(RunningStats, _Affine):
    """Batch normalisation over every axis but the channels (axis 1)."""

    ranks: tuple[int, ...]  # the input ranks each concrete class accepts

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self._create_affine(num_features, affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", self._per_channel(num_features, 0.0, device,
                                                                   dtype))
            self.register_buffer("running_var", self._per_channel(num_features, 1.0, device,
                                                                  dtype))
            self.register_buffer("num_batches_tracked",
                                 Tensor(0, dtype=jnp.int32, device=resolve_device(device)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _absent_ok(self, version: int | None) -> tuple[str, ...]:
        """``num_batches_tracked`` may be absent from an old-format (or plain) checkpoint."""
        if self.track_running_stats and (version is None or version < 2):
            return ("num_batches_tracked",)
        return ()

    def forward(self, input: Any) -> Tensor:
        if len(input.shape) not in self.ranks:
            expected = " or ".join(f"{r}D" for r in self.ranks)
            raise ValueError(f"expected {expected} input (got {len(input.shape)}D input)")
        count = self.num_batches_tracked  # present whenever track_running_stats
        update = self.training and self.track_running_stats and count is not None
        factor: float | jax.Array | None = self.momentum
        if update and count is not None and self.momentum is None:
            factor = 1.0 / (count._data + 1)  # the cumulative average, on the device: no sync
        output = batch_norm_update(input, self.running_mean, self.running_var, self.weight,
                                   self.bias, self.training or not self.track_running_stats,
                                   self.eps, factor if update else None)
        if update and count is not None:
            count._data = count._data + 1
        return output

    def reset_parameters(self) -> None:
        """Running statistics reset, ``weight`` to 1 and ``bias`` to 0."""
        self.reset_running_stats()
        super().reset_parameters()

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)``, as ``torch.nn.BatchNorm1d``.

    In training each channel is normalised with the batch's mean and biased variance, and
    ``running_mean``/``running_var`` move towards them by ``momentum`` (the variance
    unbiased; ``momentum=None`` keeps the cumulative average); in ``eval()`` the running
    statistics normalise.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> norm = nn.BatchNorm1d(3)
    >>> norm(lucid.randn(8, 3) + 4).shape, int(norm.num_batches_tracked.item())
    ((8, 3), 1)
    """

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)``, as ``torch.nn.BatchNorm2d`` (see BatchNorm1d).

    >>> import lucid.nn as nn
    >>> nn.BatchNorm2d(3)
    BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    ranks = (4,)


class GroupNorm(_Affine):
    """Normalises each group of ``num_channels // num_groups`` channels of every sample.

    As ``torch.nn.GroupNorm``: statistics over the group's channels and all spatial axes,
    then a per-channel ``weight`` and ``bias`` when ``affine``.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.GroupNorm(2, 4)
    GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)
    >>> nn.GroupNorm(2, 4)(lucid.randn(3, 4, 5, 5)).shape
    (3, 4, 5, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        self._create_affine(num_channels, affine, bias, device, dtype)

    def forward(self, input: Any) -> Tensor:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")
