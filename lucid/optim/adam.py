"""``Adam`` and ``AdamW``: one class, PyTorch's equations, one optax chain."""

from __future__ import annotations

from typing import Any, ClassVar

import jax.numpy as jnp

from lucid.optim import _transforms
from lucid.optim.optimizer import Chain, Optimizer, StateName


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

    _state_names: ClassVar[dict[str, StateName]] = {
        "step": StateName("adam", "step", jnp.float32),
        "exp_avg": StateName("adam", "mu"),
        "exp_avg_sq": StateName("adam", "nu"),
        "max_exp_avg_sq": StateName("adam", "nu_max"),
    }
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

    def _chain(self, group: dict[str, Any]) -> Chain:
        b1, b2 = group["betas"]
        static = dict(decoupled=self._decoupled, amsgrad=bool(group["amsgrad"]),
                      maximize=bool(group["maximize"]))
        hyperparameters = dict(learning_rate=float(group["lr"]), b1=float(b1), b2=float(b2),
                               eps=float(group["eps"]),
                               weight_decay=float(group["weight_decay"]))
        return Chain(_transforms.adam, static, hyperparameters)


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
