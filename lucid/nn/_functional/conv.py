"""Convolution: ``jax.lax.conv_general_dilated`` plus bias, one fused kernel per setting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lucid._tensor import Tensor, apply
from lucid.nn._functional.padding import pad_array

_LAYOUTS = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"),
            3: ("NCDHW", "OIDHW", "NCDHW")}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # PyTorch's names


@functools.cache
def _conv_kernel(spatial: int, stride: tuple, padding: Any, dilation: tuple, groups: int,
                 has_bias: bool, padding_mode: str) -> Callable:
    """``(x, weight, bias) -> conv(x) + bias``; ``padding`` is pairs, ``"SAME"`` or ``"VALID"``.

    A ``padding_mode`` other than ``zeros`` pads ``x`` explicitly first (as PyTorch does).
    """
    def conv(x: jax.Array, weight: jax.Array, bias: Any) -> tuple[jax.Array, None]:
        unbatched = x.ndim == spatial + 1
        x = x[None] if unbatched else x
        pads = padding
        if padding_mode != "zeros":
            widths = {"SAME": _same_pairs(weight.shape[2:], dilation),
                      "VALID": ((0, 0),) * spatial}.get(padding, padding)
            x = pad_array(x, ((0, 0), (0, 0), *widths), padding_mode)
            pads = "VALID"
        y = jax.lax.conv_general_dilated(x, weight, stride, pads, rhs_dilation=dilation,
                                         dimension_numbers=_LAYOUTS[spatial],
                                         feature_group_count=groups)
        if has_bias:
            y = y + bias.reshape((1, -1) + (1,) * spatial)
        return (y[0] if unbatched else y), None
    return conv


def _same_pairs(kernel_size: tuple, dilation: tuple) -> tuple[tuple[int, int], ...]:
    """PyTorch's ``padding='same'``: the total ``d*(k-1)``, the extra element on the right."""
    totals = [d * (k - 1) for k, d in zip(kernel_size, dilation, strict=True)]
    return tuple((t // 2, t - t // 2) for t in totals)


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple | list) else (int(value),) * n


def conv_padding(padding: Any, spatial: int) -> Any:
    """PyTorch's ``padding`` (int, tuple, ``"same"``, ``"valid"``) as JAX's."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
        return padding.upper()
    return tuple((p, p) for p in _tuple(padding, spatial))


def convolution(input: Any, weight: Any, bias: Any, spatial: int, stride: Any = 1,
                padding: Any = 0, dilation: Any = 1, groups: int = 1,
                padding_mode: str = "zeros") -> Tensor:
    """The ``spatial``-D convolution of ``input`` ``(N, C, *spatial)`` (or unbatched)."""
    rank = len(input.shape)
    if rank not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) "
                           f"input to conv{spatial}d, but got input of size: "
                           f"{list(input.shape)}")
    kernel = _conv_kernel(spatial, _tuple(stride, spatial), conv_padding(padding, spatial),
                          _tuple(dilation, spatial), int(groups), bias is not None,
                          padding_mode)
    return apply(kernel, input, weight, bias)[0]


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution, as ``torch.nn.functional.conv1d``."""
    return convolution(input, weight, bias, 1, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv2d(lucid.ones(1, 1, 3, 3), lucid.ones(1, 1, 2, 2), padding=1).shape
    (1, 1, 4, 4)
    """
    return convolution(input, weight, bias, 2, stride, padding, dilation, groups)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution, as ``torch.nn.functional.conv3d``."""
    return convolution(input, weight, bias, 3, stride, padding, dilation, groups)


@functools.cache
def _conv_transpose_kernel(spatial: int, stride: tuple, padding: tuple, output_padding: tuple,
                           dilation: tuple, groups: int, has_bias: bool) -> Callable:
    """``(x, weight, bias) -> conv_transpose(x) + bias``, PyTorch's weight ``(in, out/g, *k)``.

    The gradient of a convolution: the input dilated by ``stride``, padded by
    ``d*(k-1) - p`` (plus ``output_padding`` on the right), convolved with the flipped kernel
    whose in/out axes are swapped within each group.
    """
    def conv_transpose(x: jax.Array, weight: jax.Array, bias: Any) -> tuple[jax.Array, None]:
        unbatched = x.ndim == spatial + 1
        x = x[None] if unbatched else x
        k = weight.shape[2:]
        w = weight.reshape(groups, weight.shape[0] // groups, *weight.shape[1:])
        w = jnp.swapaxes(w, 1, 2).reshape(-1, weight.shape[0] // groups, *k)
        w = jnp.flip(w, axis=tuple(range(2, 2 + spatial)))
        pads = tuple((d * (n - 1) - p, d * (n - 1) - p + o)
                     for n, p, o, d in zip(k, padding, output_padding, dilation, strict=True))
        y = jax.lax.conv_general_dilated(x, w, (1,) * spatial, pads, lhs_dilation=stride,
                                         rhs_dilation=dilation,
                                         dimension_numbers=_LAYOUTS[spatial],
                                         feature_group_count=groups)
        if has_bias:
            y = y + bias.reshape((1, -1) + (1,) * spatial)
        return (y[0] if unbatched else y), None
    return conv_transpose


def _output_padding_error(output_padding: tuple, stride: tuple, dilation: tuple) -> None:
    """PyTorch's error unless each ``output_padding`` is below its stride or its dilation."""
    if all(o < s or o < d for o, s, d in zip(output_padding, stride, dilation, strict=True)):
        return
    names = ("depth", "height", "width")[-max(len(stride), 2):]
    values = {"output_padding": output_padding, "stride": stride, "dilation": dilation}
    if len(stride) == 1:  # PyTorch reports a 1-D transposed convolution as 2-D
        values = {k: (0 if k == "output_padding" else 1,) + v for k, v in values.items()}
    parts = [f"{kind}_{name}: {v}" for kind, vs in values.items()
             for name, v in zip(names, vs, strict=True)]
    raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                       + " ".join(parts))


def conv_transpose(input: Any, weight: Any, bias: Any, spatial: int, stride: Any = 1,
                   padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                   dilation: Any = 1) -> Tensor:
    """The ``spatial``-D transposed convolution of ``input`` ``(N, C, *spatial)``."""
    rank = len(input.shape)
    if rank not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) "
                           f"input to conv_transpose{spatial}d, but got input of size: "
                           f"{list(input.shape)}")
    stride, dilation = _tuple(stride, spatial), _tuple(dilation, spatial)
    output_padding = _tuple(output_padding, spatial)
    _output_padding_error(output_padding, stride, dilation)
    kernel = _conv_transpose_kernel(spatial, stride, _tuple(padding, spatial), output_padding,
                                    dilation, int(groups), bias is not None)
    return apply(kernel, input, weight, bias)[0]


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``."""
    return conv_transpose(input, weight, bias, 1, stride, padding, output_padding, groups,
                          dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv_transpose2d(lucid.ones(1, 2, 4, 4), lucid.ones(2, 3, 3, 3), stride=2,
    ...                    padding=1, output_padding=1).shape
    (1, 3, 8, 8)
    """
    return conv_transpose(input, weight, bias, 2, stride, padding, output_padding, groups,
                          dilation)


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``."""
    return conv_transpose(input, weight, bias, 3, stride, padding, output_padding, groups,
                          dilation)
