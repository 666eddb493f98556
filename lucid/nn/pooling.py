"""``MaxPool2d``, ``MaxUnpool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``: modules over the pooling
functions."""

from __future__ import annotations

from typing import Any

from lucid._tensor import Tensor
from lucid.nn._functional import pooling as F
from lucid.nn._functional.conv import _tuple
from lucid.nn.module import Module


class MaxPool2d(Module):
    """The largest value of each window, as ``torch.nn.MaxPool2d``; with ``return_indices``,
    ``(values, indices)`` as :func:`lucid.nn.functional.max_pool2d` gives them.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.MaxPool2d(2)
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> values, indices = nn.MaxPool2d(2, return_indices=True)(lucid.ones(1, 4, 4))
    >>> indices.tolist()
    [[[0, 2], [8, 10]]]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Any) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(Module):
    """A partial inverse of :class:`MaxPool2d`, as ``torch.nn.MaxUnpool2d``: values placed at
    their indices in zeros (see :func:`lucid.nn.functional.max_unpool2d`).

    >>> import lucid
    >>> import lucid.nn as nn
    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> unpool
    MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))
    >>> x = lucid.arange(20.0).reshape(1, 1, 4, 5)
    >>> unpool(*pool(x), output_size=x.shape)[0, 0, 1].tolist()
    [0.0, 6.0, 0.0, 8.0, 0.0]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = _tuple(kernel_size, 2)
        self.stride = _tuple(kernel_size if stride is None else stride, 2)
        self.padding = _tuple(padding, 2)

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window, as ``torch.nn.AvgPool2d``.

    >>> import lucid.nn as nn
    >>> nn.AvgPool2d(2)
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Any) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Averages over windows that tile the input into ``output_size``.

    >>> import lucid.nn as nn
    >>> nn.AdaptiveAvgPool2d((3, None))
    AdaptiveAvgPool2d(output_size=(3, None))
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
