"""``Adam`` and ``AdamW``: one class, PyTorch's equations, optax's ``scale_by_adam``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lucid.optim._transforms import adam_chain
from lucid.optim.optimizer import Optimizer, zeros_like


@functools.cache
def _adam_step(decoupled: bool, amsgrad: bool, maximize: bool) -> Callable:
    """One jitted update of a group's parameters; hyperparameters are traced scalars."""
    @jax.jit
    def step(params, grads, states, lr, b1, b2, eps, weight_decay):
        chain = adam_chain(b1, b2, eps, weight_decay, decoupled, amsgrad)
        adam_index = 0 if decoupled else 1
        new_params, new_states = [], []
        for p, g, s in zip(params, grads, states, strict=True):
            state = list(chain.init(p))
            moments = dict(count=s["step"].astype(jnp.int32), mu=s["exp_avg"],
                           nu=s["exp_avg_sq"])
            if amsgrad:
                moments["nu_max"] = s["max_exp_avg_sq"]
            state[adam_index] = state[adam_index]._replace(**moments)
            update, state = chain.update(-g if maximize else g, tuple(state), p)
            adam = state[adam_index]
            new = dict(step=adam.count.astype(jnp.float32), exp_avg=adam.mu,
                       exp_avg_sq=adam.nu)
            if amsgrad:
                new["max_exp_avg_sq"] = adam.nu_max
            new_params.append((p - lr * update).astype(p.dtype))
            new_states.append(new)
        return new_params, new_states
    return step


class Adam(Optimizer):
    """Adam with PyTorch's equations and defaults; ``weight_decay`` is L2 added to the gradient.

    ``m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments; ``amsgrad`` keeps PyTorch's
    maximum of the raw second moment. State: ``step`` (float32, 0-d), ``exp_avg``,
    ``exp_avg_sq`` (and ``max_exp_avg_sq``).

    >>> import lucid
    >>> w = lucid.nn.Parameter(lucid.tensor([1.0, -2.0]))
    >>> opt = lucid.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); [round(v, 4) for v in w.tolist()]
    [0.9, -1.9]
    """

    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["eps"] < 0:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if group["weight_decay"] < 0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")

    def _update(self, group, params, grads, states):
        b1, b2 = group["betas"]
        amsgrad = bool(group["amsgrad"])
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg",
                                                                             "exp_avg_sq")
        states = [s or {"step": np.zeros((), np.float32), **{n: zeros_like(p) for n in names}}
                  for p, s in zip(params, states, strict=True)]  # the first step: zeros
        step = _adam_step(self._decoupled, amsgrad, bool(group["maximize"]))
        return step(params, grads, states, float(group["lr"]), float(b1), float(b2),
                    float(group["eps"]), float(group["weight_decay"]))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): ``p <- p * (1 - lr * wd)`` each step.

    >>> import lucid
    >>> w = lucid.nn.Parameter(lucid.tensor([1.0]))
    >>> opt = lucid.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * 0).sum().backward()
    >>> opt.step(); round(w.item(), 4)
    0.95
    """

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
