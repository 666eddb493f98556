"""``lucid.nn.utils``: gradient clipping, as ``torch.nn.utils`` (one jitted kernel per call).

``foreach`` is accepted for PyTorch's signature; every call is already one fused kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import jax
import jax.numpy as jnp

from lucid._tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in parameters if p.grad is not None]


@functools.cache
def _clip_norm(norm_type: float) -> Callable:
    @jax.jit
    def clip(grads: list[jax.Array], max_norm: jax.Array
             ) -> tuple[jax.Array, list[jax.Array]]:
        # jnp's stubs say ord is an int or a str; any float norm (inf, 1.5) works
        norms = jnp.stack([jnp.linalg.vector_norm(g, ord=norm_type)  # type: ignore[arg-type]
                           for g in grads])
        total = jnp.linalg.vector_norm(norms, ord=norm_type)  # type: ignore[arg-type]
        coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
        return total, [(g * coef).astype(g.dtype) for g in grads]
    return clip


@jax.jit
def _clip_value(grads: list[jax.Array], clip_value: jax.Array) -> list[jax.Array]:
    return [jnp.clip(g, -clip_value, clip_value).astype(g.dtype) for g in grads]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their joint ``norm_type`` norm is at most
    ``max_norm``; returns that norm (before clipping), as PyTorch.

    >>> import lucid
    >>> w = lucid.nn.Parameter(lucid.tensor([3.0, 4.0]))
    >>> (w * w).sum().backward()
    >>> float(lucid.nn.utils.clip_grad_norm_([w], 1.0)), [round(g, 4) for g in w.grad.tolist()]
    (10.0, [0.6, 0.8])
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    total, clipped = _clip_norm(norm_type)([g._data for g in grads], float(max_norm))
    if error_if_nonfinite and not bool(jnp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    for grad, new in zip(grads, clipped, strict=True):
        grad._data = new
    return Tensor._wrap(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``, as PyTorch."""
    grads = _grads(parameters)
    if grads:
        for grad, new in zip(grads, _clip_value([g._data for g in grads], float(clip_value)),
                             strict=True):
            grad._data = new


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
