"""One InstanceNorm layer: a state_dict (or the part of one under a prefix) <-> Linen variables
or an NNX module.

Each function checks at the door that it was given one normalisation layer (a whole model is
a ValueError naming its layers and the prefix or submodule to pass) and then converts it as a
model with one layer at the root, by the stages of :mod:`lucid_jax._interop_model` and the
rule :data:`lucid_jax._interop_rules.NORMALISATION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lucid_jax._compat import iter_modules
from lucid_jax._interop_common import (
    listing,
    module_keys,
    nearest,
    nnx_path,
    nnx_variables,
    require_collections,
    require_count,
    require_entries,
    to_numpy,
)
from lucid_jax._interop_model import (
    Layer,
    NNXModule,
    Plan,
    Variable,
    linen_display,
    linen_values,
    linen_variables,
    load_nnx,
    nnx_values,
)
from lucid_jax._interop_rules import COUNTER
from lucid_jax._interop_rules import NORMALISATION as _RULE

_PARAMS = dict(_RULE.params)    # Flax name -> PyTorch name
_BUFFERS = dict(_RULE.buffers)
_NAMES = (*_PARAMS, *_BUFFERS)  # Flax names in PyTorch's order
_TORCH_NAMES = (*_PARAMS.values(), *_BUFFERS.values(), COUNTER)


# ------------------------------------------------------------------------------ state dicts

def _select(state_dict: Any, prefix: str) -> dict[str, Any]:
    """One layer's keys under ``prefix`` (without it) -> the original keys; never empty."""
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a str such as 'norm1.', got {prefix!r}")
    state_dict = require_entries(state_dict)
    keys = {str(k)[len(prefix):]: k for k in state_dict if str(k).startswith(prefix)}
    groups = module_keys(state_dict)
    if not keys:
        prefixes = list(groups)
        raise ValueError(
            f"no state_dict key starts with prefix={prefix!r}{nearest(prefix, prefixes)}; the "
            f"state_dict's layer prefixes are {listing(prefixes)}"
        )
    nested = [prefix + k for k in keys if "." in k]
    if nested:
        layers = [p for p, names in groups.items()  # a convolution's weight is not 1-D
                  if p.startswith(prefix) and set(names) <= set(_TORCH_NAMES)
                  and ("weight" not in names or np.ndim(state_dict[names["weight"]]) == 1)]
        where = f" under prefix={prefix!r}" if prefix else ""
        raise ValueError(
            f"the state_dict{where} holds a whole model's state (keys such as "
            f"{listing(nested, 3)}), not one InstanceNorm layer's: pass prefix= one of its "
            f"normalisation layers {listing(layers)} to convert one layer, or convert the whole "
            "model with interop.torch_to_nnx / interop.torch_to_linen"
        )
    return keys


def _split(state_dict: Any, prefix: str) -> dict[str, np.ndarray]:
    """The values held under ``prefix`` by Flax name (NumPy, in PyTorch's order), checked."""
    keys = _select(state_dict, prefix)
    unknown = sorted(k for k in keys if k not in _TORCH_NAMES)
    if unknown:
        raise ValueError(
            f"unexpected InstanceNorm state_dict keys {[prefix + k for k in unknown]}; "
            f"expected {', '.join(_TORCH_NAMES)}"
        )
    values = {}
    for pairs in (_PARAMS, _BUFFERS):
        present = [torch for torch in pairs.values() if torch in keys]
        if len(present) == 1:
            missing = next(torch for torch in pairs.values() if torch not in keys)
            raise ValueError(
                f"state_dict has {prefix + present[0]!r} but not {prefix + missing!r}; "
                "an InstanceNorm holds both or neither"
            )
        values.update({flax: to_numpy(state_dict[keys[torch]]) for flax, torch in pairs.items()
                       if torch in keys})
    if not values:
        raise ValueError(
            f"the state_dict{f' under prefix={prefix!r}' if prefix else ''} holds only "
            f"{[prefix + k for k in keys]}: no weight, bias, running_mean or running_var to convert"
        )
    shapes = {np.shape(v) for v in values.values()}
    if len(shapes) > 1:
        raise ValueError(f"InstanceNorm state_dict entries have different shapes {sorted(shapes)}")
    return values


