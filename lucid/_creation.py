"""Factories: ``tensor``, ``randn``, ``rand``, ``zeros``, ``ones``; the seeded generator."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lucid._ops.shape import _shape_args as _shape
from lucid._tensor import Tensor, check_dtype

float32 = jnp.float32
_key = jax.random.key(0)


def manual_seed(seed: int) -> jax.Array:
    """Reset the generator behind :func:`randn`: the same seed gives the same tensors.

    >>> import lucid
    >>> _ = lucid.manual_seed(7); a = lucid.randn(3)
    >>> _ = lucid.manual_seed(7); b = lucid.randn(3)
    >>> bool((a.numpy() == b.numpy()).all())
    True
    """
    global _key
    _key = jax.random.key(seed)
    return _key


def next_key() -> jax.Array:
    """A fresh key from the generator that :func:`manual_seed` resets."""
    global _key
    _key, key = jax.random.split(_key)
    return key


def rand(*shape: int, requires_grad: bool = False, dtype: Any = None,
         device: Any = None) -> Tensor:
    """Uniform samples in ``[0, 1)`` of the given shape."""
    dtype = check_dtype(dtype) or float32
    return _factory(jax.random.uniform(next_key(), _shape(shape), dtype), requires_grad, device)


def _factory(array: jax.Array, requires_grad: bool, device: Any) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, device=device)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor from nested lists, a scalar, or a NumPy/JAX/PyTorch array.

    >>> import lucid
    >>> lucid.tensor([1.0, 2.0])
    Tensor([1.0, 2.0], grad=None)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def randn(*shape: int, requires_grad: bool = False, dtype: Any = None,
          device: Any = None) -> Tensor:
    """Standard normal samples of the given shape (``randn(2, 3)`` or ``randn((2, 3))``)."""
    dtype = check_dtype(dtype) or float32
    return _factory(jax.random.normal(next_key(), _shape(shape), dtype), requires_grad, device)


def zeros(*shape: int, requires_grad: bool = False, dtype: Any = None,
          device: Any = None) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise)."""
    return _factory(jnp.zeros(_shape(shape), check_dtype(dtype) or float32), requires_grad,
                    device)


def ones(*shape: int, requires_grad: bool = False, dtype: Any = None,
         device: Any = None) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise)."""
    return _factory(jnp.ones(_shape(shape), check_dtype(dtype) or float32), requires_grad,
                    device)


