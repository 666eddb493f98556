"""Elementwise and linear-algebra operations: arithmetic, ``@``, unary maths, comparisons."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lucid._autograd import _TENSOR, _as_array, _kernel, _no_aux, apply

_ADD, _SUB, _MUL, _DIV, _POW, _MATMUL = (_no_aux(op) for op in (
    jnp.add, jnp.subtract, jnp.multiply, jnp.true_divide, jnp.power, jnp.matmul))
_NEG, _ABS, _SQRT, _EXP, _LOG, _TANH, _SIGMOID, _RELU = (_no_aux(op) for op in (
    jnp.negative, jnp.abs, jnp.sqrt, jnp.exp, jnp.log, jnp.tanh, jax.nn.sigmoid, jax.nn.relu))
_MAXIMUM, _MINIMUM, _WHERE = (_no_aux(op) for op in (jnp.maximum, jnp.minimum, jnp.where))
_EQ, _NE, _LT, _LE, _GT, _GE = (_no_aux(op) for op in (
    jnp.equal, jnp.not_equal, jnp.less, jnp.less_equal, jnp.greater, jnp.greater_equal))


@functools.cache
def _clamper(has_min: bool, has_max: bool) -> Callable:
    """``clamp(a, min, max)``; the bounds are traced (one kernel for every value)."""
    def clamp(a, low, high):
        if has_min:
            a = jnp.maximum(a, low)
        if has_max:
            a = jnp.minimum(a, high)
        return a, None
    return clamp


def _constant(fn: Callable, *args: Any) -> Any:
    """``fn`` on the arrays behind ``args``, recorded nowhere (comparisons have no gradient)."""
    return _TENSOR[0]._wrap(_kernel(fn, ())(*(_as_array(a) for a in args))[0])


class ElementwiseMixin:
    """``+ - * / ** @``, unary maths and comparisons, each one cached kernel on the tape.

    >>> import lucid
    >>> x = lucid.tensor([[1.0, -4.0]])
    >>> (abs(x).sqrt() @ lucid.tensor([[1.0], [1.0]])).tolist()
    [[3.0]]
    >>> x.clamp(min=0).tolist(), x.exp().log().tolist()
    ([[1.0, 0.0]], [[1.0, -4.0]])
    """

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        return apply(_ADD, self, other)[0]

    def __radd__(self, other: Any) -> Any:
        return apply(_ADD, other, self)[0]

    def __sub__(self, other: Any) -> Any:
        return apply(_SUB, self, other)[0]

    def __rsub__(self, other: Any) -> Any:
        return apply(_SUB, other, self)[0]

    def __mul__(self, other: Any) -> Any:
        return apply(_MUL, self, other)[0]

    def __rmul__(self, other: Any) -> Any:
        return apply(_MUL, other, self)[0]

    def __truediv__(self, other: Any) -> Any:
        return apply(_DIV, self, other)[0]

    def __rtruediv__(self, other: Any) -> Any:
        return apply(_DIV, other, self)[0]

    def __pow__(self, other: Any) -> Any:
        return apply(_POW, self, other)[0]

    def __rpow__(self, other: Any) -> Any:
        return apply(_POW, other, self)[0]

    def __matmul__(self, other: Any) -> Any:
        return apply(_MATMUL, self, other)[0]

    def __rmatmul__(self, other: Any) -> Any:
        return apply(_MATMUL, other, self)[0]

    def matmul(self, other: Any) -> Any:
        return apply(_MATMUL, self, other)[0]

    def __neg__(self) -> Any:
        return apply(_NEG, self)[0]

    def __abs__(self) -> Any:
        return apply(_ABS, self)[0]

    def abs(self) -> Any:
        return apply(_ABS, self)[0]

    def sqrt(self) -> Any:
        return apply(_SQRT, self)[0]

    def exp(self) -> Any:
        return apply(_EXP, self)[0]

    def log(self) -> Any:
        return apply(_LOG, self)[0]

    def tanh(self) -> Any:
        return apply(_TANH, self)[0]

    def sigmoid(self) -> Any:
        return apply(_SIGMOID, self)[0]

    def relu(self) -> Any:
        return apply(_RELU, self)[0]

    def maximum(self, other: Any) -> Any:
        """The larger of ``self`` and ``other``, elementwise."""
        return apply(_MAXIMUM, self, other)[0]

    def minimum(self, other: Any) -> Any:
        """The smaller of ``self`` and ``other``, elementwise."""
        return apply(_MINIMUM, self, other)[0]

    def clamp(self, min: Any = None, max: Any = None) -> Any:
        """Values limited to ``[min, max]`` (either bound may be ``None``, not both)."""
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        return apply(_clamper(min is not None, max is not None), self, min, max)[0]

    # -- comparisons: elementwise, boolean, never on the tape ---------------------------------

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return NotImplemented if other is None else _constant(_EQ, self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return NotImplemented if other is None else _constant(_NE, self, other)

    def __lt__(self, other: Any) -> Any:
        return _constant(_LT, self, other)

    def __le__(self, other: Any) -> Any:
        return _constant(_LE, self, other)

    def __gt__(self, other: Any) -> Any:
        return _constant(_GT, self, other)

    def __ge__(self, other: Any) -> Any:
        return _constant(_GE, self, other)
