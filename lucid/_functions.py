"""The ``lucid.*`` functions that mirror Tensor methods (``lucid.tanh(x)`` is ``x.tanh()``),
plus ``cat``, ``stack``, ``where`` and ``allclose``. Each goes through the same cached kernel as
the method."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._autograd import _as_array
from lucid._ops.elementwise import _WHERE
from lucid._ops.shape import _axis, _joiner
from lucid._tensor import Tensor, _torch_name, apply


def _tensor(value: Any) -> Tensor:
    """``value`` itself if it is a Tensor, else a new (copied) Tensor of it."""
    return value if isinstance(value, Tensor) else Tensor(value)


def tanh(input: Any) -> Tensor:
    """The hyperbolic tangent, elementwise.

    >>> import lucid
    >>> lucid.tanh(lucid.zeros(2)).tolist(), lucid.exp(lucid.zeros(1)).tolist()
    ([0.0, 0.0], [1.0])
    """
    return _tensor(input).tanh()


def relu(input: Any) -> Tensor:
    """``max(input, 0)``, elementwise."""
    return _tensor(input).relu()


def sigmoid(input: Any) -> Tensor:
    """``1 / (1 + exp(-input))``, elementwise."""
    return _tensor(input).sigmoid()


def exp(input: Any) -> Tensor:
    return _tensor(input).exp()


def log(input: Any) -> Tensor:
    return _tensor(input).log()


def abs(input: Any) -> Tensor:  # noqa: A001  (PyTorch's name)
    return _tensor(input).abs()


def mean(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The mean over ``dim`` (all axes by default).

    >>> import lucid
    >>> lucid.mean(lucid.tensor([[1.0, 3.0]]), dim=1).tolist(), lucid.sum(lucid.ones(2)).item()
    ([2.0], 2.0)
    """
    return _tensor(input).mean(dim=dim, keepdim=keepdim)


def sum(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _tensor(input).sum(dim=dim, keepdim=keepdim)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Values limited to ``[min, max]``.

    >>> import lucid
    >>> lucid.clamp(lucid.tensor([-2.0, 0.5, 2.0]), -1, 1).tolist()
    [-1.0, 0.5, 1.0]
    """
    return _tensor(input).clamp(min, max)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _tensor(input).flatten(start_dim, end_dim)


def maximum(input: Any, other: Any) -> Tensor:
    """The larger of the two, elementwise (the gradient goes to the larger; a tie splits it
    evenly, as in PyTorch)."""
    return _tensor(input).maximum(other)


def minimum(input: Any, other: Any) -> Tensor:
    return _tensor(input).minimum(other)


def matmul(input: Any, other: Any) -> Tensor:
    return _tensor(input).matmul(other)


def cat(tensors: Any, dim: int = 0) -> Tensor:
    """The tensors joined along the existing axis ``dim`` (one kernel, on the tape).

    >>> import lucid
    >>> a, b = lucid.ones(2, 3), lucid.zeros(1, 3)
    >>> lucid.cat([a, b]).shape, lucid.stack([a, a], dim=1).shape
    ((3, 3), (2, 2, 3))
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("lucid.cat(): expected a non-empty list of Tensors")
    ndim = max(np.ndim(_as_array(t)) for t in tensors)
    return apply(_joiner("cat", _axis(dim, ndim)), *tensors)[0]


def stack(tensors: Any, dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new axis ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")  # PyTorch's type
    ndim = np.ndim(_as_array(tensors[0]))
    return apply(_joiner("stack", _axis(dim, ndim + 1)), *tensors)[0]


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` is true, else ``other`` (broadcast together).

    >>> import lucid
    >>> x = lucid.tensor([-1.0, 2.0])
    >>> lucid.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    return apply(_WHERE, condition, input, other)[0]


def allclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """Whether ``|input - other| <= atol + rtol * |other|`` everywhere (a Python bool).

    Two tensors of different dtypes are refused, as PyTorch refuses them.

    >>> import lucid
    >>> lucid.allclose(lucid.ones(2), lucid.ones(2) + 1e-9)
    True
    """
    a, b = _as_array(input), _as_array(other)
    if isinstance(input, Tensor) and isinstance(other, Tensor) and a.dtype != b.dtype:
        raise RuntimeError(f"{_torch_name(a.dtype)} did not match {_torch_name(b.dtype)}")
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))
