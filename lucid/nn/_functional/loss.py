"""Losses: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``cross_entropy``, the binary cross
entropies; each one fused kernel."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lucid._tensor import Tensor, apply

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(loss)
    return jnp.sum(loss) if reduction == "sum" else loss


@functools.cache
def _pointwise_kernel(kind: str, reduction: str) -> Callable:
    def loss(input: jax.Array, target: jax.Array) -> tuple[jax.Array, None]:
        diff = input - target
        return _reduce(diff * diff if kind == "mse" else jnp.abs(diff), reduction), None
    return loss


def _pointwise(kind: str, input: Any, target: Any, reduction: str) -> Tensor:
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the "
                      f"input size ({tuple(input.shape)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)
    return apply(_pointwise_kernel(kind, reduction), input, target)[0]


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed, or per-element) squared error, as ``torch.nn.functional.mse_loss``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.mse_loss(lucid.tensor([1.0, 3.0]), lucid.tensor([0.0, 0.0])).item()
    5.0
    """
    return _pointwise("mse", input, target, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed, or per-element) absolute error, as ``torch.nn.functional.l1_loss``."""
    return _pointwise("l1", input, target, reduction)


@functools.cache
def _cross_entropy_kernel(reduction: str, ignore_index: int, label_smoothing: float,
                          has_weight: bool, probabilities: bool) -> Callable:
    """PyTorch's cross entropy over axis 1 of logits ``(N, C, *d)`` (or unbatched ``(C,)``)."""
    def cross_entropy(logits: jax.Array, target: jax.Array, weight: Any) -> tuple[jax.Array, None]:
        unbatched = logits.ndim == 1
        if unbatched:
            logits, target = logits[None], target[None]
        classes = logits.shape[1]
        log_p = jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)),
                                   axis=1)
        w = weight.astype(log_p.dtype) if has_weight else jnp.ones((classes,), log_p.dtype)
        w_b = w.reshape((1, classes) + (1,) * (logits.ndim - 2))
        if probabilities:
            t = target.astype(log_p.dtype)
            t = t * (1 - label_smoothing) + label_smoothing / classes
            loss = -jnp.sum(log_p * t * w_b, axis=1)
            denominator: int | jax.Array = loss.size
        else:
            valid = target != ignore_index
            safe = jnp.where(valid, target, 0)
            picked = jnp.take_along_axis(log_p, safe[:, None], axis=1)[:, 0]
            weights = jnp.where(valid, w[safe], 0)
            loss = -picked * weights
            if label_smoothing:
                smooth = -jnp.sum(log_p * w_b, axis=1) * valid
                loss = (1 - label_smoothing) * loss + label_smoothing / classes * smooth
            denominator = jnp.sum(weights)
        loss = loss[0] if unbatched and reduction == "none" else loss
        if reduction == "mean":
            loss = jnp.sum(loss) / denominator
        elif reduction == "sum":
            loss = jnp.sum(loss)
        return loss.astype(logits.dtype), None
    return cross_entropy


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of logits ``(N, C, *d)`` against class indices ``(N, *d)`` or probabilities.

    As ``torch.nn.functional.cross_entropy``: ``weight`` rescales each class and the mean is
    divided by the sum of the targets' weights; targets equal to ``ignore_index`` count for
    nothing; ``label_smoothing`` mixes in the uniform distribution.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> logits = lucid.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> round(F.cross_entropy(logits, lucid.tensor([0, 1])).item(), 4)
    0.1269
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    probabilities = jnp.issubdtype(jnp.result_type(target.dtype), jnp.floating)
    kernel = _cross_entropy_kernel(reduction, int(ignore_index), float(label_smoothing),
                                   weight is not None, bool(probabilities))
    return apply(kernel, input, target, weight)[0]


