"""``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``: one base owns the state and the checks."""

from __future__ import annotations

import math
from typing import Any

from lucid._tensor import Tensor
from lucid.nn import init
from lucid.nn._functional.conv import (
    PADDING_MODES,
    _tuple,
    conv_padding,
    conv_transpose,
    convolution,
)
from lucid.nn.module import Module
from lucid.nn.parameter import Parameter, _empty


class _ConvNd(Module):
    """Convolution over ``spatial_dims`` axes, PyTorch's arguments, state and repr."""

    spatial_dims: int
    padding: str | tuple[int, ...]
    weight: Parameter
    bias: Parameter | None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        n = self.spatial_dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        conv_padding(padding, n)  # a bad padding string raises here, at construction
        if padding == "same" and any(s != 1 for s in _tuple(stride, n)):
            raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _tuple(kernel_size, n), _tuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, n)
        self.dilation, self.padding_mode = _tuple(dilation, n), padding_mode
        self.weight = _empty(self._weight_shape(), device, dtype)
        self.register_parameter("bias", _empty((out_channels,), device, dtype) if bias else None)
        self.reset_parameters()

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    def reset_parameters(self) -> None:
        """Redraw ``weight`` and ``bias`` from ``U(±1/sqrt(fan_in))``, PyTorch's default
        (``fan_in`` from the weight's axis 1, as PyTorch computes it)."""
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        init.fan_in_uniform_(self.weight, fan_in)
        if self.bias is not None:
            init.fan_in_uniform_(self.bias, fan_in)

    def forward(self, input: Any) -> Tensor:
        return convolution(input, self.weight, self.bias, self.spatial_dims, self.stride,
                           self.padding, self.dilation, self.groups, self.padding_mode)

    def extra_repr(self) -> str:
        n = self.spatial_dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        output_padding = getattr(self, "output_padding", (0,) * n)
        if output_padding != (0,) * n:
            s += f", output_padding={output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution of ``(N, C, L)`` (or ``(C, L)``), as ``torch.nn.Conv1d``.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Conv1d(2, 4, 3, padding=1, padding_mode="reflect")(lucid.ones(1, 2, 8)).shape
    (1, 4, 8)
    """

    spatial_dims = 1


class Conv2d(_ConvNd):
    """2-D convolution of ``(N, C, H, W)`` (or ``(C, H, W)``), as ``torch.nn.Conv2d``.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> conv = nn.Conv2d(3, 8, 3, padding=1)
    >>> conv
    Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv(lucid.ones(2, 3, 16, 16)).shape
    (2, 8, 16, 16)
    """

    spatial_dims = 2


class Conv3d(_ConvNd):
    """3-D convolution of ``(N, C, D, H, W)`` (or unbatched), as ``torch.nn.Conv3d``."""

    spatial_dims = 3


class _ConvTransposeNd(_ConvNd):
    """Transposed convolution: weight ``(in, out // groups, *kernel)``, ``output_padding``."""

    padding: tuple[int, ...]  # a string is refused

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        if isinstance(padding, str):  # PyTorch accepts it here and fails in forward
            raise TypeError(f"{type(self).__name__}(): argument 'padding' must be an int or a "
                            f"tuple of ints, but got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.output_padding = _tuple(output_padding, self.spatial_dims)

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)

    def forward(self, input: Any, output_size: Any = None) -> Tensor:
        """The transposed convolution; ``output_size`` (spatial, or with ``N, C``) picks the
        ``output_padding`` that gives it, as PyTorch."""
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(tuple(input.shape), output_size)
        return conv_transpose(input, self.weight, self.bias, self.spatial_dims, self.stride,
                              self.padding, output_padding, self.groups, self.dilation)

    def _output_padding_for(self, shape: tuple[int, ...], output_size: Any) -> tuple[int, ...]:
        n = self.spatial_dims
        sizes = [int(s) for s in output_size]
        extra = len(shape) - n
        if len(sizes) == n + extra:
            sizes = sizes[extra:]
        if len(sizes) != n:
            raise ValueError(f"ConvTranspose{n}D: for {len(shape)}D input, output_size must "
                             f"have {n} or {n + extra} elements (got {len(output_size)})")
        smallest = [(size - 1) * s - 2 * p + d * (k - 1) + 1 for size, s, p, d, k in zip(
            shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size,
            strict=True)]
        largest = [m + s - 1 for m, s in zip(smallest, self.stride, strict=True)]
        if any(not lo <= size <= hi for size, lo, hi in zip(sizes, smallest, largest,
                                                            strict=True)):
            raise ValueError(f"requested an output size of {tuple(sizes)}, but valid sizes "
                             f"range from {smallest} to {largest} (for an input of "
                             f"torch.Size({list(shape[-n:])}))")
        return tuple(size - lo for size, lo in zip(sizes, smallest, strict=True))


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution of ``(N, C, L)`` (or ``(C, L)``), as PyTorch's."""

    spatial_dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``.

    The output size is ``(H - 1) * stride - 2 * padding + dilation * (kernel - 1) +
    output_padding + 1``; each ``output_padding`` must be below its stride or its dilation.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    >>> up
    ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    >>> up(lucid.ones(1, 4, 5, 5)).shape
    (1, 2, 10, 10)
    """

    spatial_dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution of ``(N, C, D, H, W)`` (or unbatched), as PyTorch's."""

    spatial_dims = 3
