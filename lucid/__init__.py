"""lucid: a small stateful facade over ``lucid_jax`` with the documented lucid API.

``Tensor`` (with ``backward()`` and ``.grad``), the factories ``tensor``, ``randn``, ``zeros``,
``ones``, ``manual_seed``, ``no_grad``, dtypes, and :mod:`lucid.nn`. The normalisation math is
the core's (:mod:`lucid_jax`); this package holds state and records gradients.

>>> import lucid
>>> _ = lucid.manual_seed(0)
>>> x = lucid.randn(2, 3)
>>> x.shape, x.dtype == lucid.float32
((2, 3), True)

``float64`` (and ``int64``) need JAX's 64-bit mode; without it asking for them is an error,
not a silent float32: ``jax.config.update("jax_enable_x64", True)`` at startup.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lucid._tensor import Tensor, check_dtype, no_grad
from lucid._tensor import _shape_args as _shape
from lucid_jax import __version__  # one version for the distribution and both packages

float16 = jnp.float16
bfloat16 = jnp.bfloat16
float32 = jnp.float32
float64 = jnp.float64
int32 = jnp.int32
int64 = jnp.int64
bool_ = jnp.bool_

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
    global _key
    dtype = check_dtype(dtype) or float32
    _key, key = jax.random.split(_key)
    return _factory(jax.random.normal(key, _shape(shape), dtype), requires_grad, device)


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


from lucid import nn  # noqa: E402  (after the names lucid.nn imports from here)

__all__ = [
    "Tensor", "tensor", "randn", "zeros", "ones", "manual_seed", "no_grad", "nn",
    "float16", "bfloat16", "float32", "float64", "int32", "int64", "bool_", "__version__",
]
