"""``Optimizer``: PyTorch's parameter groups, per-parameter state, ``step`` and state dicts.

Subclasses declare their defaults, check them, and supply one jitted update per group
(:meth:`Optimizer._update`); the base gathers the parameters that have a gradient, runs the
update for every group, and only then writes the new values (a failed step changes nothing).
A parameter whose ``grad`` is ``None`` is skipped entirely: no decay, no step count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from lucid._autograd import _as_array
from lucid._grad_mode import enable_grad, no_grad
from lucid._tensor import Tensor


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


class Optimizer:
    """Base: ``param_groups`` (dicts filled from ``defaults``), ``state`` keyed by parameter."""

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_type_name(params)}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; its missing hyperparameters are taken from ``defaults``."""
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{_type_name(param)}")
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise PyTorch's ``ValueError`` for an invalid hyperparameter; subclasses extend."""
        if float(group["lr"]) < 0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to ``None``, or zeros)."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none or param.grad is None:
                    param.grad = None
                else:
                    param.grad.zero_()

    def _update(self, group: dict[str, Any], params: list, grads: list,
                states: list[dict[str, Any]]) -> tuple[list, list[dict[str, Any]]]:
        """New parameter arrays and new state (arrays under PyTorch's names) for one group."""
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            writes = []
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                if not params:
                    continue
                states = [{k: v._data for k, v in self.state.get(p, {}).items()} for p in params]
                new_params, new_states = self._update(
                    group, [p._data for p in params], [_as_array(p.grad) for p in params],
                    states)
                writes.extend(zip(params, new_params, new_states, strict=True))
            for param, value, state in writes:
                param._data = value
                current = self.state.setdefault(param, {})
                for name, array in state.items():
                    if name in current:
                        current[name]._data = array
                    else:
                        current[name] = Tensor._wrap(array)
        return loss

    # -- state dict ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index]}]}``, as PyTorch."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: v.detach() for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict` (lucid's or PyTorch's); everything is checked first.

        Floating state is cast to its parameter's dtype, ``step`` stays float32. Unknown
        parameter indices are refused (PyTorch would keep them, unused).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"])
               for s, g in zip(saved_groups, self.param_groups, strict=True)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        params = {i: p for s, g in zip(saved_groups, self.param_groups, strict=True)
                  for i, p in zip(s["params"], g["params"], strict=True)}
        unknown = sorted(set(state_dict["state"]) - set(params), key=str)
        if unknown:
            raise ValueError(f"loaded state dict has state for parameter indices {unknown} "
                             f"that no parameter group lists (known: {sorted(params)})")
        state = {}
        for i, entry in state_dict["state"].items():
            param = params[i]
            state[param] = {
                name: Tensor._wrap(jnp.asarray(np.asarray(_as_array(value)),
                                               jnp.float32 if name == "step" else param.dtype))
                for name, value in entry.items() if value is not None}
        self.param_groups = [{**{k: v for k, v in s.items() if k != "params"},
                              "params": g["params"]}
                             for s, g in zip(saved_groups, self.param_groups, strict=True)]
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join([*lines, ")"])