def _clamped_logs(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``log(x)`` and ``log(1 - x)``, each clamped at -100 as PyTorch clamps them."""
    return jnp.maximum(jnp.log(x), -100), jnp.maximum(jnp.log1p(-x), -100)


@jax.custom_vjp
def _bce_elementwise(x: jax.Array, t: jax.Array) -> jax.Array:
    """Binary cross entropy of probabilities ``x`` against targets ``t``, per element, with
    PyTorch's backward: ``(x - t) / max(x (1 - x), 1e-12)``, finite where ``x`` is exactly 0
    or 1 (the derivative of the clamped logs would be 0 * inf = NaN there)."""
    log_x, log_1mx = _clamped_logs(x)
    return -(t * log_x + (1 - t) * log_1mx)


def _bce_forward(x: jax.Array, t: jax.Array
                 ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _bce_elementwise(x, t), (x, t)


def _bce_backward(residuals: tuple[jax.Array, jax.Array], g: jax.Array
                  ) -> tuple[jax.Array, jax.Array]:
    x, t = residuals  # the target's gradient uses unclamped logs, as PyTorch's does
    return g * (x - t) / jnp.maximum(x * (1 - x), 1e-12), g * (jnp.log1p(-x) - jnp.log(x))


_bce_elementwise.defvjp(_bce_forward, _bce_backward)


@functools.cache
def _binary_kernel(kind: str, reduction: str, has_weight: bool, has_pos_weight: bool
                   ) -> Callable:
    """Binary cross entropy on probabilities (``"bce"``) or logits (``"logits"``), fused."""
    def binary_cross_entropy(input: jax.Array, target: jax.Array, weight: Any,
                             pos_weight: Any) -> tuple[jax.Array, None]:
        if kind == "logits":
            # PyTorch's stable form: (1 - t) x + (1 + (pw - 1) t) (log1p(e^-|x|) + max(-x, 0))
            softplus = jnp.log1p(jnp.exp(-jnp.abs(input))) + jnp.maximum(-input, 0)
            scale = 1 + (pos_weight - 1) * target if has_pos_weight else 1
            loss = (1 - target) * input + scale * softplus
        else:
            loss = _bce_elementwise(input, target)
        loss = loss * weight if has_weight else loss
        return _reduce(loss, reduction).astype(input.dtype), None
    return binary_cross_entropy


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross entropy of logits against targets in ``[0, 1]``, computed stably.

    As ``torch.nn.functional.binary_cross_entropy_with_logits``: ``weight`` rescales each
    element, ``pos_weight`` the positive term (per class, broadcast along the last axis).

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> round(F.binary_cross_entropy_with_logits(lucid.zeros(3), lucid.ones(3)).item(), 4)
    0.6931
    """
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size (torch.Size({list(target.shape)})) must be the same as "
                         f"input size (torch.Size({list(input.shape)}))")
    kernel = _binary_kernel("logits", reduction, weight is not None, pos_weight is not None)
    return apply(kernel, input, target, weight, pos_weight)[0]


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross entropy of probabilities, each log clamped at -100, as PyTorch.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> round(F.binary_cross_entropy(lucid.tensor([0.5, 0.5]), lucid.ones(2)).item(), 4)
    0.6931
    """
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size (torch.Size({list(target.shape)})) that is "
                         f"different to the input size (torch.Size({list(input.shape)})) is "
                         "deprecated. Please ensure they have the same size.")
    kernel = _binary_kernel("bce", reduction, weight is not None, False)
    return apply(kernel, input, target, weight, None)[0]


@functools.cache
def _smooth_l1_kernel(reduction: str, beta: float) -> Callable:
    def smooth_l1(input: jax.Array, target: jax.Array) -> tuple[jax.Array, None]:
        diff = jnp.abs(input - target)
        loss = diff if beta == 0 else jnp.where(diff < beta, 0.5 * diff * diff / beta,
                                                diff - 0.5 * beta)
        return _reduce(loss, reduction), None
    return smooth_l1


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Squared error below ``beta``, absolute error above it (Huber's shape), as PyTorch.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.smooth_l1_loss(lucid.tensor([0.5, 3.0]), lucid.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return apply(_smooth_l1_kernel(reduction, float(beta)), input, target)[0]
