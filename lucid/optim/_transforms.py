"""The optax chains behind lucid's optimisers, and the two transforms optax lacks.

PyTorch's equations map onto optax as follows (``p <- p - lr * update``; ``lr`` and every
other hyperparameter are traced scalars read from the group each step, never baked in):

- SGD, ``dampening == 0``: ``add_decayed_weights(wd)`` then ``trace(momentum, nesterov)``,
  exact (the trace starts at 0, so the first buffer is the gradient, PyTorch's clone).
- SGD, ``dampening != 0``: PyTorch's first buffer is undampened, later ones are
  ``momentum * buf + (1 - dampening) * g``; ``optax.ema`` ties the two factors, so
  :func:`dampened_trace` is written here.
- Adam: ``add_decayed_weights(wd)`` (coupled L2) then ``scale_by_adam(b1, b2, eps,
  eps_root=0)``; AdamW: ``scale_by_adam`` then ``add_decayed_weights(wd)``, which equals
  PyTorch's ``p * (1 - lr * wd) - lr * m_hat / (sqrt(v_hat) + eps)``.
- amsgrad: PyTorch keeps the maximum of the raw second moment and divides by the current bias
  correction; ``optax.scale_by_amsgrad`` maxes the corrected one, so :func:`torch_amsgrad`
  is written here.

optax computes ``b ** t`` in float32 where PyTorch uses Python floats: updates agree to
float32 rounding, not bit for bit.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax


class DampenedTraceState(NamedTuple):
    trace: Any
    started: Any  # 0-d bool: False until the first step


def dampened_trace(momentum: Any, dampening: Any, nesterov: bool) -> optax.GradientTransformation:
    """PyTorch's SGD momentum buffer with dampening (the first buffer is the gradient)."""
    def init(params):
        return DampenedTraceState(jnp.zeros_like(params), jnp.zeros((), bool))

    def update(updates, state, params=None):
        buf = jnp.where(state.started, momentum * state.trace + (1 - dampening) * updates,
                        updates)
        out = updates + momentum * buf if nesterov else buf
        return out, DampenedTraceState(buf, jnp.ones((), bool))
    return optax.GradientTransformation(init, update)


class AmsgradState(NamedTuple):
    count: Any
    mu: Any
    nu: Any
    nu_max: Any


def torch_amsgrad(b1: Any, b2: Any, eps: Any) -> optax.GradientTransformation:
    """Adam with PyTorch's amsgrad: ``m_hat / (sqrt(max(v)) / sqrt(1 - b2**t) + eps)``."""
    def init(params):
        zeros = jnp.zeros_like(params)
        return AmsgradState(jnp.zeros((), jnp.int32), zeros, zeros, zeros)

    def update(g, state, params=None):
        count = state.count + 1
        mu = b1 * state.mu + (1 - b1) * g
        nu = b2 * state.nu + (1 - b2) * g * g
        nu_max = jnp.maximum(state.nu_max, nu)
        correction1 = 1 - b1 ** count.astype(g.dtype)
        correction2 = 1 - b2 ** count.astype(g.dtype)
        out = mu / correction1 / (jnp.sqrt(nu_max) / jnp.sqrt(correction2) + eps)
        return out, AmsgradState(count, mu, nu, nu_max)
    return optax.GradientTransformation(init, update)


def sgd_chain(momentum: Any, dampening: Any, weight_decay: Any, nesterov: bool,
              has_momentum: bool, dampened: bool) -> optax.GradientTransformation:
    parts = [optax.add_decayed_weights(weight_decay)]
    if has_momentum:
        parts.append(dampened_trace(momentum, dampening, nesterov) if dampened
                     else optax.trace(momentum, nesterov))
    return optax.chain(*parts)


def adam_chain(b1: Any, b2: Any, eps: Any, weight_decay: Any, decoupled: bool,
               amsgrad: bool) -> optax.GradientTransformation:
    adam = torch_amsgrad(b1, b2, eps) if amsgrad else optax.scale_by_adam(b1, b2, eps, 0.0)
    decay = optax.add_decayed_weights(weight_decay)
    return optax.chain(adam, decay) if decoupled else optax.chain(decay, adam)
