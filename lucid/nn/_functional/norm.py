"""``batch_norm`` and ``group_norm`` on the core's accurate moments (:mod:`lucid_jax._stats`).

Batch norm reduces over every axis but the channels; group norm over each group of channels
and the spatial axes. Both normalise with the core's ``standardize`` (statistics in >= float32,
a shifted variance, the closed-form derivative), so no second copy of the moment math exists.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lucid._tensor import apply
from lucid_jax import _stats

Stats = tuple[jax.Array, jax.Array]


def _channel_shape(x: jax.Array) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


@functools.cache
def _batch_norm_kernel(training: bool, update: bool,
                       eps: float) -> Callable[..., tuple[jax.Array, Stats | None]]:
    """``(x, running_mean, running_var, weight, bias, factor) -> (y, new running stats)``.

    With ``update``, ``factor`` (traced) is the weight of the new batch in the running
    statistics' update (PyTorch's momentum, or ``1/n`` for the cumulative average); the update
    reads the moments that normalised the batch.
    """
    def batch_norm(x: jax.Array, running_mean: jax.Array, running_var: jax.Array,
                   weight: jax.Array | None, bias: jax.Array | None,
                   factor: jax.Array) -> tuple[jax.Array, Stats | None]:
        shape = _channel_shape(x)
        w = None if weight is None else weight.reshape(shape)
        b = None if bias is None else bias.reshape(shape)
        axes = (0, *range(2, x.ndim))
        if training:
            y, stats = _stats.standardize(x, w, b, None, axes, None, eps)
        else:
            stats_dtype = _stats.compute_dtype(x.dtype)
            inv = jax.lax.rsqrt(running_var.astype(stats_dtype).reshape(shape) + eps)
            y = _stats.affine((x - running_mean.reshape(shape)) * inv, w, b)
        new_stats = None
        if update:  # only in training
            mean, var = stats.mean.reshape(-1), stats.unbiased_var.reshape(-1)
            new_mean, new_var = ((old + factor * (new - old)).astype(old.dtype)
                                 for old, new in ((running_mean, mean), (running_var, var)))
            new_stats = (new_mean, new_var)
        return y.astype(x.dtype), new_stats
    return batch_norm


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Any:
    """Batch normalisation of ``(N, C, *)`` over all axes but ``C``, as PyTorch.

    With ``training`` the batch's statistics normalise and, when given, ``running_mean`` and
    ``running_var`` move towards them (the variance unbiased) in place; otherwise the running
    statistics normalise.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> mean, var = lucid.zeros(2), lucid.ones(2)
    >>> y = F.batch_norm(lucid.randn(64, 2) * 3 + 5, mean, var, training=True)
    >>> bool(abs(y.mean(dim=0)).max() < 1e-5), bool((mean.numpy() > 0.3).all())
    (True, True)
    """
    return batch_norm_update(input, running_mean, running_var, weight, bias, training, eps,
                             momentum)


def batch_norm_update(input: Any, running_mean: Any, running_var: Any, weight: Any, bias: Any,
                      training: bool, eps: float,
                      factor: float | jax.Array | None) -> Any:
    """``batch_norm`` whose update gives the new batch the weight ``factor`` (``None``: no
    update); every check runs before anything is written."""
    if training and (running_mean is None) != (running_var is None):  # PyTorch checks in training
        raise ValueError("running_mean and running_var must either both be None or neither be "
                         "None")
    shape = tuple(input.shape)
    if training:
        if shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size torch.Size({list(shape)})")
    else:
        for name, value in (("running_mean", running_mean), ("running_var", running_var)):
            if value is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != (shape[1],):
            raise RuntimeError(f"{name} should contain {shape[1]} elements not "
                               f"{math.prod(value.shape)}")
    update = bool(training) and running_mean is not None and factor is not None
    kernel = _batch_norm_kernel(bool(training), update, float(eps))
    output, new_stats = apply(kernel, input, running_mean, running_var, weight, bias,
                              jnp.asarray(factor if update else 0.0, jnp.float32))
    if new_stats is not None:
        running_mean._data, running_var._data = new_stats
    return output


@functools.cache
def _group_norm_kernel(groups: int, eps: float) -> Callable[..., tuple[jax.Array, None]]:
    def group_norm(x: jax.Array, weight: jax.Array | None,
                   bias: jax.Array | None) -> tuple[jax.Array, None]:
        grouped = x.reshape(x.shape[0], groups, -1)
        y = _stats.standardize(grouped, None, None, None, (2,), None, eps)[0].reshape(x.shape)
        shape = _channel_shape(x)
        y = _stats.affine(y, None if weight is None else weight.reshape(shape),
                          None if bias is None else bias.reshape(shape))
        return y.astype(x.dtype), None
    return group_norm


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Normalise each group of ``C // num_groups`` channels of each sample, as PyTorch.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> y = F.group_norm(lucid.randn(2, 4, 3) * 5 + 1, 2)
    >>> bool(abs(y.reshape(2, 2, 6).mean(dim=2)).max() < 1e-5)
    True
    """
    shape = tuple(input.shape)
    if len(shape) < 2 or shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(shape)} and num_groups="
                           f"{num_groups}")
    return apply(_group_norm_kernel(int(num_groups), float(eps)), input, weight, bias)[0]
