"""``lucid.nn``: modules, parameters and (in :mod:`lucid.nn.functional`) functions."""

from lucid.nn import functional
from lucid.nn.instancenorm import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
)
from lucid.nn.module import Module, Parameter

__all__ = [
    "Module", "Parameter", "functional",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
]
