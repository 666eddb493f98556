"""``LazyModuleMixin``: a layer that takes its sizes from its first input.

Until then its per-feature parameters and buffers are placeholders
(:class:`~lucid.nn.UninitializedParameter`, :class:`~lucid.nn.UninitializedBuffer`); the first
call fills them in place and the module becomes its eager class (``cls_to_become``), so an
optimiser built before that trains them. A failed first call leaves it lazy and unchanged. A
subclass that can also take its sizes from a checkpoint overrides
:meth:`~lucid.nn.Module._prepare_load` (the Lazy instance norms do; a failed load undoes it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jax.typing import ArrayLike

from lucid.nn.module import Module
from lucid.nn.parameter import _Uninitialized


class LazyModuleMixin(Module):
    """Lazy behaviour for any layer: list it before the eager class, set ``cls_to_become`` and
    implement :meth:`initialize_parameters`.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> from lucid.nn.lazy import LazyModuleMixin
    >>> lazy = nn.LazyInstanceNorm1d(affine=True)
    >>> isinstance(lazy, LazyModuleMixin), lazy.has_uninitialized_params()
    (True, True)
    >>> _ = lazy(lucid.randn(2, 3, 8))
    >>> type(lazy).__name__, lazy.weight.shape
    ('InstanceNorm1d', (3,))
    """

    cls_to_become: type[Module]

    def initialize_parameters(self, input: Any) -> Callable[[], None]:
        """Take the sizes from ``input`` and :meth:`_materialize`; returns the undo."""
        raise NotImplementedError

    def forward(self, input: Any) -> Any:
        """Materialise for ``input``, then run the eager class's ``forward`` on it."""
        lazy_class = type(self)
        undo = self.initialize_parameters(input)
        if type(self) is lazy_class:  # its forward would be this one again, forever
            undo()
            raise RuntimeError(f"{lazy_class.__name__}.initialize_parameters did not make the "
                               "module its eager class; it must call _materialize")
        try:
            return self.forward(input)
        except Exception:  # a failed first call leaves the module lazy, as it was
            undo()
            raise

    def _materialize(self, values: dict[str, ArrayLike]) -> Callable[[], None]:
        """Fill the placeholder named by each key with its value and become
        ``cls_to_become``; returns the undo."""
        lazy_class = type(self)
        filled = []
        for name, value in values.items():
            placeholder = getattr(self, name)
            filled.append((placeholder, type(placeholder), placeholder._storage.array))
            placeholder.materialize(value)
        object.__setattr__(self, "__class__", self.cls_to_become)  # in place: same identity

        def undo() -> None:
            object.__setattr__(self, "__class__", lazy_class)
            for placeholder, kind, empty in filled:
                placeholder._storage.array, placeholder.__class__ = empty, kind
        return undo

    def has_uninitialized_params(self) -> bool:
        """PyTorch's test: whether this module holds a placeholder (lucid's
        :meth:`~lucid.nn.Module.has_uninitialized_parameters` also counts a Lazy module
        without any)."""
        return any(isinstance(getattr(self, name), _Uninitialized)
                   for name in (*self._parameter_names, *self._buffer_names))

    def _waiting_for_sizes(self) -> bool:
        return True

    def reset_parameters(self) -> None:
        """Nothing to reset before the sizes are known (PyTorch's Lazy modules skip it too)."""
