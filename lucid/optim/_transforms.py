"""The optax chains behind lucid's optimisers, and the two transforms optax lacks.

Each optimiser is an ``optax.named_chain``, so each part of its state has a name
(``state["momentum"].trace``, ``state["adam"].mu``), and every part maps over the whole
parameter tree. The chains are factories of their hyperparameters: the optimiser builds one
inside its jitted step from the group's values, which are traced scalars, so a new learning
rate (a scheduler's write) never recompiles. (``optax.inject_hyperparams`` would keep them in
the state, but casts them to the first parameter's dtype, rounding the betas of a bfloat16
model, and casts differently from one optax release to the next.) PyTorch's equations map
onto them as follows (the last part, ``learning_rate``, gives ``p <- p - lr * update``):

- SGD: ``maximize`` (negate), ``weight_decay`` (``g + wd * p``, :func:`add_weight_decay`),
  ``momentum``, ``learning_rate``.
  Without dampening the momentum is ``optax.trace(momentum, nesterov)``, exact: the trace starts
  at 0, so the first buffer is the gradient, PyTorch's clone. With dampening PyTorch's first
  buffer is undampened and later ones are ``momentum * buf + (1 - dampening) * g``;
  ``optax.ema`` ties the two factors, so :func:`dampened_trace` is written here.
- Adam: ``maximize``, ``weight_decay`` (coupled L2), ``adam``, ``learning_rate``; AdamW moves
  ``weight_decay`` after ``adam``, which gives PyTorch's
  ``p * (1 - lr * wd) - lr * m_hat / (sqrt(v_hat) + eps)``. ``adam`` is
  :func:`scale_by_torch_adam`: PyTorch counts steps per parameter (a parameter without a
  gradient is skipped), where ``optax.scale_by_adam`` keeps one count for the tree, and
  PyTorch's amsgrad keeps the maximum of the raw second moment where
  ``optax.scale_by_amsgrad`` maxes the corrected one.

``b ** t`` is computed in float32 where PyTorch uses Python floats: updates agree to float32
rounding, not bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import optax

Scalar = float | jax.Array  # a hyperparameter: a traced scalar inside the jitted step


class DampenedTraceState(NamedTuple):
    trace: optax.Updates
    started: optax.Updates  # per parameter, a 0-d bool: whether it has a buffer yet


def dampened_trace(momentum: Scalar, dampening: Scalar) -> optax.GradientTransformation:
    """PyTorch's SGD momentum buffer with dampening (the first buffer is the gradient; PyTorch
    refuses Nesterov with dampening)."""
    def init(params: optax.Params) -> DampenedTraceState:
        return DampenedTraceState(jax.tree.map(jnp.zeros_like, params),
                                  jax.tree.map(lambda _: jnp.zeros((), bool), params))

    def update(updates: optax.Updates, state: optax.OptState,
               params: optax.Params | None = None) -> tuple[optax.Updates, DampenedTraceState]:
        previous = cast(DampenedTraceState, state)

        def buffer(g: jax.Array, buf: jax.Array, started: jax.Array) -> jax.Array:
            return jnp.where(started, momentum * buf + (1 - dampening) * g, g)

        trace = jax.tree.map(buffer, updates, previous.trace, previous.started)
        return trace, DampenedTraceState(trace, jax.tree.map(jnp.ones_like, previous.started))
    return optax.GradientTransformation(init, update)


class TorchAdamState(NamedTuple):
    step: optax.Updates  # per parameter, a 0-d float32
    mu: optax.Updates
    nu: optax.Updates


class TorchAmsgradState(NamedTuple):
    step: optax.Updates
    mu: optax.Updates
    nu: optax.Updates
    nu_max: optax.Updates  # the running maximum of ``nu``


def scale_by_torch_adam(b1: Scalar, b2: Scalar, eps: Scalar,
                        amsgrad: bool) -> optax.GradientTransformation:
    """PyTorch's Adam direction ``(m / c1) / (sqrt(v) / sqrt(c2) + eps)``, with
    ``c = 1 - b ** step`` per parameter and ``v`` the running maximum under amsgrad."""
    def init(params: optax.Params) -> TorchAdamState | TorchAmsgradState:
        def zeros() -> optax.Updates:
            return jax.tree.map(jnp.zeros_like, params)
        step = jax.tree.map(lambda _: jnp.zeros((), jnp.float32), params)
        return TorchAmsgradState(step, zeros(), zeros(), zeros()) if amsgrad \
            else TorchAdamState(step, zeros(), zeros())

    def update(updates: optax.Updates, state: optax.OptState, params: optax.Params | None = None
               ) -> tuple[optax.Updates, TorchAdamState | TorchAmsgradState]:
        previous = cast(TorchAdamState | TorchAmsgradState, state)
        step = jax.tree.map(lambda t: t + 1, previous.step)
        mu = jax.tree.map(lambda g, m: b1 * m + (1 - b1) * g, updates, previous.mu)
        nu = jax.tree.map(lambda g, v: b2 * v + (1 - b2) * g * g, updates, previous.nu)

        def direction(m: jax.Array, v: jax.Array, t: jax.Array) -> jax.Array:
            c1 = (1 - b1 ** t).astype(m.dtype)
            c2 = (1 - b2 ** t).astype(m.dtype)
            return m / c1 / (jnp.sqrt(v) / jnp.sqrt(c2) + eps)

        if isinstance(previous, TorchAmsgradState):
            nu_max = jax.tree.map(jnp.maximum, previous.nu_max, nu)
            return (jax.tree.map(direction, mu, nu_max, step),
                    TorchAmsgradState(step, mu, nu, nu_max))
        return jax.tree.map(direction, mu, nu, step), TorchAdamState(step, mu, nu)
    return optax.GradientTransformation(init, update)


def add_weight_decay(weight_decay: Scalar) -> optax.GradientTransformation:
    """``g + wd * p``, or ``g`` itself when ``wd`` is 0: PyTorch skips a zero decay, so
    ``0 * inf`` never turns an infinite parameter into nan. ``wd`` stays traced: a new value
    recompiles nothing."""
    def init(params: optax.Params) -> optax.EmptyState:
        return optax.EmptyState()

    def update(updates: optax.Updates, state: optax.OptState,
               params: optax.Params | None = None) -> tuple[optax.Updates, optax.OptState]:
        def decayed(g: jax.Array, p: jax.Array) -> jax.Array:
            return jnp.where(weight_decay != 0, g + weight_decay * p, g)
        return jax.tree.map(decayed, updates, params), state
    return optax.GradientTransformation(init, update)


def _maximize(maximize: bool) -> optax.GradientTransformation:
    return optax.scale(-1.0) if maximize else optax.identity()


def sgd(learning_rate: Scalar, momentum: Scalar, dampening: Scalar, weight_decay: Scalar, *,
        nesterov: bool, maximize: bool, has_momentum: bool,
        dampened: bool) -> optax.GradientTransformation:
    """PyTorch's SGD as a named chain (keyword-only arguments are static)."""
    momentum_part = (dampened_trace(momentum, dampening) if dampened
                     else optax.trace(momentum, nesterov)) if has_momentum else optax.identity()
    return optax.named_chain(
        ("maximize", _maximize(maximize)),
        ("weight_decay", add_weight_decay(weight_decay)),
        ("momentum", momentum_part),
        ("learning_rate", optax.scale_by_learning_rate(learning_rate)))


def adam(learning_rate: Scalar, b1: Scalar, b2: Scalar, eps: Scalar, weight_decay: Scalar, *,
         decoupled: bool, amsgrad: bool, maximize: bool) -> optax.GradientTransformation:
    """PyTorch's Adam (``decoupled=False``) or AdamW as a named chain."""
    decay = ("weight_decay", add_weight_decay(weight_decay))
    direction = ("adam", scale_by_torch_adam(b1, b2, eps, amsgrad))
    return optax.named_chain(
        ("maximize", _maximize(maximize)),
        *((direction, decay) if decoupled else (decay, direction)),
        ("learning_rate", optax.scale_by_learning_rate(learning_rate)))
