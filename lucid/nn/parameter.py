"""``Parameter`` and the placeholders a Lazy module holds until its sizes are known.

``UninitializedParameter`` / ``UninitializedBuffer`` are real objects, so an optimiser built
before the first call trains them; :meth:`~_Uninitialized.materialize` turns them into ordinary
tensors in place, keeping their identities.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lucid._autograd import owned_array
from lucid._tensor import Tensor, check_dtype, resolve_device


class Parameter(Tensor):
    """A tensor that a :class:`~lucid.nn.Module` registers as a parameter; requires grad by
    default.

    >>> import lucid
    >>> from lucid.nn import Parameter
    >>> Parameter(lucid.ones(2))
    Parameter([1.0, 1.0], grad=None)
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)


class UninitializedParameterWarning(UserWarning):
    """``parameters()`` is listing a Lazy module's placeholders, whose shape is still ``(0,)``."""


class _Uninitialized(Tensor):
    """A placeholder's behaviour: shape ``(0,)``, no values, and in-place materialisation.

    Any operation on it raises PyTorch's ``ValueError``; its ``shape`` and ``dtype`` can be
    read. :meth:`materialize` gives it values and turns it into the class it stands for,
    keeping its identity.
    """

    __slots__ = ()
    cls_to_become: type[Tensor]

    def __init__(self, requires_grad: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        empty = np.zeros((0,), check_dtype(dtype) or jnp.float32)
        Tensor.__init__(self, empty, requires_grad=requires_grad, device=device)

    @property
    def _data(self) -> jax.Array:
        raise ValueError(
            f"Attempted to use an uninitialized {self._kind}. This error happens when you are "
            "using a `LazyModule` or explicitly manipulating `lucid.nn.UninitializedParameter` "
            "objects. When using LazyModules call `forward` with a dummy batch (or "
            "`load_state_dict`) to initialize the parameters before using them"
        )

    @_data.setter
    def _data(self, array: jax.Array) -> None:
        self._storage.array = array
        self._storage.version += 1

    @property
    def _kind(self) -> str:
        return "parameter" if isinstance(self, Parameter) else "buffer"

    @property
    def shape(self) -> tuple[int, ...]:
        return self._storage.array.shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._storage.array.dtype

    def detach(self) -> Tensor:
        """A new placeholder of the same kind and dtype: a state dict's entry for this one."""
        return type(self)(requires_grad=False, dtype=self.dtype)

    def materialize(self, array: Any) -> None:
        """Hold ``array`` (cast to this dtype) and become a ``cls_to_become``, in place."""
        self._data = owned_array(array, self.dtype)
        object.__setattr__(self, "__class__", self.cls_to_become)  # in place: same identity

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A Lazy module's parameter before its size is known; a ``Parameter`` once materialised.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyInstanceNorm1d(affine=True)
    >>> lazy.weight, lazy.weight.shape, lazy.has_uninitialized_parameters()
    (<UninitializedParameter>, (0,), True)
    >>> weight = lazy.weight
    >>> _ = lazy(lucid.randn(2, 3, 8))
    >>> weight is lazy.weight, type(weight).__name__, weight.shape
    (True, 'Parameter', (3,))
    """

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(requires_grad, device, dtype)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A Lazy module's buffer (running statistics) before its size is known."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(requires_grad, device, dtype)


def _empty(shape: tuple[int, ...], device: Any, dtype: Any) -> Parameter:
    """A zero Parameter of ``shape`` for a layer's ``reset_parameters`` to fill (PyTorch's
    ``Parameter(torch.empty(...))``)."""
    return Parameter(Tensor(np.zeros(shape, check_dtype(dtype) or jnp.float32),
                            device=resolve_device(device)))
