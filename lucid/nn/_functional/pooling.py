"""Pooling: ``max_pool2d``, ``max_unpool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``; one
cached kernel each.

``max_pool2d`` gathers all windows at once, picks the element PyTorch's scan picks and
gathers the winners, so its gradient reaches exactly the chosen element; ``max_unpool2d``
scatters into zeros and its gradient gathers. Average windows go through
``jax.lax.reduce_window``; adaptive pooling is one averaging matrix per axis (PyTorch's
``floor(i*in/out)`` to ``ceil((i+1)*in/out)`` windows).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Literal, overload

import jax
import jax.numpy as jnp
import numpy as np

from lucid._tensor import Tensor, _torch_name, apply
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
    if min(out) < 1:
        channels = "x".join(str(n) for n in input.shape[-3:-2])
        raise RuntimeError(f"Given input size: ({channels}x{sizes[0]}x{sizes[1]}). Calculated "
                           f"output size: ({channels}x{out[0]}x{out[1]}). Output size is too "
                           "small")
    # the right padding that makes reduce_window produce exactly ``out`` windows
    pads = tuple((p, max((o - 1) * s + d * (k - 1) + 1 - n - p, p))
                 for n, k, s, p, d, o in zip(sizes, kernel, stride, pad, dilation, out,
                                             strict=True))
    return kernel, stride, pads, dilation


@functools.cache
def _max_pool_kernel(kernel: tuple, stride: tuple, pads: tuple,
                     dilation: tuple) -> Callable:
    """``(values, flat indices into each plane's H*W)`` as PyTorch's CPU loop finds them.

    The windows are one gather of shape ``(..., out_h, out_w, kernel_h * kernel_w)`` (so a
    large window compiles as fast as a small one); padding is masked out, never filled. In scan
    order the first maximum wins, a NaN beats any number and the last NaN wins; a window of
    ``-inf`` picks its first element inside the input. The values are a gather at the indices,
    whose gradient is a scatter-add onto exactly the chosen elements.
    """
    def pool(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        lead, (height, width) = x.shape[:-2], x.shape[-2:]
        out = [(n + lo + hi - d * (k - 1) - 1) // st + 1 for n, (lo, hi), d, k, st
               in zip((height, width), pads, dilation, kernel, stride, strict=True)]
        # rows[i, o], cols[j, o]: the input row/column of window o's i-th/j-th element
        rows, cols = (np.arange(kernel[a])[:, None] * dilation[a]
                      + np.arange(out[a])[None, :] * stride[a] - pads[a][0] for a in (0, 1))
        # per window (r, c) and element e = i * kernel_w + j: the flat index, and whether it
        # lies inside the input
        row = rows.T[:, None, :, None]
        col = cols.T[None, :, None, :]
        shape = (out[0], out[1], kernel[0] * kernel[1])
        inside = ((row >= 0) & (row < height) & (col >= 0) & (col < width)).reshape(shape)
        flat_index = (np.clip(row, 0, height - 1) * width + np.clip(col, 0, width - 1)
                      ).reshape(shape)
        flat = x.reshape(lead + (height * width,))
        windows = jnp.take(flat, jnp.asarray(flat_index.reshape(-1)), axis=-1
                           ).reshape(lead + shape)
        valid = jnp.asarray(inside)
        lowest = (-jnp.inf if jnp.issubdtype(x.dtype, jnp.inexact)
                  else jnp.iinfo(x.dtype).min)
        masked = jnp.where(valid, windows, jnp.asarray(lowest, x.dtype))
        is_max = valid & (masked == masked.max(axis=-1, keepdims=True))
        choice = jnp.argmax(is_max, axis=-1)
        if jnp.issubdtype(x.dtype, jnp.inexact):
            nan = valid & jnp.isnan(windows)
            last_nan = shape[-1] - 1 - jnp.argmax(nan[..., ::-1], axis=-1)
            choice = jnp.where(nan.any(axis=-1), last_nan, choice)
        index_dtype = jnp.argmax(jnp.zeros(1)).dtype  # lucid's integer outputs: JAX's default
        table = jnp.asarray(flat_index, index_dtype)
        where = jax.lax.stop_gradient(
            table[np.arange(out[0])[:, None], np.arange(out[1])[None, :], choice])
        values = jnp.take_along_axis(flat, where.reshape(lead + (out[0] * out[1],)), axis=-1)
        return values.reshape(where.shape), where
    return pool


@overload
def max_pool2d(input: Any, kernel_size: Any, stride: Any = ..., padding: Any = ...,
               dilation: Any = ..., ceil_mode: bool = ...,
               return_indices: Literal[False] = ...) -> Tensor: ...
@overload
def max_pool2d(input: Any, kernel_size: Any, stride: Any = ..., padding: Any = ...,
               dilation: Any = ..., ceil_mode: bool = ..., *,
               return_indices: Literal[True]) -> tuple[Tensor, Tensor]: ...
@overload
def max_pool2d(input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
               ceil_mode: bool, return_indices: Literal[True]) -> tuple[Tensor, Tensor]: ...
@overload
def max_pool2d(input: Any, kernel_size: Any, stride: Any = ..., padding: Any = ...,
               dilation: Any = ..., ceil_mode: bool = ...,
               return_indices: bool = ...) -> Tensor | tuple[Tensor, Tensor]: ...
def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The largest value of each window over ``(N, C, H, W)`` or ``(C, H, W)``, as PyTorch.

    Padding counts as ``-inf``; ``stride`` defaults to ``kernel_size``. Ties keep the first
    element in row-major order, a NaN wins, and the gradient reaches exactly the chosen
    element. With ``return_indices``, also each maximum's flat index into its ``(H, W)`` input
    plane (int64 under JAX's 64-bit mode, else int32, as ``argmax``).

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.max_pool2d(lucid.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    >>> values, indices = F.max_pool2d(lucid.arange(16.0).reshape(1, 1, 4, 4), 2,
    ...                                return_indices=True)
    >>> indices.tolist()
    [[[[5, 7], [13, 15]]]]
    """
    _pool_rank("max", input)
    kernel = _max_pool_kernel(*_windows(input, kernel_size, stride, padding, dilation,
                                        ceil_mode))
    values, indices = apply(kernel, input)
    return (values, Tensor._wrap(indices)) if return_indices else values


def _unpool_size(input: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                 padding: tuple[int, ...], output_size: Any) -> tuple[int, ...]:
    """PyTorch's ``_unpool_output_size``: the pooled input's size, or ``output_size`` checked."""
    default = [(n - 1) * s + k - 2 * p
               for n, k, s, p in zip(input.shape[-2:], kernel, stride, padding, strict=True)]
    if output_size is None:
        size = default
    else:
        if len(output_size) == 4:
            output_size = output_size[2:]
        if len(output_size) != 2:
            raise ValueError(f"output_size should be a sequence containing 2 or 4 elements, "
                             f"but it has a length of '{len(output_size)}'")
        for d in (0, 1):
            low, high = default[d] - stride[d], default[d] + stride[d]
            if not low < output_size[d] < high:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be '
                                 f"between {low} and {high})")
        size = [int(n) for n in output_size]
    for d in (0, 1):
        if size[d] < 0:
            raise ValueError(f"max_unpooling: output_size must contain non-negative spatial "
                             f"dimensions, but got output_size[{d}]={size[d]}")
    return tuple(size)


