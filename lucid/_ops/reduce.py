"""Reductions: ``sum``, ``mean``, ``max``/``min``, ``argmax``/``argmin``, ``var``/``std``,
with ``dim``/``keepdim``; ``softmax``/``log_softmax`` along a ``dim``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, overload

import jax
import jax.numpy as jnp

from lucid._autograd import TensorBase, _kernel

if TYPE_CHECKING:
    from lucid._tensor import Tensor

_Kernel = Callable[..., tuple[jax.Array, Any]]
_Axis = int | tuple[int, ...] | None


class ReturnTypes(NamedTuple):
    """``(values, indices)``, as ``Tensor.max(dim)`` returns in PyTorch."""

    values: Tensor
    indices: Tensor


def _reduce_axes(name: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any
                 ) -> tuple[_Axis, bool]:
    """lucid's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``: one of each at most."""
    if axis is not None and dim is not None:
        raise TypeError(f"{name}() got both axis={axis!r} and dim={dim!r}; pass one of them")
    if keepdims is not None and keepdim is not None:
        raise TypeError(f"{name}() got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                        "pass one of them")
    axis = dim if axis is None else axis
    return _hashable_axis(axis), bool(keepdim if keepdims is None else keepdims)


def _hashable_axis(axis: Any) -> _Axis:
    return tuple(axis) if isinstance(axis, list) else axis


_REDUCTIONS: dict[str, Callable[..., jax.Array]] = {
    "sum": jnp.sum, "mean": jnp.mean, "max": jnp.max, "min": jnp.min, "all": jnp.all,
    "any": jnp.any, "var": jnp.var, "std": jnp.std}


@functools.cache
def _reduction(name: str, axis: _Axis, keepdims: bool, correction: float = 0) -> _Kernel:
    reduce = _REDUCTIONS[name]
    if name in ("var", "std"):
        return lambda a: (reduce(a, axis=axis, keepdims=keepdims, ddof=correction), None)
    return lambda a: (reduce(a, axis=axis, keepdims=keepdims), None)


@functools.cache
def _norm(ord: float, axis: _Axis, keepdims: bool) -> _Kernel:
    # jnp's stubs say ord is an int or a str; any float norm (inf, 1.5) works
    return lambda a: (jnp.linalg.vector_norm(a, ord=ord, axis=axis,  # type: ignore[arg-type]
                                             keepdims=keepdims), None)


@functools.cache
def _extremum_with_indices(name: str, axis: int, keepdims: bool) -> _Kernel:
    """``(values, indices)`` along one axis; the indices travel as aux (no gradient)."""
    find = {"max": jnp.argmax, "min": jnp.argmin}[name]

    def extremum(a: jax.Array) -> tuple[jax.Array, jax.Array]:
        indices = find(a, axis=axis, keepdims=True)
        values = jnp.take_along_axis(a, indices, axis=axis)
        if not keepdims:
            values, indices = jnp.squeeze(values, axis), jnp.squeeze(indices, axis)
        return values, indices
    return extremum


@functools.cache
def _arg_extremum(name: str, axis: int | None, keepdims: bool) -> _Kernel:
    find = {"argmax": jnp.argmax, "argmin": jnp.argmin}[name]
    return lambda a: (find(a, axis=axis, keepdims=keepdims), None)


@functools.cache
def _softmax(name: str, axis: int) -> _Kernel:
    normalise = {"softmax": jax.nn.softmax, "log_softmax": jax.nn.log_softmax}[name]
    return lambda a: (normalise(a, axis=axis), None)


def _correction(unbiased: bool | None, correction: float | None) -> float:
    if unbiased is not None and correction is not None:
        raise TypeError("var()/std() take unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


class ReduceMixin(TensorBase):
    """Reductions over all axes or over ``dim`` (lucid's ``axis``), with ``keepdim``.

    >>> import lucid
    >>> x = lucid.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> x.sum().item(), x.mean(dim=0).tolist(), x.var(dim=1, keepdim=True).shape
    (11.0, [2.0, 3.5], (2, 1))
    >>> values, indices = x.max(dim=1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 3.0], [1, 0])
    >>> bool((x > 0).all()), (x > 4).any(dim=0).tolist()
    (True, [False, True])
    >>> x.argmax(dim=1).tolist(), x.argmin().item()
    ([1, 0], 0)
    >>> [round(v, 4) for v in x.softmax(dim=1)[0].tolist()]
    [0.018, 0.982]
    """

    __slots__ = ()

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None, *,
            dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None) -> Tensor:
        """The sum over ``axis`` (or PyTorch's ``dim``), all axes by default."""
        return self._apply(
            _reduction("sum", *_reduce_axes("sum", axis, keepdims, dim, keepdim)), self)[0]

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None, *,
             dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None) -> Tensor:
        """The mean over ``axis`` (or PyTorch's ``dim``), all axes by default."""
        return self._apply(
            _reduction("mean", *_reduce_axes("mean", axis, keepdims, dim, keepdim)), self)[0]

    def norm(self, p: float | str = "fro", dim: int | tuple[int, ...] | None = None,
             keepdim: bool = False) -> Tensor:
        """The vector ``p``-norm of all elements (or along ``dim``); ``"fro"`` is 2."""
        kernel = _norm(2.0 if p == "fro" else float(p), _hashable_axis(dim), bool(keepdim))
        return self._apply(kernel, self)[0]

    def _extremum(self, name: str, dim: int | None, keepdim: bool) -> Tensor | ReturnTypes:
        if dim is None:
            return self._apply(_reduction(name, None, False), self)[0]
        values, indices = self._apply(_extremum_with_indices(name, int(dim), bool(keepdim)), self)
        return ReturnTypes(values, self._wrap(indices))

    @overload
    def max(self, dim: None = None, keepdim: bool = False) -> Tensor: ...
    @overload
    def max(self, dim: int, keepdim: bool = False) -> ReturnTypes: ...
    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | ReturnTypes:
        """The largest value; with ``dim``, ``(values, indices)`` along it, as PyTorch."""
        return self._extremum("max", dim, keepdim)

    @overload
    def min(self, dim: None = None, keepdim: bool = False) -> Tensor: ...
    @overload
    def min(self, dim: int, keepdim: bool = False) -> ReturnTypes: ...
    def min(self, dim: int | None = None, keepdim: bool = False) -> Tensor | ReturnTypes:
        """The smallest value; with ``dim``, ``(values, indices)`` along it, as PyTorch."""
        return self._extremum("min", dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (of the flattened tensor without ``dim``); no gradient."""
        kernel = _kernel(_arg_extremum("argmax", dim, bool(keepdim)), ())
        return self._wrap(kernel(self._data)[0])

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the smallest value (of the flattened tensor without ``dim``); no gradient."""
        kernel = _kernel(_arg_extremum("argmin", dim, bool(keepdim)), ())
        return self._wrap(kernel(self._data)[0])

    def softmax(self, dim: int) -> Tensor:
        """``exp(x) / sum(exp(x))`` along ``dim``."""
        return self._apply(_softmax("softmax", int(dim)), self)[0]

    def log_softmax(self, dim: int) -> Tensor:
        """``x - logsumexp(x)`` along ``dim``, computed stably."""
        return self._apply(_softmax("log_softmax", int(dim)), self)[0]

    def all(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Whether every element (along ``dim``) is true; boolean, off the tape."""
        kernel = _kernel(_reduction("all", _hashable_axis(dim), bool(keepdim)), ())
        return self._wrap(kernel(self._data)[0])

    def any(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Whether any element (along ``dim``) is true; boolean, off the tape."""
        kernel = _kernel(_reduction("any", _hashable_axis(dim), bool(keepdim)), ())
        return self._wrap(kernel(self._data)[0])

    def var(self, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None,
            keepdim: bool = False, *, correction: float | None = None) -> Tensor:
        """The variance (unbiased by default, ``correction=0`` for biased), as PyTorch."""
        return self._apply(_reduction("var", _hashable_axis(dim), bool(keepdim),
                                      _correction(unbiased, correction)), self)[0]

    def std(self, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None,
            keepdim: bool = False, *, correction: float | None = None) -> Tensor:
        """The standard deviation (unbiased by default), as PyTorch."""
        return self._apply(_reduction("std", _hashable_axis(dim), bool(keepdim),
                                      _correction(unbiased, correction)), self)[0]
