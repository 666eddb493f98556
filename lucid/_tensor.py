"""``lucid.Tensor``: a jax.Array with a reverse-mode tape.

Every differentiable operation runs one cached, jitted kernel that returns its output together
with its ``jax.vjp`` pullback (a pytree), and records that pullback on the output tensor.
:meth:`Tensor.backward` walks the recorded graph in reverse topological order, calls each
pullback through one jitted applier, and accumulates gradients in the leaves' ``.grad``.
Kernels are cached by (operation, which inputs need a gradient), so repeated eager calls with
the same shapes and settings never retrace.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_GRAD_ENABLED = True
_KERNELS: dict[tuple, Callable] = {}


class no_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) in which operations record nothing on the tape.

    >>> import lucid
    >>> w = lucid.tensor([1.0, 2.0], requires_grad=True)
    >>> with lucid.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self) -> no_grad:
        global _GRAD_ENABLED
        self._previous = _GRAD_ENABLED
        _GRAD_ENABLED = False
        return self

    def __exit__(self, *exc_info) -> None:
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._previous


def _kernel(fn: Callable, grad_positions: tuple[int, ...]) -> Callable:
    """The jitted ``arrays -> (output, aux, pullback or None)`` for ``fn``, cached.

    ``fn(*arrays)`` returns ``(output, aux)``; ``aux`` carries no gradient. The pullback is taken
    with respect to the arrays at ``grad_positions`` only.
    """
    key = (fn, grad_positions)
    kernel = _KERNELS.get(key)
    if kernel is not None:
        return kernel

    if not grad_positions:
        def run(*arrays):
            output, aux = fn(*arrays)
            return output, aux, None
    else:
        def run(*arrays):
            def differentiable(*primals):
                full = list(arrays)
                for position, primal in zip(grad_positions, primals, strict=True):
                    full[position] = primal
                return fn(*full)

            primals = [arrays[p] for p in grad_positions]
            output, pullback, aux = jax.vjp(differentiable, *primals, has_aux=True)
            return output, aux, pullback

    kernel = _KERNELS[key] = jax.jit(run)
    return kernel


@jax.jit
def _pull(pullback, cotangent):
    return pullback(cotangent)


def _as_array(value: Any) -> Any:
    """The array behind ``value``: a Tensor's data, a scalar or array as is, else converted."""
    if isinstance(value, Tensor):
        return value._data
    if value is None or isinstance(value, int | float | bool | jax.Array | np.ndarray | np.generic):
        return value
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return jnp.asarray(value)


def apply(fn: Callable, *args: Any) -> tuple[Tensor, Any]:
    """Run ``fn`` on the arrays behind ``args`` and record its pullback on the result.

    ``fn`` must be a stable, hashable callable (a module-level function or one returned by a
    cached factory) mapping arrays to ``(output, aux)``. Returns ``(Tensor(output), aux)``.
    """
    arrays = tuple(_as_array(a) for a in args)
    grad_positions = ()
    if _GRAD_ENABLED:
        grad_positions = tuple(i for i, a in enumerate(args)
                               if isinstance(a, Tensor) and a.requires_grad)
    output, aux, pullback = _kernel(fn, grad_positions)(*arrays)
    result = Tensor._wrap(output)
    if grad_positions:
        result.requires_grad = True
        result._pullback = pullback
        result._parents = tuple(args[p] for p in grad_positions)
    return result, aux


def _no_aux(op: Callable) -> Callable:
    return functools.wraps(op)(lambda *arrays: (op(*arrays), None))


_ADD, _SUB, _MUL, _DIV, _POW = (_no_aux(op) for op in (
    jnp.add, jnp.subtract, jnp.multiply, jnp.true_divide, jnp.power))
_NEG = _no_aux(jnp.negative)
_EQ, _NE, _LT, _LE, _GT, _GE = (_no_aux(op) for op in (
    jnp.equal, jnp.not_equal, jnp.less, jnp.less_equal, jnp.greater, jnp.greater_equal))


def _constant(fn: Callable, *args: Any) -> Tensor:
    """``fn`` on the arrays behind ``args``, recorded nowhere (comparisons have no gradient)."""
    return Tensor._wrap(_kernel(fn, ())(*(_as_array(a) for a in args))[0])