@functools.cache
def _max_unpool_kernel(size: tuple[int, ...]) -> Callable:
    """Scatter each plane's values to their flat indices in zeros of ``size``; the gradient is
    the gather at the indices (for every input, repeated indices included, as PyTorch)."""
    @jax.custom_vjp
    def scatter(x: jax.Array, indices: jax.Array) -> jax.Array:
        flat = jnp.zeros(x.shape[:-1] + (size[0] * size[1],), x.dtype)
        return jnp.put_along_axis(flat, indices, x, axis=-1, inplace=False)

    def forward(x: jax.Array, indices: jax.Array) -> tuple[jax.Array, jax.Array]:
        return scatter(x, indices), indices

    def backward(indices: jax.Array, grad: jax.Array) -> tuple[jax.Array, None]:
        return jnp.take_along_axis(grad, indices, axis=-1), None

    scatter.defvjp(forward, backward)

    def unpool(x: jax.Array, indices: jax.Array) -> tuple[jax.Array, None]:
        lead = x.shape[:-2]
        out = scatter(x.reshape(lead + (-1,)), indices.reshape(lead + (-1,)))
        return out.reshape(lead + size), None
    return unpool


def max_unpool2d(input: Any, indices: Any, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """A partial inverse of ``max_pool2d``: ``input`` placed at ``indices`` in zeros, as PyTorch.

    The output's ``(H, W)`` is ``(in - 1) * stride - 2 * padding + kernel_size`` per axis, or
    ``output_size`` (``(H, W)`` or a full shape) within one ``stride`` of it. ``indices`` are
    flat into each output plane, as ``max_pool2d(..., return_indices=True)`` gives them.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.arange(16.0).reshape(1, 1, 4, 4)
    >>> values, indices = F.max_pool2d(x, 2, return_indices=True)
    >>> F.max_unpool2d(values, indices, 2)[0, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0], [0.0, 13.0, 0.0, 15.0]]
    """
    kernel = _tuple(kernel_size, 2)
    stride = kernel if stride is None else _tuple(stride, 2)
    size = _unpool_size(input, kernel, stride, _tuple(padding, 2), output_size)
    if len(input.shape) not in (3, 4):
        raise RuntimeError(f"Input to max_unpooling2d should be a 3d or 4d Tensor, but got a "
                           f"tensor with {len(input.shape)} dimensions.")
    index_array = jnp.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if index_array.dtype not in (jnp.int32, jnp.int64):
        raise RuntimeError(f"elements in indices should be type int64 but got: "
                           f"{_torch_name(index_array.dtype)}")
    if index_array.shape != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(index_array.shape)}")
    outside = ((index_array < 0) | (index_array >= size[0] * size[1])).ravel()
    if outside.size and bool(jnp.any(outside)):
        first = int(index_array.ravel()[jnp.argmax(outside)])
        raise RuntimeError(f"Found an invalid max index: {first} "
                           f"(output volumes are of size {size[0]}x{size[1]})")
    return apply(_max_unpool_kernel(size), input, index_array)[0]


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
