"""``SGD`` with momentum, dampening, Nesterov, weight decay and ``maximize``, as PyTorch."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from lucid.optim._transforms import sgd_chain
from lucid.optim.optimizer import Optimizer, zeros_like


@functools.cache
def _sgd_step(nesterov: bool, maximize: bool, has_momentum: bool, dampened: bool) -> Callable:
    """One jitted update of a group's parameters; hyperparameters are traced scalars."""
    @jax.jit
    def step(params, grads, buffers, started, lr, momentum, dampening, weight_decay):
        chain = sgd_chain(momentum, dampening, weight_decay, nesterov, has_momentum, dampened)
        new_params, new_buffers = [], []
        for p, g, buffer, begun in zip(params, grads, buffers, started, strict=True):
            state = chain.init(p)
            if has_momentum:  # before the first step: a zero buffer, not started
                inner = state[1]._replace(trace=buffer)
                state = (state[0], inner._replace(started=begun) if dampened else inner)
            update, state = chain.update(-g if maximize else g, state, p)
            new_params.append((p - lr * update).astype(p.dtype))
            new_buffers.append(state[1].trace if has_momentum else None)
        return new_params, new_buffers
    return step


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's equations and defaults (``lr=1e-3``).

    ``buf = momentum * buf + (1 - dampening) * g`` (the first ``buf`` is ``g``), with ``g``
    including ``weight_decay * p``; Nesterov steps along ``g + momentum * buf``. State:
    ``momentum_buffer`` per parameter (only with momentum).

    >>> import lucid
    >>> w = lucid.nn.Parameter(lucid.tensor([1.0, 2.0]))
    >>> opt = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step(); w.tolist()
    [0.8, 1.6]
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["momentum"] < 0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group, params, grads, states):
        has_momentum = group["momentum"] != 0
        buffers = [s["momentum_buffer"] if "momentum_buffer" in s
                   else zeros_like(p) if has_momentum else None
                   for p, s in zip(params, states, strict=True)]
        started = [np.asarray("momentum_buffer" in s) for s in states]
        step = _sgd_step(bool(group["nesterov"]), bool(group["maximize"]), has_momentum,
                         group["dampening"] != 0)
        new_params, new_buffers = step(params, grads, buffers, started, float(group["lr"]),
                                       float(group["momentum"]), float(group["dampening"]),
                                       float(group["weight_decay"]))
        new_states = [{"momentum_buffer": b} if has_momentum else {} for b in new_buffers]
        return new_params, new_states
