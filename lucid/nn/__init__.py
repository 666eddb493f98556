"""``lucid.nn``: modules, parameters and (in :mod:`lucid.nn.functional`) functions."""

from lucid.nn import functional, init, utils
from lucid.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from lucid.nn.container import ModuleList, Sequential
from lucid.nn.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from lucid.nn.dropout import Dropout, Dropout2d
from lucid.nn.instancenorm import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
)
from lucid.nn.linear import Flatten, Identity, Linear
from lucid.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    SmoothL1Loss,
)
from lucid.nn.module import Module
from lucid.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from lucid.nn.padding import ReflectionPad2d, ReplicationPad2d, ZeroPad2d
from lucid.nn.parameter import (
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
    UninitializedParameterWarning,
)
from lucid.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, MaxUnpool2d
from lucid.nn.upsampling import Upsample

__all__ = [
    "Module", "Parameter", "UninitializedParameter", "UninitializedBuffer",
    "UninitializedParameterWarning", "functional", "init", "utils",
    "Sequential", "ModuleList", "Identity", "Linear", "Flatten", "Conv1d", "Conv2d", "Conv3d",
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "MSELoss", "L1Loss", "CrossEntropyLoss",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
    "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Dropout", "Dropout2d",
    "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss", "BatchNorm1d", "BatchNorm2d", "GroupNorm",
    "ReflectionPad2d", "ReplicationPad2d", "ZeroPad2d", "AdaptiveAvgPool2d", "AvgPool2d",
    "MaxPool2d", "MaxUnpool2d", "Upsample",
]
