"""``lucid.nn.functional``: the functions behind the layers, on lucid tensors.

``instance_norm`` and ``adain`` call the core (:mod:`lucid_jax`); activations, ``linear``,
``pad``, convolutions, pooling, resampling, dropout, batch and group norm (on the core's
moments) and losses live in :mod:`lucid.nn._functional`. Each is one cached,
jitted kernel per setting, differentiable through the tape, never retraced for the same
shapes and settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

import lucid_jax
from lucid._functions import _tensor
from lucid._tensor import Tensor, apply, type_name
from lucid.nn._functional.activation import leaky_relu, relu, sigmoid, tanh
from lucid.nn._functional.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from lucid.nn._functional.dropout import dropout, dropout2d
from lucid.nn._functional.linear import linear
from lucid.nn._functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from lucid.nn._functional.norm import batch_norm, group_norm
from lucid.nn._functional.padding import pad
from lucid.nn._functional.pooling import (
    adaptive_avg_pool2d,
    avg_pool2d,
    max_pool2d,
    max_unpool2d,
)
from lucid.nn._functional.upsampling import interpolate
from lucid_jax._functional import instance_norm_and_update

__all__ = [
    "instance_norm", "adain", "relu", "leaky_relu", "tanh", "sigmoid", "softmax",
    "log_softmax", "linear", "pad", "conv1d", "conv2d", "conv3d", "mse_loss", "l1_loss",
    "cross_entropy", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "dropout",
    "dropout2d", "binary_cross_entropy", "binary_cross_entropy_with_logits", "smooth_l1_loss",
    "batch_norm", "group_norm", "adaptive_avg_pool2d", "avg_pool2d", "max_pool2d", "max_unpool2d",
    "interpolate",
]


def softmax(input: Any, dim: int) -> Tensor:
    """``input.softmax(dim)``: probabilities along ``dim``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.softmax(lucid.tensor([[0.0, 0.0]]), dim=1).tolist()
    [[0.5, 0.5]]
    """
    return _tensor(input).softmax(dim)


def log_softmax(input: Any, dim: int) -> Tensor:
    """``input.log_softmax(dim)``: log-probabilities along ``dim``, computed stably."""
    return _tensor(input).log_softmax(dim)


@functools.cache
def _instance_norm_kernel(use_input_stats: bool, momentum: float | None, eps: float,
                          unbatched: bool) -> Callable:
    """``(x, running_mean, running_var, weight, bias) -> (output, new running stats or None)``.

    ``momentum`` is ``None`` when nothing is updated: then it is neither used nor checked (as
    in PyTorch, an unused momentum is never an error). ``unbatched`` adds and removes the
    batch axis (PyTorch's ``(C, *spatial)`` input).
    """
    def kernel(x: jax.Array, running_mean: Any, running_var: Any, weight: Any, bias: Any
               ) -> tuple[jax.Array, Any]:
        batched = x[None] if unbatched else x
        new_stats = None
        if momentum is None:
            output = lucid_jax.instance_norm(batched, running_mean, running_var, weight, bias,
                                             use_input_stats, eps=eps)
        else:
            output, new_stats = instance_norm_and_update(batched, running_mean, running_var,
                                                         weight, bias, momentum, eps)
        return (output[0] if unbatched else output), new_stats
    return kernel


def instance_norm_updating_stats(x: Any, running_mean: Tensor | None, running_var: Tensor | None,
              weight: Any, bias: Any, use_input_stats: bool, momentum: float, eps: float,
              unbatched: bool = False) -> Tensor:
    """Instance-normalise ``x`` and write the new running statistics into the given tensors.

    The running statistics change only after the kernel succeeded, so a failed call (a bad
    shape, a single spatial element, an invalid momentum) leaves them exactly as they were.
    ``momentum`` is used, and checked, only when they are updated.
    """
    if (running_mean is None) != (running_var is None):
        raise ValueError(
            "running_mean and running_var are given together or not at all, got "
            f"running_mean={'None' if running_mean is None else 'a tensor'} and "
            f"running_var={'None' if running_var is None else 'a tensor'}"
        )
    update = bool(use_input_stats) and running_mean is not None
    if update and not (isinstance(running_mean, Tensor) and isinstance(running_var, Tensor)):
        raise TypeError(
            "use_input_stats=True updates running_mean and running_var in place, so they must "
            f"be lucid.Tensor, got running_mean={type_name(running_mean)} and "
            f"running_var={type_name(running_var)}; pass lucid.Tensor running statistics, or "
            "use_input_stats=False to normalise with them, or lucid_jax.update_running_stats "
            "for pure code"
        )
    kernel = _instance_norm_kernel(bool(use_input_stats), momentum if update else None, eps,
                                   unbatched)
    output, new_stats = apply(kernel, x, running_mean, running_var, weight, bias)
    if new_stats is not None and running_mean is not None and running_var is not None:
        running_mean._data, running_var._data = new_stats
    return output


def instance_norm(x: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalisation of ``x`` of shape ``(N, C, *spatial)``, as ``torch.nn.functional``.

    ``y = (x - mean[n, c]) / sqrt(var[n, c] + eps) * weight[c] + bias[c]`` with each instance's
    own mean and biased variance when ``use_input_stats`` (the default), else ``running_mean``
    and ``running_var``. Like PyTorch, with ``use_input_stats=True`` the given running
    statistics are updated in place (momentum is the weight of the new batch's statistics,
    the variance unbiased), so they must then be lucid Tensors (a ``TypeError`` says so
    before any work); plain arrays are fine with ``use_input_stats=False``. ``momentum`` is
    used only for that update. Differentiable in ``x``, ``weight`` and ``bias``.

    >>> import lucid
    >>> from lucid.nn.functional import instance_norm
    >>> x = lucid.randn(4, 3, 64, 64)
    >>> y = instance_norm(x)
    >>> y.shape
    (4, 3, 64, 64)
    >>> mean, var = lucid.zeros(3), lucid.ones(3)
    >>> _ = lucid.manual_seed(0)
    >>> _ = instance_norm(lucid.ones(2, 3, 4) * 5 + lucid.randn(2, 3, 4), mean, var)
    >>> bool((mean.numpy() > 0.4).all())                # moved towards the inputs' mean of ~5
    True
    """
    return instance_norm_updating_stats(x, running_mean, running_var, weight, bias,
                                        use_input_stats, 0.0 if momentum is None else momentum,
                                        eps)


@functools.cache
def _adain_kernel(eps: float) -> Callable:
    return lambda content, style: (lucid_jax.adain(content, style, eps), None)


def adain(content: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """Adaptive instance normalisation: ``content`` with each instance's style mean and std.

    Differentiable in both ``content`` and ``style`` (see :func:`lucid_jax.adain`).

    >>> import lucid
    >>> from lucid.nn.functional import adain
    >>> content = lucid.randn(2, 3, 16, 16, requires_grad=True)
    >>> style = lucid.randn(2, 3, 8, 8) * 4 + 1
    >>> out = adain(content, style)
    >>> out.shape, out.requires_grad
    ((2, 3, 16, 16), True)
    """
    return apply(_adain_kernel(eps), content, style)[0]