def _torch_keyed(values: Mapping[str, Any]) -> dict[str, Any]:
    return {_RULE.torch_names[name]: value for name, value in values.items()}


def _prefixed(state_dict: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + k: v for k, v in state_dict.items()}


# ------------------------------------------------------------------------------------- Linen

def _collection(name: str) -> str:
    return "params" if name in _PARAMS else "batch_stats"


def state_dict_to_linen(state_dict: Any, *, prefix: str = "") -> dict[str, Any]:
    """Linen variables ``{'params': {scale, bias}, 'batch_stats': {mean, var}}`` from a state_dict.

    Collections the state_dict has no entries for (``affine=False``, no tracking) are left
    out. ``prefix`` selects one layer of a whole model's state_dict (e.g. ``"norm1."``); a
    prefix that selects nothing, or a whole model's state_dict without one, is a ValueError
    listing the layer prefixes there are. For a whole model, see :func:`torch_to_linen`.
    """
    values = _split(state_dict, prefix)
    layer = Layer((), None, {name: Variable(value.shape, None, (_collection(name), name))
                             for name, value in values.items()})
    return linen_variables(Plan.of([layer], True, None, linen_display), _torch_keyed(values),
                           strict=True)


def _linen_paths(tree: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    """``'a/b'`` paths of the sub-dicts of a variables collection that are normalisation
    layers: their arrays are among scale, bias, mean, var."""
    leaves = {k for k, v in tree.items() if not isinstance(v, Mapping)}
    found = ["/".join(path)] if path and leaves and leaves <= _RULE.flax_names else []
    for k, v in tree.items():
        if isinstance(v, Mapping):
            found += _linen_paths(v, (*path, str(k)))
    return found


def _linen_layer(variables: Any) -> dict[str, dict[str, Any]]:
    """One Linen InstanceNorm's ``params`` and ``batch_stats`` (those present), checked; never
    empty."""
    variables = require_collections(variables, one_layer=True)
    collections = {c: dict(variables[c]) for c in ("params", "batch_stats") if c in variables}
    nested = {c: [k for k, v in tree.items() if isinstance(v, Mapping)]
              for c, tree in collections.items()}
    if any(nested.values()):
        layers = _linen_paths(collections.get("params", {})) + _linen_paths(
            collections.get("batch_stats", {}))
        example = layers[0].split("/") if layers else ["<layer>"]
        pick = "".join(f"[{k!r}]" for k in example)
        raise ValueError(
            f"the variables hold a whole model's tree (submodules "
            f"{listing([k for ks in nested.values() for k in ks])}), not one InstanceNorm "
            f"layer's; its normalisation layers are {listing(layers)}: pass one, e.g. "
            f"{{'params': variables['params']{pick}, 'batch_stats': "
            f"variables['batch_stats']{pick}}}, or convert the whole model with "
            "interop.linen_to_torch"
        )
    for collection, allowed in (("params", tuple(_PARAMS)), ("batch_stats", tuple(_BUFFERS))):
        extra = sorted(str(k) for k in collections.get(collection, {}) if k not in allowed)
        if extra:
            raise ValueError(
                f"unexpected InstanceNorm variables {collection}/{extra}; expected "
                f"{collection} to hold {' and '.join(allowed)}"
            )
    stats = collections.get("batch_stats", {})
    if not collections.get("params") and not stats:
        raise ValueError("the variables hold no scale, bias, mean or var: nothing to convert")
    if len(stats) == 1:
        (held,) = stats
        raise ValueError(
            f"batch_stats holds {held!r} but not {'var' if held == 'mean' else 'mean'!r}; an "
            "InstanceNorm with running statistics holds both"
        )
    return collections


def linen_to_state_dict(variables: Any, *, num_batches_tracked: int = 0,
                        as_torch: bool = False, prefix: str = "") -> dict[str, Any]:
    """A PyTorch-style state_dict (numpy arrays, or torch tensors with ``as_torch``) from one
    Linen InstanceNorm's variables (``{'params': {scale, bias}, 'batch_stats': {mean, var}}``).

    A whole model's variables are a ValueError naming its normalisation layers; for a whole
    model, see :func:`linen_to_torch`.
    """
    count = require_count(num_batches_tracked)
    collections = _linen_layer(variables)
    held = {name: collections[_collection(name)][name] for name in _NAMES
            if name in collections.get(_collection(name), {})}
    layer = Layer((), None, {name: Variable(np.shape(value), None, (_collection(name), name))
                             for name, value in held.items()})
    plan = Plan.of([layer], True, None, linen_display)
    return _prefixed(plan.state_dict(linen_values(plan, collections), count, as_torch), prefix)


# --------------------------------------------------------------------------------------- NNX

def nnx_layer_variables(module: Any) -> dict[str, Any]:
    """An NNX normalisation layer's ``scale``/``bias``/``mean``/``var`` variables (or ``None``).

    A module that holds none of them is a ValueError; a whole model gets the paths of its
    normalisation layers in the message.
    """
    from flax import nnx

    if not isinstance(module, nnx.Module):
        raise ValueError(f"expected an NNX InstanceNorm module, got {type(module).__name__}")
    name = type(module).__name__
    held = set(nnx_variables(module))
    if held and not held <= _RULE.flax_names:
        raise ValueError(
            f"{name} holds {sorted(held - _RULE.flax_names)}: it is not a normalisation layer "
            "(scale, bias, mean, var); convert a whole model with interop.nnx_to_torch / "
            "interop.torch_to_nnx"
        )
    if held:
        return {k: getattr(module, k) if k in held else None for k in _NAMES}
    layers = [nnx_path(path) for path, sub in iter_modules(module)
              if path and (own := set(nnx_variables(sub))) and own <= _RULE.flax_names]
    if layers:
        raise ValueError(
            f"{name} is a whole model, not one InstanceNorm layer: its normalisation layers are "
            f"{listing(layers)}; pass one of them (e.g. {layers[0]}), or convert the whole "
            "model with interop.nnx_to_torch / interop.torch_to_nnx"
        )
    raise ValueError(f"{name} holds no scale, bias, mean or var: it is not a normalisation layer")


def _nnx_plan(module: Any, held: Mapping[str, Any]) -> Plan:
    layer = Layer((), module, {name: Variable(tuple(v[...].shape), v[...].dtype, (name,))
                               for name, v in held.items() if v is not None})
    return Plan.of([layer], False, None, nnx_path)


def load_state_dict_into_nnx(module: NNXModule, state_dict: Any, *,
                             prefix: str = "") -> NNXModule:
    """Write a state_dict's values into an NNX InstanceNorm (in place); returns the module.

    The module must hold the same variables as the state_dict (``use_scale``/``use_bias`` for
    ``affine=True``, ``track_running_stats=True`` for running statistics) with the same shapes.
    Everything is checked and converted before anything is written: a load that raises leaves
    the module exactly as it was. For a whole model, see :func:`torch_to_nnx`.
    """
    held = nnx_layer_variables(module)
    values = _split(state_dict, prefix)
    for name, variable in held.items():
        if (variable is None) != (name not in values):
            have = "holds" if variable is not None else "does not hold"
            raise ValueError(
                f"{type(module).__name__} {have} {name!r} but the state_dict "
                f"{'lacks' if variable is not None else 'has'} its entry; build the module "
                "with matching use_scale/use_bias/track_running_stats"
            )
    load_nnx(_nnx_plan(module, held), _torch_keyed(values), strict=True)
    return module


def nnx_to_state_dict(module: Any, *, num_batches_tracked: int = 0, as_torch: bool = False,
                      prefix: str = "") -> dict[str, Any]:
    """A PyTorch-style state_dict from an NNX InstanceNorm (numpy, or torch with ``as_torch``).

    A whole model is a ValueError naming its normalisation layers; for a whole model, see
    :func:`nnx_to_torch`.
    """
    count = require_count(num_batches_tracked)
    held = nnx_layer_variables(module)
    stats = [name for name in _BUFFERS if held[name] is not None]
    if len(stats) == 1:
        raise ValueError(
            f"{type(module).__name__} holds {stats[0]!r} but not the other running "
            "statistic; an InstanceNorm with running statistics holds mean and var"
        )
    plan = _nnx_plan(module, held)
    return _prefixed(plan.state_dict(nnx_values(plan), count, as_torch), prefix)
