"""``lucid.Tensor``: a jax.Array in a storage cell, with a place on the tape and in-place ops.

The operations live in :mod:`lucid._ops` (one mixin per family); this file holds the state,
the array protocol and everything that mutates. Every mutation goes through
:meth:`Tensor._assign_`, which checks first, then rebinds the storage's array, bumps its
version and, with grad on, makes the tensor the output of the recorded operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Self

import jax
import jax.numpy as jnp
import numpy as np

from lucid._autograd import (
    TensorBase,
    _no_aux,
    _Node,
    owned_array,
    run_backward,
)
from lucid._device import device as _device
from lucid._grad_mode import _MODE
from lucid._ops.elementwise import ElementwiseMixin
from lucid._ops.reduce import ReduceMixin
from lucid._ops.shape import ShapeMixin, _parse_index, _setter

_TORCH_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                      "bfloat16": "BFloat16", "int32": "Int", "int64": "Long", "bool": "Bool"}
_IDENTITY = _no_aux(lambda a: a)
_FILL = _no_aux(lambda a, value: jnp.full_like(a, value))
_COPY = _no_aux(lambda a, src: jnp.broadcast_to(src, a.shape).astype(a.dtype))
_CASTS: dict[Any, Callable] = {}


def _caster(dtype: Any) -> Callable:
    key = np.dtype(dtype)
    if key not in _CASTS:
        _CASTS[key] = _no_aux(lambda a: a.astype(key))
    return _CASTS[key]


def _format(array: Any, prefix: str) -> str:
    """Values rounded to 4 decimals, comma-separated, as lucid prints them."""
    return np.array2string(np.asarray(array), separator=", ", prefix=prefix,
                           formatter={"float_kind": lambda v: repr(round(float(v), 4) + 0.0)})


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


def resolve_device(device: Any) -> jax.Device | None:
    """``None`` (JAX's default), a ``jax.Device``, a :class:`lucid.device` or its name
    (``"cpu"``, ``"cuda:0"``, ``"gpu"``, ``"tpu"``)."""
    if device is None or isinstance(device, jax.Device):
        return device
    return _device(device).jax_device


def check_create_graph(create_graph: bool) -> None:
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (differentiating a gradient) is not supported by lucid's tape: "
            "use jax.grad on a pure function for higher-order derivatives"
        )


def seed_for(output: Tensor, gradient: Any) -> Any:
    """``gradient`` checked and cast for ``output``, or ``(shape, dtype)``: ones."""
    if gradient is None:
        return (output.shape, output.dtype)
    seed = owned_array(gradient, output.dtype)
    if seed.shape != output.shape:
        raise RuntimeError(f"Mismatch in shape: gradient has a shape of {seed.shape} and the "
                           f"tensor has a shape of {output.shape}")
    return seed


def type_name(value: Any) -> str:
    """``value``'s class for an error message: ``list``, ``numpy.ndarray``,
    ``lucid._tensor.Tensor``."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _torch_name(dtype: Any) -> str:
    return _TORCH_DTYPE_NAMES.get(np.dtype(dtype).name, np.dtype(dtype).name)


class _Storage:
    """The array a tensor (and its ``detach()``-ed aliases) reads, and its version counter."""

    __slots__ = ("array", "version")

    def __init__(self, array: jax.Array) -> None:
        self.array, self.version = array, 0


class Tensor(ElementwiseMixin, ReduceMixin, ShapeMixin, TensorBase):
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
    >>> with lucid.no_grad():
    ...     x -= 0.5 * x.grad                 # in place: the optimiser step
    >>> x.tolist(), f"{y:.1f}"
    ([[0.0, 0.0], [0.0, 0.0]], '34.0')
    """

    __slots__ = ("_storage", "_node", "_grad")
    __array_ufunc__ = None  # numpy defers to Tensor's reflected operators
    __hash__ = object.__hash__  # hashable by identity although == is elementwise, as in torch

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 device: Any = None) -> None:
        array = owned_array(data, check_dtype(dtype))
        device = resolve_device(device)
        self._storage = _Storage(array if device is None else jax.device_put(array, device))
        self._node = None
        self._grad = None
        self.requires_grad_(requires_grad)

    @staticmethod
    def _wrap(array: jax.Array, storage: _Storage | None = None) -> Tensor:
        """A Tensor off the tape over ``array`` (or over ``storage``, shared): always a plain
        Tensor, so a Parameter's operations give Tensors, as in PyTorch."""
        tensor = object.__new__(Tensor)
        tensor._storage = _Storage(array) if storage is None else storage
        tensor._node = None
        tensor._grad = None
        return tensor

    @property
    def _data(self) -> jax.Array:
        return self._storage.array

    @_data.setter
    def _data(self, array: jax.Array) -> None:
        self._storage.array = array
        self._storage.version += 1

    @property
    def _version(self) -> int:
        """How many times this tensor's storage was changed in place."""
        return self._storage.version

    # -- autograd -----------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, requires_grad: bool) -> None:
        self.requires_grad_(requires_grad)

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient: a Tensor without a graph (``None`` before any backward)."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None and not (isinstance(value, Tensor) and value._node is None):
            value = Tensor._wrap(value._data if isinstance(value, Tensor) else owned_array(value))
        if value is not None and value.shape != self.shape:
            raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' "
                               f"to a tensor of size '{list(self.shape)}'. Please ensure that "
                               "the gradient and the tensor are the same size")
        if value is not None and value.dtype != self.dtype:
            raise RuntimeError(f"attempting to assign a gradient with dtype "
                               f"'{_torch_name(value.dtype)}' to a tensor with grad_dtype "
                               f"'{_torch_name(self.dtype)}'. The gradient must match the "
                               "tensor's grad_dtype (defaults to the tensor's dtype).")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self._node is None or self._node.leaf is self

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        """Start (or stop) recording operations on this leaf; returns it."""
        if not self.is_leaf:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not jnp.issubdtype(self.dtype, jnp.inexact):
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        if not requires_grad:
            self._node = None
        elif self._node is None:
            self._node = _Node(None, (), self)
        return self

    def detach(self) -> Tensor:
        """The same values, cut from the tape; shares storage, so in-place changes show in both."""
        return Tensor._wrap(self._data, self._storage)

    def detach_(self) -> Self:
        self._node = None
        return self

    def clone(self) -> Tensor:
        """A copy with its own storage, on the tape (gradients flow back to ``self``)."""
        return apply(_IDENTITY, self)[0]

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is the cotangent, of ``self``'s shape; without it a tensor of ones is used,
        on a scalar and (as lucid does) on a non-scalar alike. As in PyTorch the graph's saved
        arrays are freed, so a second ``backward`` through it raises, unless this call passes
        ``retain_graph=True`` (gradients then accumulate). ``inputs`` (a tensor or a sequence)
        limits the accumulation to those tensors, leaves or not; an unused one keeps its
        ``.grad``.

        >>> import lucid
        >>> a = lucid.tensor([1.0, 2.0], requires_grad=True)
        >>> b = lucid.tensor([3.0, 4.0], requires_grad=True)
        >>> (a * b).sum().backward(inputs=[a])
        >>> a.grad.tolist(), b.grad
        ([3.0, 4.0], None)
        """
        if self._node is None:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        check_create_graph(create_graph)
        seed = seed_for(self, gradient)
        if inputs is None:
            run_backward((self._node,), (seed,), None, bool(retain_graph))
            return
        listed = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        targets = tuple({id(t): t for t in listed}.values())  # a tensor listed twice counts once
        if not listed:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        if any(not isinstance(t, Tensor) or t._node is None for t in targets):
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        results = run_backward((self._node,), (seed,), tuple(t._node for t in targets),
                               bool(retain_graph))
        for target, result in zip(targets, results, strict=True):
            if result is not None:
                target.grad = result if target.grad is None else target.grad._data + result

    # -- in place -----------------------------------------------------------------------------

    def _assign_(self, compute: Callable[[], Any]) -> Self:
        """Make ``self`` hold ``compute()``: check, rebind, bump the version; returns self."""
        grad_enabled = _MODE.enabled
        if grad_enabled and self._node is not None and self._node.leaf is self:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        result = compute()
        result = result if isinstance(result, Tensor) else Tensor(result)
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(result.shape)}")
        if not jnp.can_cast(result.dtype, self.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {_torch_name(result.dtype)} can't be cast to the "
                               f"desired output type {_torch_name(self.dtype)}")
        self._data = result._data.astype(self.dtype)
        if grad_enabled and (result._node is not None or self._node is not None):
            self._node = result._node
        return self

    def __iadd__(self, other: Any) -> Self:
        return self._assign_(lambda: self + other)

    def __isub__(self, other: Any) -> Self:
        return self._assign_(lambda: self - other)

    def __imul__(self, other: Any) -> Self:
        return self._assign_(lambda: self * other)

    def __itruediv__(self, other: Any) -> Self:
        return self._assign_(lambda: self / other)

    def add_(self, other: Any, alpha: float = 1) -> Self:
        return self._assign_(lambda: self + (other if alpha == 1 else other * alpha))

    def sub_(self, other: Any, alpha: float = 1) -> Self:
        return self._assign_(lambda: self - (other if alpha == 1 else other * alpha))

    def mul_(self, other: Any) -> Self:
        return self._assign_(lambda: self * other)

    def div_(self, other: Any) -> Self:
        return self._assign_(lambda: self / other)

    def clamp_(self, min: Any = None, max: Any = None) -> Self:
        return self._assign_(lambda: self.clamp(min, max))

    def fill_(self, value: Any) -> Self:
        return self._assign_(lambda: apply(_FILL, self, value)[0])

    def zero_(self) -> Self:
        return self.fill_(0)

    def copy_(self, src: Any) -> Self:
        """Copy ``src`` (broadcast to ``self``'s shape, cast to its dtype) into ``self``."""
        return self._assign_(lambda: apply(_COPY, self, src)[0])

    def __setitem__(self, index: Any, value: Any) -> None:
        static, index_arrays = _parse_index(index, self.shape)
        self._assign_(lambda: apply(_setter(static), self, value, *index_arrays)[0])

    # -- dtype and device ---------------------------------------------------------------------

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """This tensor in another dtype and/or on another device (``self`` if neither changes).

        Positional arguments may be a dtype, a device (``"cpu"``, a ``jax.Device``) or both.
        """
        for arg in args:
            if isinstance(arg, str | jax.Device | _device):
                device = arg
            else:
                dtype = arg
        result = self
        if dtype is not None and np.dtype(check_dtype(dtype)) != self.dtype:
            result = apply(_caster(dtype), self)[0]
        device = resolve_device(device)
        if device is not None and device not in result._data.devices():
            moved = Tensor._wrap(jax.device_put(result._data, device))
            moved._node = result._node
            result = moved
        return result

    def cpu(self) -> Tensor:
        return self.to(device="cpu")

    @property
    def device(self) -> _device:
        """Where the data lives, as a :class:`lucid.device` (it compares equal to the
        ``jax.Device`` too)."""
        return _device.of(next(iter(self._data.devices())))

    # -- array protocol -----------------------------------------------------------------------

    @property
    def data(self) -> Tensor:
        """The values as a Tensor without a graph that shares this one's storage: writing
        through it (``p.data.fill_(0)``) changes ``self`` and records no gradient."""
        return self.detach()

    @data.setter
    def data(self, value: Any) -> None:
        self._data = owned_array(value)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

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

    def __index__(self) -> int:
        if self.ndim or not jnp.issubdtype(self.dtype, jnp.integer):
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self._data.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return str(self)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self._data, dtype=dtype)

    def __jax_array__(self) -> jax.Array:
        return self._data

    def __dlpack__(self, **kwargs: Any) -> Any:
        """DLPack export (``torch.as_tensor(t)`` and ``torch.from_dlpack(t)``, 0-d included)."""
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        # jax.Array has __dlpack_device__ at runtime; its stubs omit it
        return self._data.__dlpack_device__()  # type: ignore[attr-defined]

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


    # -- dtype casts (last in the class: their names shadow the builtins in annotations) ----

    def float(self) -> Tensor:
        return self.to(jnp.float32)

    def double(self) -> Tensor:
        return self.to(jnp.float64)

    def half(self) -> Tensor:
        return self.to(jnp.float16)

    def int(self) -> Tensor:
        return self.to(jnp.int32)

    def long(self) -> Tensor:
        """int64, which needs JAX's 64-bit mode (an error otherwise, never a silent int32)."""
        return self.to(jnp.int64)

    def bool(self) -> Tensor:
        return self.to(jnp.bool_)

apply = Tensor._apply
__all__ = ["Tensor", "apply", "check_dtype", "resolve_device", "type_name"]
