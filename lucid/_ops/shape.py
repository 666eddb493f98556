"""Movement: ``reshape``/``view``, ``transpose``/``permute``, ``(un)squeeze``, ``flatten``,
``flip``, ``repeat``/``expand``, ``split``/``chunk``, indexing, and the kernels of
``lucid.cat``/``stack`` (defined in :mod:`lucid._functions`).

Every result is a new tensor (JAX arrays are values): ``x.view(...)`` and ``x[i]`` do not
write through to ``x`` when changed in place afterwards, unlike PyTorch's views.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Self

import jax
import jax.numpy as jnp
import numpy as np

from lucid._autograd import TensorBase, _as_array

if TYPE_CHECKING:
    from lucid._tensor import Tensor

_Kernel = Callable[..., tuple[jax.Array, None]]
# an index as a hashable key: ints, None, Ellipsis, ("slice", start, stop, step), ("array", k)
_StaticIndex = tuple[Any, ...]


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the shape ``(2, 3)``."""
    sizes = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
    return tuple(int(s) for s in sizes)


@functools.cache
def _reshaper(shape: tuple[int, ...]) -> _Kernel:
    return lambda a: (jnp.reshape(a, shape), None)


@functools.cache
def _permuter(axes: tuple[int, ...]) -> _Kernel:
    return lambda a: (jnp.transpose(a, axes), None)


@functools.cache
def _indexer(index: _StaticIndex) -> _Kernel:
    """``a[index]``; ``("slice", start, stop, step)`` and ``("array", k)`` entries are rebuilt."""
    def take(a: jax.Array, *index_arrays: jax.Array) -> tuple[jax.Array, None]:
        return a[_rebuild(index, index_arrays)], None
    return take


def _rebuild(index: _StaticIndex, index_arrays: tuple[jax.Array, ...]) -> tuple[Any, ...]:
    key: list[Any] = []
    for part in index:
        if isinstance(part, tuple) and part[0] == "slice":
            key.append(slice(*part[1:]))
        elif isinstance(part, tuple) and part[0] == "array":
            key.append(index_arrays[part[1]])
        else:
            key.append(part)
    return tuple(key)


@functools.cache
def _setter(index: _StaticIndex) -> _Kernel:
    """``a.at[index].set(value)``, differentiable in both."""
    def put(a: jax.Array, value: jax.Array, *index_arrays: jax.Array) -> tuple[jax.Array, None]:
        return a.at[_rebuild(index, index_arrays)].set(value.astype(a.dtype)), None
    return put


def _parse_index(index: Any, shape: tuple[int, ...]) -> tuple[_StaticIndex, list[np.ndarray]]:
    """A hashable description of ``index`` and the integer arrays it uses (masks as positions)."""
    parts = index if isinstance(index, tuple) else (index,)
    static: list[Any] = []
    index_arrays: list[np.ndarray] = []
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
    _check_index(static, index_arrays, shape)
    return tuple(static), index_arrays


