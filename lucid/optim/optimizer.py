"""``Optimizer``: PyTorch's parameter groups, per-parameter state, ``step`` and state dicts.

A subclass declares its defaults, checks them, names its optax chain (:meth:`Optimizer._chain`:
a factory from :mod:`lucid.optim._transforms`, its static settings and the group's
hyperparameters) and maps PyTorch's state names onto the chain's state in one table,
``Optimizer._state_names``. The base gathers the parameters that have a gradient, runs one
jitted step per group over all of them at once, and only then writes the new values (a failed
step changes nothing). A parameter whose ``grad`` is ``None`` is skipped entirely: no decay, no
step count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping
from typing import Any, ClassVar, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from lucid._autograd import _as_array, owned_array
from lucid._grad_mode import enable_grad, no_grad
from lucid._tensor import Tensor, type_name

ChainState = dict[str, Any]    # a named chain's state: part name -> that part's optax state
Saved = dict[str, jax.Array]   # one parameter's state under PyTorch's names
SavedIn = dict[str, ArrayLike]  # the same on its way in (NumPy zeros before the first step)


class StateName(NamedTuple):
    """Where a PyTorch state entry lives in the chain: ``chain_state[part].field``, one array
    per parameter; ``dtype`` is its fixed dtype (``None``: the parameter's)."""

    part: str
    field: str
    dtype: Any = None


class Chain(NamedTuple):
    """One group's chain: ``factory(**static, **hyperparameters)`` builds it. ``static``
    settings select the compiled step; ``hyperparameters`` are traced, so changing one
    recompiles nothing. ``started`` names a per-parameter flag field, true once the parameter
    has state (PyTorch's ``buf is None`` test), for a chain whose first step differs."""

    factory: Callable[..., optax.GradientTransformation]
    static: Mapping[str, Hashable]
    hyperparameters: dict[str, float]
    started: tuple[str, str] | None = None


def _fields(state: ChainState, names: Mapping[str, StateName]) -> dict[str, StateName]:
    """The entries of ``names`` that this chain's state holds (e.g. no ``max_exp_avg_sq``
    without amsgrad)."""
    return {name: where for name, where in names.items()
            if getattr(state[where.part], where.field, None) is not None}


def _with_saved(state: ChainState, names: Mapping[str, StateName], saved: list[SavedIn],
                started: tuple[tuple[str, str], list[jax.Array]] | None) -> ChainState:
    """``state`` with each named field set to the parameters' saved arrays."""
    state = dict(state)
    for name, where in _fields(state, names).items():
        state[where.part] = state[where.part]._replace(
            **{where.field: [entry[name] for entry in saved]})
    if started is not None:
        (part, field), flags = started
        state[part] = state[part]._replace(**{field: flags})
    return state


def _saved_of(state: ChainState, names: Mapping[str, StateName], count: int) -> list[Any]:
    """The arrays of ``state`` under PyTorch's names, one dict for each of ``count``
    parameters (arrays, or shapes under ``jax.eval_shape``)."""
    columns = {name: getattr(state[where.part], where.field)
               for name, where in _fields(state, names).items()}
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]


@functools.cache
def _compiled_step(chain: Callable[..., optax.GradientTransformation],
                   static: tuple[tuple[str, Hashable], ...],
                   names: tuple[tuple[str, StateName], ...],
                   started: tuple[str, str] | None) -> Callable[..., Any]:
    """The jitted step of every group with these static settings: ``(params, grads, saved,
    flags, hyperparameters) -> (params, saved)`` over lists of one entry per parameter."""
    table = dict(names)

    @jax.jit
    def step(params: list[jax.Array], grads: list[jax.Array], saved: list[SavedIn],
             flags: list[jax.Array] | None,
             hyperparameters: dict[str, jax.Array]) -> tuple[list[jax.Array], list[Saved]]:
        transform = chain(**dict(static), **hyperparameters)
        state = _with_saved(cast(ChainState, transform.init(params)), table, saved,
                            None if started is None or flags is None else (started, flags))
        updates, new_state = transform.update(grads, state, params)
        new_params = cast(list[jax.Array], optax.apply_updates(params, updates))
        return new_params, _saved_of(cast(ChainState, new_state), table, len(params))
    return step