def _reduce_axes(name: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple:
    """lucid's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``: one of each at most."""
    if axis is not None and dim is not None:
        raise TypeError(f"{name}() got both axis={axis!r} and dim={dim!r}; pass one of them")
    if keepdims is not None and keepdim is not None:
        raise TypeError(f"{name}() got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                        "pass one of them")
    axis = dim if axis is None else axis
    return _hashable_axis(axis), bool(keepdim if keepdims is None else keepdims)


@functools.cache
def _reduction(name: str, axis, keepdims: bool) -> Callable:
    reduce = {"sum": jnp.sum, "mean": jnp.mean}[name]
    return lambda a: (reduce(a, axis=axis, keepdims=keepdims), None)


@functools.cache
def _reshaper(shape: tuple[int, ...]) -> Callable:
    return lambda a: (jnp.reshape(a, shape), None)


@functools.cache
def _indexer(index: tuple) -> Callable:
    """``a[index]``; ``("slice", start, stop, step)`` and ``("array", k)`` entries are rebuilt."""
    def take(a, *index_arrays):
        key = []
        for part in index:
            if isinstance(part, tuple) and part[0] == "slice":
                key.append(slice(*part[1:]))
            elif isinstance(part, tuple) and part[0] == "array":
                key.append(index_arrays[part[1]])
            else:
                key.append(part)
        return a[tuple(key)], None
    return take


def _format(array: Any, prefix: str) -> str:
    """Values rounded to 4 decimals, comma-separated, as lucid prints them."""
    return np.array2string(np.asarray(array), separator=", ", prefix=prefix,
                           formatter={"float_kind": lambda v: repr(round(float(v), 4) + 0.0)})


def _shape_args(shape: tuple) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the shape ``(2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def check_dtype(dtype: Any) -> Any:
    """``dtype`` as given, or a ``ValueError`` where JAX would silently narrow it (x64 off)."""
    if dtype is not None and jax.dtypes.canonicalize_dtype(dtype) != np.dtype(dtype):
        name = np.dtype(dtype).name
        raise ValueError(
            f"dtype {name} needs JAX's 64-bit mode, which is off (JAX would silently use "
            f"{jax.dtypes.canonicalize_dtype(dtype).name}); enable it at startup with "
            'jax.config.update("jax_enable_x64", True), or pass a 32-bit dtype'
        )
    return dtype


def _check_index(static: list, index_arrays: list, shape: tuple[int, ...]) -> None:
    """PyTorch's ``IndexError`` for an out-of-range integer index (JAX would clamp it).

    ``static`` is :meth:`Tensor.__getitem__`'s parsed index; each entry but ``None``,
    ``Ellipsis`` and a Python bool consumes one axis (a mask arrives as its integer positions).
    """
    def width(part: Any) -> int:
        return 0 if part is None or part is Ellipsis or isinstance(part, bool) else 1

    dim = 0
    for part in static:
        if part is Ellipsis:
            dim += max(len(shape) - sum(map(width, static)), 0)
            continue
        if dim >= len(shape):
            return  # too many indices: JAX raises its own IndexError
        size = shape[dim]
        if isinstance(part, tuple) and part[0] == "array":
            positions = np.asarray(index_arrays[part[1]])
            outside = positions[(positions >= size) | (positions < -size)]
            bad = int(outside.flat[0]) if outside.size else None
        else:
            bad = part if width(part) and not isinstance(part, tuple) else None
            bad = None if bad is None or -size <= bad < size else int(bad)
        if bad is not None:
            raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        dim += width(part)


def resolve_device(device: Any) -> jax.Device | None:
    """``None`` (JAX's default), a ``jax.Device``, or a platform name (``"cpu"``, ``"gpu"``)."""
    if device is None or isinstance(device, jax.Device):
        return device
    return jax.devices({"cuda": "gpu"}.get(str(device), str(device)))[0]


class Tensor:
    """An array with lucid's autograd: ``requires_grad``, ``backward()``, ``.grad``.

    >>> import lucid
    >>> x = lucid.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x + 1).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    >>> x
    Tensor([[1.0, 2.0],
            [3.0, 4.0]], grad=[[2.0, 4.0],
            [6.0, 8.0]])
    """

    __slots__ = ("_data", "requires_grad", "grad", "_pullback", "_parents")
    __array_ufunc__ = None  # numpy defers to Tensor's reflected operators
    __hash__ = object.__hash__  # hashable by identity although == is elementwise, as in torch

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 device: Any = None) -> None:
        array = jnp.asarray(_as_array(data), dtype=check_dtype(dtype))
        device = resolve_device(device)
        self._data = array if device is None else jax.device_put(array, device)
        self.requires_grad = False
        self.grad = None
        self._pullback = None
        self._parents = ()
        self.requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, array: jax.Array) -> Tensor:
        tensor = object.__new__(cls)
        tensor._data = array
        tensor.requires_grad = False
        tensor.grad = None
        tensor._pullback = None
        tensor._parents = ()
        return tensor

    # -- autograd -----------------------------------------------------------------------------

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) recording operations on this tensor; returns it."""
        if requires_grad and not jnp.issubdtype(self._data.dtype, jnp.inexact):
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same values, cut from the tape (never requires grad)."""
        return Tensor._wrap(self._data)

    @property
    def is_leaf(self) -> bool:
        return self._pullback is None

    def backward(self, gradient: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is the cotangent, of ``self``'s shape; without it a tensor of ones is used,
        on a scalar and (as lucid does) on a non-scalar alike. The graph is kept: calling
        ``backward`` again accumulates again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        if gradient is None:
            seed = jnp.ones(self.shape, self.dtype)
        else:
            seed = jnp.asarray(_as_array(gradient), self.dtype)
            if seed.shape != self.shape:
                raise RuntimeError(
                    f"Mismatch in shape: gradient has a shape of {seed.shape} and the tensor "
                    f"has a shape of {self.shape}"
                )
        cotangents = {id(self): seed}
        for node in self._reverse_topological_order():
            cotangent = cotangents.pop(id(node), None)
            if cotangent is None:
                continue
            if node.is_leaf:
                node.grad = cotangent if node.grad is None else node.grad + cotangent
                continue
            for parent, parent_cotangent in zip(node._parents, _pull(node._pullback, cotangent),
                                                strict=True):
                key = id(parent)
                cotangents[key] = (parent_cotangent if key not in cotangents
                                   else cotangents[key] + parent_cotangent)

    def _reverse_topological_order(self) -> list[Tensor]:
        order, visited, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent in node._parents)
        return order[::-1]

    # -- array protocol -----------------------------------------------------------------------

    @property
    def data(self) -> jax.Array:
        """The underlying ``jax.Array``; assigning replaces it in place (off the tape)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = jnp.asarray(_as_array(value))

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def numpy(self) -> np.ndarray:
        return np.asarray(self._data)

    def item(self) -> int | float | bool:
        return self._data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists of Python scalars."""
        return self._data.tolist()

    def _scalar(self) -> int | float | bool:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._data.item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self._data, dtype=dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        """The sub-tensors along the first axis (each on the tape, like ``self[i]``)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        # an array index, not an int: one compiled kernel serves every row
        return (self[np.asarray(i)] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        prefix = f"{type(self).__name__}("
        grad = "None" if self.grad is None else _format(self.grad, prefix)
        return f"{prefix}{_format(self._data, prefix)}, grad={grad})"

    # -- differentiable operations ------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return apply(_ADD, self, other)[0]

    def __radd__(self, other: Any) -> Tensor:
        return apply(_ADD, other, self)[0]

    def __sub__(self, other: Any) -> Tensor:
        return apply(_SUB, self, other)[0]

    def __rsub__(self, other: Any) -> Tensor:
        return apply(_SUB, other, self)[0]

    def __mul__(self, other: Any) -> Tensor:
        return apply(_MUL, self, other)[0]

    def __rmul__(self, other: Any) -> Tensor:
        return apply(_MUL, other, self)[0]

    def __truediv__(self, other: Any) -> Tensor:
        return apply(_DIV, self, other)[0]

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(_DIV, other, self)[0]

    def __pow__(self, other: Any) -> Tensor:
        return apply(_POW, self, other)[0]

    def __rpow__(self, other: Any) -> Tensor:
        return apply(_POW, other, self)[0]

    def __neg__(self) -> Tensor:
        return apply(_NEG, self)[0]

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None, *,
            dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None) -> Tensor:
        """The sum over ``axis`` (or PyTorch's ``dim``), all axes by default."""
        return apply(_reduction("sum", *_reduce_axes("sum", axis, keepdims, dim, keepdim)),
                     self)[0]

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None, *,
             dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None) -> Tensor:
        """The mean over ``axis`` (or PyTorch's ``dim``), all axes by default."""
        return apply(_reduction("mean", *_reduce_axes("mean", axis, keepdims, dim, keepdim)),
                     self)[0]

    # -- comparisons: elementwise, boolean, never on the tape ---------------------------------

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return NotImplemented if other is None else _constant(_EQ, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return NotImplemented if other is None else _constant(_NE, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _constant(_LT, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _constant(_LE, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _constant(_GT, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _constant(_GE, self, other)

    def reshape(self, *shape: int) -> Tensor:
        return apply(_reshaper(_shape_args(shape)), self)[0]

    def __getitem__(self, index: Any) -> Tensor:
        parts = index if isinstance(index, tuple) else (index,)
        static, index_arrays = [], []
        for part in parts:
            if isinstance(part, slice):
                static.append(("slice", part.start, part.stop, part.step))
            elif part is None or part is Ellipsis or isinstance(part, int | np.integer):
                static.append(part)
            else:  # integer or boolean arrays: a boolean mask becomes its (concrete) indices
                array = np.asarray(_as_array(part))
                positions = np.nonzero(array) if array.dtype == bool else (array,)
                for position in positions:
                    static.append(("array", len(index_arrays)))
                    index_arrays.append(position)
        _check_index(static, index_arrays, self.shape)
        return apply(_indexer(tuple(static)), self, *index_arrays)[0]


def _hashable_axis(axis: Any) -> int | tuple[int, ...] | None:
    return tuple(axis) if isinstance(axis, list) else axis