def _check_index(static: list[Any], index_arrays: list[np.ndarray], shape: tuple[int, ...]
                 ) -> None:
    """PyTorch's ``IndexError`` for an out-of-range integer index (JAX would clamp it).

    Each entry but ``None``, ``Ellipsis`` and a Python bool consumes one axis (a mask arrives
    as its integer positions).
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


@functools.cache
def _flipper(axes: tuple[int, ...]) -> _Kernel:
    return lambda a: (jnp.flip(a, axes), None)


@functools.cache
def _tiler(reps: tuple[int, ...]) -> _Kernel:
    return lambda a: (jnp.tile(a, reps), None)


@functools.cache
def _broadcaster(shape: tuple[int, ...]) -> _Kernel:
    return lambda a: (jnp.broadcast_to(a, shape), None)


_JOINS: dict[str, Callable[..., jax.Array]] = {"cat": jnp.concatenate, "stack": jnp.stack}


@functools.cache
def _joiner(join: str, axis: int) -> _Kernel:
    combine = _JOINS[join]

    def joined(*arrays: jax.Array) -> tuple[jax.Array, None]:
        return combine(arrays, axis=axis), None
    return joined


def _axis(dim: int, ndim: int) -> int:
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return dim % max(ndim, 1)


class ShapeMixin(TensorBase):
    """Shape changes and indexing, each a cached kernel on the tape.

    >>> import lucid
    >>> x = lucid.zeros(2, 3, 4)
    >>> x.view(6, 4).shape, x.permute(2, 0, 1).shape, x.transpose(0, 2).shape
    ((6, 4), (4, 2, 3), (4, 3, 2))
    >>> x.unsqueeze(0).shape, x[:, :1].squeeze(1).shape, x.flatten(1).shape
    ((1, 2, 3, 4), (2, 4), (2, 12))
    >>> y = lucid.tensor([[1.0, 2.0, 3.0]])
    >>> y.flip(1).tolist(), y.repeat(2, 1).shape, y.expand(2, -1).shape
    ([[3.0, 2.0, 1.0]], (2, 3), (2, 3))
    >>> [t.tolist() for t in y.chunk(2, dim=1)], [t.shape for t in y.split([1, 2], dim=1)]
    ([[[1.0, 2.0]], [[3.0]]], [(1, 1), (1, 2)])
    """

    __slots__ = ()

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return self._apply(_reshaper(_shape_args(shape)), self)[0]

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """``reshape`` (a copy: JAX arrays are values, so it never aliases ``self``)."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        shape = self.shape
        if not shape:
            return self.reshape(1)
        start, end = _axis(start_dim, len(shape)), _axis(end_dim, len(shape))
        return self.reshape(shape[:start] + (int(np.prod(shape[start:end + 1])),)
                            + shape[end + 1:])

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        dims = _shape_args(dims)
        return self._apply(_permuter(tuple(_axis(d, self.ndim) for d in dims)), self)[0]

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        axes = list(range(self.ndim))
        a, b = _axis(dim0, self.ndim), _axis(dim1, self.ndim)
        axes[a], axes[b] = axes[b], axes[a]
        return self._apply(_permuter(tuple(axes)), self)[0]

    @property
    def T(self) -> Tensor:
        return self._apply(_permuter(tuple(reversed(range(self.ndim)))), self)[0]

    def unsqueeze(self, dim: int) -> Tensor:
        dim = _axis(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = _axis(dim, self.ndim)
        if not self.shape or self.shape[dim] != 1:
            return self.reshape(self.shape)
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def __getitem__(self, index: Any) -> Tensor:
        static, index_arrays = _parse_index(index, self.shape)
        return self._apply(_indexer(static), self, *index_arrays)[0]

    def flip(self, *dims: int | Sequence[int]) -> Tensor:
        """The values in reverse order along each of ``dims``."""
        axes = tuple(_axis(d, self.ndim) for d in _shape_args(dims))
        return self._apply(_flipper(axes), self)[0]

    def contiguous(self) -> Self:
        """``self``: JAX arrays have no strides, so every tensor is contiguous."""
        return self

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        """``self`` tiled ``sizes[i]`` times along each axis (new leading axes allowed)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        return self._apply(_tiler(sizes), self)[0]

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """``self`` broadcast to ``sizes`` (``-1`` keeps an axis; new axes go in front)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"expand(torch.FloatTensor{{{list(self.shape)}}}, size="
                               f"{list(sizes)}): the number of sizes provided ({len(sizes)}) must "
                               "be greater or equal to the number of dimensions in the tensor "
                               f"({self.ndim})")
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s
                      for i, s in enumerate(sizes))
        for i, (old, new) in enumerate(zip(self.shape, shape[lead:], strict=True)):
            if old != new and old != 1:
                raise RuntimeError(f"The expanded size of the tensor ({new}) must match the "
                                   f"existing size ({old}) at non-singleton dimension {i + lead}."
                                   f"  Target sizes: {list(sizes)}.  Tensor sizes: "
                                   f"{list(self.shape)}")
        return self._apply(_broadcaster(shape), self)[0]

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along ``dim``: each ``split_size`` long (the last shorter), or of the listed
        sizes (which must add up to the axis)."""
        dim = _axis(dim, self.ndim)
        size = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step <= 0 and size:
                raise RuntimeError("split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {size}")
            sections = [min(step, size - start) for start in range(0, size, step)]
        else:
            sections = [int(s) for s in split_size_or_sections]
            if sum(sections) != size or min(sections, default=0) < 0:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                                   f"{size} (input tensor's size at dimension {dim}), but got "
                                   f"split_sizes={sections}")
        starts = np.cumsum([0, *sections])
        lead = (slice(None),) * dim
        return tuple(self[(*lead, slice(int(a), int(b)))]
                     for a, b in zip(starts[:-1], starts[1:], strict=True))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most ``chunks`` pieces along ``dim``, each ``ceil(size / chunks)`` long."""
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        size = self.shape[_axis(dim, self.ndim)]
        return self.split(max(-(-size // chunks), 1), dim)
