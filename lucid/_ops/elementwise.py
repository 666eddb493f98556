"""Elementwise and linear-algebra operations: arithmetic, ``@``, unary maths, comparisons."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from lucid._autograd import TensorBase, _as_array, _kernel, _no_aux

if TYPE_CHECKING:
    from lucid._tensor import Tensor

_ADD, _SUB, _MUL, _DIV, _POW, _MATMUL = (_no_aux(op) for op in (
    jnp.add, jnp.subtract, jnp.multiply, jnp.true_divide, jnp.power, jnp.matmul))
_NEG, _ABS, _SQRT, _EXP, _LOG, _TANH, _SIGMOID, _RELU = (_no_aux(op) for op in (
    jnp.negative, jnp.abs, jnp.sqrt, jnp.exp, jnp.log, jnp.tanh, jax.nn.sigmoid, jax.nn.relu))
_MAXIMUM, _MINIMUM, _WHERE = (_no_aux(op) for op in (jnp.maximum, jnp.minimum, jnp.where))
_EQ, _NE, _LT, _LE, _GT, _GE = (_no_aux(op) for op in (
    jnp.equal, jnp.not_equal, jnp.less, jnp.less_equal, jnp.greater, jnp.greater_equal))


@functools.cache
def _clamper(has_min: bool, has_max: bool) -> Callable[..., tuple[jax.Array, None]]:
    """``clamp(a, min, max)``; the bounds are traced (one kernel for every value)."""
    def clamp(a: jax.Array, low: Any, high: Any) -> tuple[jax.Array, None]:
        if has_min:
            a = jnp.maximum(a, low)
        if has_max:
            a = jnp.minimum(a, high)
        return a, None
    return clamp


class ElementwiseMixin(TensorBase):
    """``+ - * / ** @``, unary maths and comparisons, each one cached kernel on the tape.

    >>> import lucid
    >>> x = lucid.tensor([[1.0, -4.0]])
    >>> (abs(x).sqrt() @ lucid.tensor([[1.0], [1.0]])).tolist()
    [[3.0]]
    >>> x.clamp(min=0).tolist(), x.exp().log().tolist()
    ([[1.0, 0.0]], [[1.0, -4.0]])
    """

    __slots__ = ()

    def __add__(self, other: Any) -> Tensor:
        return self._apply(_ADD, self, other)[0]

    def __radd__(self, other: Any) -> Tensor:
        return self._apply(_ADD, other, self)[0]

    def __sub__(self, other: Any) -> Tensor:
        return self._apply(_SUB, self, other)[0]

    def __rsub__(self, other: Any) -> Tensor:
        return self._apply(_SUB, other, self)[0]

    def __mul__(self, other: Any) -> Tensor:
        return self._apply(_MUL, self, other)[0]

    def __rmul__(self, other: Any) -> Tensor:
        return self._apply(_MUL, other, self)[0]

    def __truediv__(self, other: Any) -> Tensor:
        return self._apply(_DIV, self, other)[0]

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._apply(_DIV, other, self)[0]

    def __pow__(self, other: Any) -> Tensor:
        return self._apply(_POW, self, other)[0]

    def __rpow__(self, other: Any) -> Tensor:
        return self._apply(_POW, other, self)[0]

    def __matmul__(self, other: Any) -> Tensor:
        return self._apply(_MATMUL, self, other)[0]

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._apply(_MATMUL, other, self)[0]

    def matmul(self, other: Any) -> Tensor:
        return self._apply(_MATMUL, self, other)[0]

    def __neg__(self) -> Tensor:
        return self._apply(_NEG, self)[0]

    def __abs__(self) -> Tensor:
        return self._apply(_ABS, self)[0]

    def abs(self) -> Tensor:
        return self._apply(_ABS, self)[0]

    def sqrt(self) -> Tensor:
        return self._apply(_SQRT, self)[0]

    def exp(self) -> Tensor:
        return self._apply(_EXP, self)[0]

    def log(self) -> Tensor:
        return self._apply(_LOG, self)[0]

    def tanh(self) -> Tensor:
        return self._apply(_TANH, self)[0]

    def sigmoid(self) -> Tensor:
        return self._apply(_SIGMOID, self)[0]

    def relu(self) -> Tensor:
        return self._apply(_RELU, self)[0]

    def maximum(self, other: Any) -> Tensor:
        """The larger of ``self`` and ``other``, elementwise."""
        return self._apply(_MAXIMUM, self, other)[0]

    def minimum(self, other: Any) -> Tensor:
        """The smaller of ``self`` and ``other``, elementwise."""
        return self._apply(_MINIMUM, self, other)[0]

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Values limited to ``[min, max]`` (either bound may be ``None``, not both)."""
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        return self._apply(_clamper(min is not None, max is not None), self, min, max)[0]

    # -- comparisons: elementwise, boolean, never on the tape ---------------------------------

    def _constant(self, fn: Callable[..., Any], other: Any) -> Tensor:
        """``fn(self, other)`` on their arrays, recorded nowhere (comparisons have no gradient)."""
        return self._wrap(_kernel(fn, ())(self._data, _as_array(other))[0])

    # elementwise == and != return tensors, not bools (as NumPy's and PyTorch's do), which
    # object's signature forbids
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return NotImplemented if other is None else self._constant(_EQ, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return NotImplemented if other is None else self._constant(_NE, other)

    def __lt__(self, other: Any) -> Tensor:
        return self._constant(_LT, other)

    def __le__(self, other: Any) -> Tensor:
        return self._constant(_LE, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._constant(_GT, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._constant(_GE, other)
