"""``lucid.nn``: modules, parameters and (in :mod:`lucid.nn.functional`) functions."""

from lucid.nn import functional, init, utils
from lucid.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from lucid.nn.container import ModuleList, Sequential
from lucid.nn.conv import Conv1d, Conv2d, Conv3d
from lucid.nn.instancenorm import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
)
from lucid.nn.linear import Flatten, Identity, Linear
from lucid.nn.loss import CrossEntropyLoss, L1Loss, MSELoss
from lucid.nn.module import (
    Module,
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
    UninitializedParameterWarning,
)

__all__ = [
    "Module", "Parameter", "UninitializedParameter", "UninitializedBuffer",
    "UninitializedParameterWarning", "functional", "init", "utils",
    "Sequential", "ModuleList", "Identity", "Linear", "Flatten", "Conv1d", "Conv2d", "Conv3d",
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "MSELoss", "L1Loss", "CrossEntropyLoss",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
]
