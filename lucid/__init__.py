"""lucid: a small stateful facade over ``lucid_jax`` with the documented lucid API.

``Tensor`` (with ``backward()``, ``.grad`` and in-place ops), the factories ``tensor``,
``randn``, ``rand``, ``zeros``, ``ones``, ``arange`` (and ``*_like``), ``cat``/``stack``,
``manual_seed``, ``device``, the functions that mirror Tensor methods (``tanh``, ``mean``,
``where``, ``allclose``...), the thread-local grad mode
(``no_grad``, ``enable_grad``, ``set_grad_enabled``), dtypes, :mod:`lucid.nn`,
:mod:`lucid.optim`, and ``save``/``load`` (``.npz``, never pickle). The normalisation math is
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

import jax.numpy as jnp

from lucid import autograd, nn, optim  # noqa: I001  (the subpackages after the names they re-export)
from lucid._autograd import enable_compilation_cache
from lucid._creation import (
    arange,
    from_numpy,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from lucid._device import device
from lucid._functions import (
    abs,
    allclose,
    cat,
    clamp,
    exp,
    flatten,
    log,
    matmul,
    maximum,
    mean,
    minimum,
    relu,
    sigmoid,
    stack,
    sum,
    tanh,
    where,
)
from lucid._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from lucid._tensor import Tensor
from lucid.serialization import load, save
from lucid_jax import __version__  # one version for the distribution and both packages

float16 = jnp.float16
bfloat16 = jnp.bfloat16
float32 = jnp.float32
float64 = jnp.float64
int32 = jnp.int32
int64 = jnp.int64
bool_ = jnp.bool_

__all__ = [
    "Tensor", "tensor", "from_numpy", "randn", "rand", "zeros", "ones", "arange", "zeros_like",
    "ones_like", "randn_like", "cat", "stack", "manual_seed", "autograd", "nn", "optim",
    "save", "load", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "enable_compilation_cache", "device", "relu", "tanh", "sigmoid", "exp", "log", "abs", "mean",
    "sum", "clamp", "where", "flatten", "allclose", "maximum", "minimum", "matmul",
    "float16", "bfloat16", "float32", "float64", "int32", "int64", "bool_", "__version__",
]
