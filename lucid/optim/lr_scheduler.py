"""Learning-rate schedulers that set ``group["lr"]`` in an optimiser's ``param_groups``.

Each is PyTorch's scheduler, step for step: the same recursive update (``StepLR`` multiplies
the current ``lr`` by ``gamma``; ``CosineAnnealingLR`` uses PyTorch's ratio form), so the
values agree with ``torch.optim.lr_scheduler`` to the last bit, and a checkpoint's
``state_dict()`` has PyTorch's keys. The optimisers read ``lr`` from the group at every step
into the learning-rate part of their chain (a traced value: changing it never recompiles).
"""

from __future__ import annotations

import math
import types
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from lucid.optim.optimizer import Optimizer


class LRScheduler:
    """Base: ``base_lrs`` from each group's ``initial_lr``, ``last_epoch``, ``step()``.

    Subclasses give :meth:`get_lr`, the learning rates for the new ``last_epoch``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if last_epoch != -1:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming scheduler with last_epoch >= 0.")
        else:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self._get_lr_called_within_step = False  # kept for PyTorch's state-dict keys
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch and write the new learning rates into the groups."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._current()

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per group."""
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimiser, under PyTorch's keys."""
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; a dict of another structure changes nothing."""
        self._check_loaded(state_dict)
        vars(self).update(state_dict)

    def _check_loaded(self, state_dict: Any) -> None:
        """Raise unless ``state_dict`` has this scheduler's keys and one rate per group."""
        expected = set(self.state_dict())
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            given = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"loaded state dict has keys {given}, expected {sorted(expected)} "
                             f"(the state_dict() of a {type(self).__name__})")
        groups = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr"):
            if not isinstance(state_dict[key], list) or len(state_dict[key]) != groups:
                raise ValueError(f"loaded state dict's {key!r} must be a list of {groups} "
                                 f"learning rates (one per parameter group), got "
                                 f"{state_dict[key]!r}")


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)`` (one function, or one per group).

    >>> import lucid
    >>> from lucid.optim.lr_scheduler import LambdaLR
    >>> opt = lucid.optim.SGD([lucid.zeros(1, requires_grad=True)], lr=0.1)
    >>> schedule = LambdaLR(opt, lambda epoch: 1 - epoch / 10)
    >>> schedule.step(); schedule.step()
    >>> [round(lr, 6) for lr in schedule.get_last_lr()], round(opt.param_groups[0]["lr"], 6)
    ([0.08], 0.08)
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1) -> None:
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, list | tuple):
            if len(lr_lambda) != groups:
                raise ValueError(f"Expected {groups} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas: list[Callable[[int], float]] = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch)
                for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's: plain functions are not saved (``None``); callable objects' attributes are."""
        state = {key: value for key, value in vars(self).items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(vars(fn))
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        lambdas = state_dict.get("lr_lambdas") if isinstance(state_dict, dict) else None
        if not isinstance(lambdas, list) or len(lambdas) != len(self.lr_lambdas):
            raise ValueError(f"loaded state dict's 'lr_lambdas' must be a list of "
                             f"{len(self.lr_lambdas)} entries, got {lambdas!r}")
        self._check_loaded(state_dict)
        vars(self).update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        for fn, saved in zip(self.lr_lambdas, lambdas, strict=True):
            if saved is not None:
                vars(fn).update(saved)


class StepLR(LRScheduler):
    """``lr`` times ``gamma`` every ``step_size`` epochs.

    >>> import lucid
    >>> from lucid.optim.lr_scheduler import StepLR
    >>> opt = lucid.optim.SGD([lucid.zeros(1, requires_grad=True)], lr=1.0)
    >>> schedule = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for _ in range(4):
    ...     opt.step(); schedule.step(); lrs.append(schedule.get_last_lr()[0])
    >>> lrs
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class MultiStepLR(LRScheduler):
    """``lr`` times ``gamma`` at each epoch in ``milestones`` (a repeated one counts twice)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current()]


class ExponentialLR(LRScheduler):
    """``lr`` times ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Cosine from ``initial_lr`` down to ``eta_min`` over ``T_max`` epochs (and back up).

    >>> import lucid
    >>> from lucid.optim.lr_scheduler import CosineAnnealingLR
    >>> opt = lucid.optim.SGD([lucid.zeros(1, requires_grad=True)], lr=1.0)
    >>> schedule = CosineAnnealingLR(opt, T_max=2)
    >>> for _ in range(2):
    ...     schedule.step()
    >>> schedule.get_last_lr()
    [0.0]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, period, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and epoch > 0:
            return [low + (base - low) * (1 + math.cos(epoch * math.pi / period)) / 2
                    for base in self.base_lrs]
        if (epoch - 1 - period) % (2 * period) == 0:
            return [lr + (base - low) * (1 - math.cos(math.pi / period)) / 2
                    for base, lr in zip(self.base_lrs, self._current(), strict=True)]
        return [(1 + math.cos(math.pi * epoch / period))
                / (1 + math.cos(math.pi * (epoch - 1) / period)) * (lr - low) + low
                for lr in self._current()]