@functools.cache
def _initial_shapes(chain: Callable[..., optax.GradientTransformation],
                    static: tuple[tuple[str, Hashable], ...],
                    names: tuple[tuple[str, StateName], ...], hyperparameters: tuple[str, ...],
                    shape: tuple[int, ...], dtype: Any) -> dict[str, jax.ShapeDtypeStruct]:
    """The shapes of one parameter's initial state under PyTorch's names (empty for a
    stateless chain), traced once per chain and parameter shape: every part of a chain maps
    over the parameters one by one, so one parameter's state is its own."""
    def init(param: jax.Array, values: dict[str, jax.Array]) -> Any:
        return chain(**dict(static), **values).init([param])
    state = jax.eval_shape(init, jax.ShapeDtypeStruct(shape, dtype),
                           dict.fromkeys(hyperparameters, jax.ShapeDtypeStruct((), jnp.float32)))
    return cast(dict[str, jax.ShapeDtypeStruct], _saved_of(state, dict(names), 1)[0])


@functools.cache
def _flag(value: bool) -> jax.Array:
    """A device-resident flag, made once: passing it to a step transfers nothing."""
    return jnp.asarray(value)


class Optimizer:
    """Base: ``param_groups`` (dicts filled from ``defaults``), ``state`` keyed by parameter."""

    #: PyTorch's state names mapped to the chain's state, the one table the steps and
    #: :meth:`load_state_dict` read.
    _state_names: ClassVar[Mapping[str, StateName]] = {}

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type_name(params)}")
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
                                f"{type_name(param)}")
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

    def _chain(self, group: dict[str, Any]) -> Chain:
        """The optax chain that updates ``group``."""
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            writes: list[tuple[Tensor, jax.Array, Saved]] = []
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                if params:
                    new_params, new_states = self._step_group(self._chain(group), params)
                    writes.extend(zip(params, new_params, new_states, strict=True))
            for param, value, state in writes:
                param._data = value
                if not state:  # a stateless chain (SGD without momentum) stores nothing
                    continue
                current = self.state.setdefault(param, {})
                for name in self._state_names:  # PyTorch's order, e.g. ``step`` first
                    if name not in state:
                        continue
                    if name in current:
                        current[name]._data = state[name]
                    else:
                        current[name] = Tensor._wrap(state[name])
        return loss

    def _step_group(self, chain: Chain,
                    params: list[Tensor]) -> tuple[list[jax.Array], list[Saved]]:
        """New values and new state (under PyTorch's names) of ``params``, one chain step."""
        arrays = [p._data for p in params]
        saved: list[SavedIn | None] = [
            {k: v._data for k, v in self.state[p].items() if k in self._state_names}
            if self.state.get(p) else None for p in params]
        flags = None if chain.started is None else [_flag(s is not None) for s in saved]
        static = tuple(sorted(chain.static.items()))
        names = tuple(self._state_names.items())
        # a parameter without state starts the same compiled step from zeros
        saved = [s if s is not None else
                 {k: np.zeros(v.shape, v.dtype) for k, v in
                  _initial_shapes(chain.factory, static, names, tuple(chain.hyperparameters),
                                  a.shape, a.dtype).items()}
                 for a, s in zip(arrays, saved, strict=True)]
        step = _compiled_step(chain.factory, static, names, chain.started)
        return step(arrays, [_as_array(p.grad) for p in params], saved, flags,
                    chain.hyperparameters)

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
                name: Tensor._wrap(owned_array(value, self._dtype(name, param)))
                for name, value in entry.items() if value is not None}
        self.param_groups = [{**{k: v for k, v in s.items() if k != "params"},
                              "params": g["params"]}
                             for s, g in zip(saved_groups, self.param_groups, strict=True)]
        self.state = state

    def _dtype(self, name: str, param: Tensor) -> Any:
        """The dtype of state entry ``name`` of ``param``: fixed by the table, else the
        parameter's."""
        where = self._state_names.get(name)
        return param.dtype if where is None or where.dtype is None else where.dtype

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join([*lines, ")"])
