"""``SGD`` with momentum, dampening, Nesterov, weight decay and ``maximize``, as PyTorch."""

from __future__ import annotations

from typing import Any, ClassVar

from lucid.optim import _transforms
from lucid.optim.optimizer import Chain, Optimizer, StateName


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

    _state_names: ClassVar[dict[str, StateName]] = {
        "momentum_buffer": StateName("momentum", "trace")}

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

    def _chain(self, group: dict[str, Any]) -> Chain:
        has_momentum = group["momentum"] != 0
        dampened = has_momentum and group["dampening"] != 0
        static = dict(nesterov=bool(group["nesterov"]), maximize=bool(group["maximize"]),
                      has_momentum=has_momentum, dampened=dampened)
        hyperparameters = {name: float(group[key]) for name, key in (
            ("learning_rate", "lr"), ("momentum", "momentum"), ("dampening", "dampening"),
            ("weight_decay", "weight_decay"))}
        return Chain(_transforms.sgd, static, hyperparameters,
                     ("momentum", "started") if dampened else None)
