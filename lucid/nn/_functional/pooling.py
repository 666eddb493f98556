"""Pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``; one cached kernel each.

Windows go through ``jax.lax.reduce_window``; adaptive pooling is one averaging matrix per
axis (PyTorch's ``floor(i*in/out)`` to ``ceil((i+1)*in/out)`` windows).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lucid._tensor import Tensor, apply
from lucid.nn._functional.conv import _tuple


def _pool_rank(name: str, input: Any) -> None:
    """PyTorch's error for a 2-D pool's input that is not ``(C, H, W)`` or ``(N, C, H, W)``."""
    ndim = len(input.shape)
    if name == "avg" and ndim < 3:  # PyTorch's avg_pool2d wraps dim -3 before the rank check
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got -3)")
    if ndim != 4 and ndim != 3:
        message = {"max": "non-empty 3D or 4D (batch mode) tensor expected for input",
                   "avg": "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                          f"for input, but got:{list(input.shape)}"}[name]
        raise RuntimeError(message)


def _output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                 ceil_mode: bool) -> int:
    """PyTorch's pooling output length (in ceil mode the last window starts inside)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _windows(input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
             ceil_mode: bool) -> tuple:
    """``(kernel, stride, pads, dilation)`` per spatial axis, checked as PyTorch does."""
    kernel = _tuple(kernel_size, 2)
    stride = kernel if stride is None or stride == [] else _tuple(stride, 2)
    pad, dilation = _tuple(padding, 2), _tuple(dilation, 2)
    for k, p, d in zip(kernel, pad, dilation, strict=True):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    sizes = input.shape[-2:]
    out = tuple(_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sizes, kernel, stride, pad, dilation, strict=True))
    # the right padding that makes reduce_window produce exactly ``out`` windows
    pads = tuple((p, max((o - 1) * s + d * (k - 1) + 1 - n - p, p))
                 for n, k, s, p, d, o in zip(sizes, kernel, stride, pad, dilation, out,
                                             strict=True))
    return kernel, stride, pads, dilation


@functools.cache
def _max_pool_kernel(kernel: tuple, stride: tuple, pads: tuple, dilation: tuple) -> Callable:
    """One ``reduce_window``; with dilation (whose VJP JAX lacks) the max of strided slices."""
    def pool(x: jax.Array) -> tuple[jax.Array, None]:
        lead = x.ndim - 2
        if dilation != (1, 1):
            padded = jnp.pad(x, ((0, 0),) * lead + pads, constant_values=-jnp.inf)
            spans = [(padded.shape[lead + a] - dilation[a] * (kernel[a] - 1) - 1)
                     // stride[a] * stride[a] + 1 for a in (0, 1)]
            return jnp.max(jnp.stack([
                padded[..., i * dilation[0]:i * dilation[0] + spans[0]:stride[0],
                       j * dilation[1]:j * dilation[1] + spans[1]:stride[1]]
                for i in range(kernel[0]) for j in range(kernel[1])]), axis=0), None
        return jax.lax.reduce_window(
            x, -jnp.inf, jax.lax.max, (1,) * lead + kernel,
            (1,) * lead + stride, ((0, 0),) * lead + pads,
            window_dilation=(1,) * lead + dilation), None
    return pool


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """The largest value of each window over ``(N, C, H, W)`` or ``(C, H, W)``, as PyTorch.

    Padding counts as ``-inf``; ``stride`` defaults to ``kernel_size``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.max_pool2d(lucid.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    if return_indices:
        raise NotImplementedError("max_pool2d(return_indices=True) is not supported by lucid; "
                                  "use return_indices=False")
    _pool_rank("max", input)
    kernel = _max_pool_kernel(*_windows(input, kernel_size, stride, padding, dilation,
                                        ceil_mode))
    return apply(kernel, input)[0]


@functools.cache
def _avg_pool_kernel(kernel: tuple, stride: tuple, pads: tuple, padding: tuple,
                     count_include_pad: bool, divisor_override: int | None) -> Callable:
    def pool(x: jax.Array) -> tuple[jax.Array, None]:
        lead = x.ndim - 2
        window = functools.partial(jax.lax.reduce_window, computation=jax.lax.add,
                                   window_dimensions=(1,) * lead + kernel,
                                   window_strides=(1,) * lead + stride,
                                   padding=((0, 0),) * lead + pads)
        total = window(x, 0.0)
        if divisor_override is not None:
            return total / divisor_override, None
        # PyTorch divides by the window's part inside the (padded, if counted) input
        inside = jnp.ones(x.shape[-2:], x.dtype)
        if count_include_pad:
            inside = jnp.pad(inside, padding, constant_values=1)
            extra = tuple((p - q, r - q) for (p, r), (q, _) in zip(pads, padding, strict=True))
        else:
            extra = pads
        count = jax.lax.reduce_window(inside, 0.0, jax.lax.add, kernel,
                                      stride, extra)
        return total / count, None
    return pool


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each window over ``(N, C, H, W)`` or ``(C, H, W)``, as PyTorch.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.avg_pool2d(lucid.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    _pool_rank("avg", input)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel, stride, pads, _ = _windows(input, kernel_size, stride, padding, 1, ceil_mode)
    padding = tuple((p, p) for p in _tuple(padding, 2))
    return apply(_avg_pool_kernel(kernel, stride, pads, padding, bool(count_include_pad),
                                  divisor_override), input)[0]


def _adaptive_matrix(size: int, out: int) -> np.ndarray:
    """``(out, size)``: row ``i`` averages PyTorch's adaptive window ``i``."""
    matrix = np.zeros((out, size), np.float32)
    for i in range(out):
        start, end = (i * size) // out, math.ceil((i + 1) * size / out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@functools.cache
def _adaptive_avg_kernel(sizes: tuple, out: tuple) -> Callable:
    rows, cols = (_adaptive_matrix(n, o) for n, o in zip(sizes, out, strict=True))

    def pool(x: jax.Array) -> tuple[jax.Array, None]:
        y = jnp.einsum("...hw,oh->...ow", x, rows.astype(x.dtype),
                       precision=jax.lax.Precision.HIGHEST)
        return jnp.einsum("...ow,pw->...op", y, cols.astype(x.dtype),
                          precision=jax.lax.Precision.HIGHEST), None
    return pool


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Averages over windows that tile ``(H, W)`` into ``output_size`` (``None`` keeps a size).

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_avg_pool2d(lucid.ones(2, 3, 5, 7), (2, None)).shape
    (2, 3, 2, 7)
    """
    if len(input.shape) not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{list(input.shape)}")
    sizes = tuple(input.shape[-2:])
    wanted = output_size if isinstance(output_size, tuple | list) else (output_size,) * 2
    out = tuple(n if o is None else int(o) for n, o in zip(sizes, wanted, strict=True))
    return apply(_adaptive_avg_kernel(sizes, out), input)[0]
