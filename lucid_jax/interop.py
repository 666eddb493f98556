"""PyTorch / lucid checkpoints <-> Flax variables, momentum and layout conversion.

Whole models: :func:`torch_to_nnx` / :func:`nnx_to_torch` (an NNX model, loaded in place and
atomically) and :func:`torch_to_linen` / :func:`linen_to_torch` (Linen variables) convert
every Conv, ConvTranspose, Linear and normalisation layer of a model, keyed by module path
(``down.0.conv.weight`` is ``model.down[0].conv.kernel`` / ``params['down_0']['conv']['kernel']``);
see ``docs/porting-pytorch.md``. The functions below convert one InstanceNorm layer.

A PyTorch (or lucid) ``InstanceNorm{1,2,3}d`` state_dict holds ``weight``, ``bias`` (when
``affine=True``), ``running_mean``, ``running_var`` and ``num_batches_tracked`` (when
``track_running_stats=True``). The Flax modules of this package hold the same numbers as
``params/scale``, ``params/bias``, ``batch_stats/mean`` and ``batch_stats/var``.
``num_batches_tracked`` has no Flax counterpart (PyTorch's InstanceNorm never reads it): it is
dropped on the way in and written back from the ``num_batches_tracked`` argument on the way out.

Values are converted without rounding (float32 stays float32), so round trips are exact.
Anything ``np.asarray`` can read is accepted, and torch tensors; neither torch nor lucid is
imported here (``as_torch=True`` imports torch when called).

>>> import numpy as np
>>> from lucid_jax import interop
>>> sd = {"weight": np.ones(3, np.float32), "bias": np.zeros(3, np.float32),
...       "running_mean": np.zeros(3, np.float32), "running_var": np.ones(3, np.float32),
...       "num_batches_tracked": np.array(7)}
>>> variables = interop.state_dict_to_linen(sd)
>>> sorted(variables), sorted(variables["params"]), sorted(variables["batch_stats"])
(['batch_stats', 'params'], ['bias', 'scale'], ['mean', 'var'])
>>> back = interop.linen_to_state_dict(variables, num_batches_tracked=7)
>>> all(np.array_equal(back[k], sd[k]) for k in sd)
True
>>> interop.flax_momentum(0.1), interop.torch_momentum(0.9)
(0.9, 0.1)
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from lucid_jax._compat import assign, iter_modules
from lucid_jax._interop_common import (
    COUNTER,
    NORM_FLAX,
    listing,
    module_prefixes,
    nearest,
    nnx_path,
    to_numpy,
)
from lucid_jax._interop_common import PARAMS as _PARAMS
from lucid_jax._interop_common import STATS as _STATS
from lucid_jax._interop_model import (
    conv_transpose_padding,
    linen_to_torch,
    nnx_to_torch,
    torch_to_linen,
    torch_to_nnx,
)

# --------------------------------------------------------------------------------- momentum

def _one_minus(momentum: Any, name: str) -> float:
    if isinstance(momentum, bool) or not isinstance(momentum, int | float | np.floating):
        raise ValueError(f"{name} must be a float in [0, 1], got {momentum!r}")
    if not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {momentum}")
    # Decimal arithmetic on the shortest decimal that round-trips in the value's *own* type:
    # 1 - 0.1 is 0.9 (not 0.9000000000000000222), and np.float32(0.1) counts as the 0.1 it
    # was written as (not as its binary value 0.100000001490116...), so converting back and
    # forth returns the value you started from. The result is a Python float.
    if isinstance(momentum, int):
        return float(1 - momentum)
    return float(Decimal(1) - Decimal(np.format_float_positional(momentum, unique=True)))


def flax_momentum(torch_momentum: float | None) -> float:
    """PyTorch's momentum (weight of the new value) as Flax's (weight of the old value).

    ``None`` (PyTorch's InstanceNorm then freezes its statistics) becomes ``1.0``, which
    freezes them in Flax too. The conversion is exact in decimal: a NumPy scalar is read as
    the shortest decimal of its own type (``np.float32(0.1)`` is 0.1), and a Python float
    comes back.

    >>> flax_momentum(0.1), flax_momentum(None), flax_momentum(np.float32(0.1))
    (0.9, 1.0, 0.9)
    """
    if torch_momentum is None:
        return 1.0
    return _one_minus(torch_momentum, "PyTorch momentum")


def torch_momentum(flax_momentum: float) -> float:
    """Flax's momentum (weight of the old value) as PyTorch's (weight of the new value).

    >>> torch_momentum(0.99)
    0.01
    """
    return _one_minus(flax_momentum, "Flax momentum")


# ----------------------------------------------------------------------------------- layout

def _move(x, source: int, destination: int):
    if hasattr(x, "movedim") and hasattr(x, "detach"):  # a torch tensor
        return x.movedim(source, destination)
    if type(x).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp
        return jnp.moveaxis(x, source, destination)
    return np.moveaxis(np.asarray(x), source, destination)


def to_channels_last(x):
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)`` (NCHW -> NHWC) for numpy, JAX or torch.

    >>> to_channels_last(np.zeros((2, 3, 4, 5))).shape
    (2, 4, 5, 3)
    """
    return _move(x, 1, -1)


def to_channels_first(x):
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)`` (NHWC -> NCHW) for numpy, JAX or torch.

    >>> to_channels_first(np.zeros((2, 4, 5, 3))).shape
    (2, 3, 4, 5)
    """
    return _move(x, -1, 1)


# ------------------------------------------------------------------------------ state dicts

def _norm_layer_prefixes(state_dict) -> list[str]:
    """Prefixes of the normalisation layers: keys among weight, bias, running_mean,
    running_var, num_batches_tracked, and a 1-D weight (a convolution's is not)."""
    torch_names = {t for t, _ in _PARAMS + _STATS} | {COUNTER}
    groups: dict[str, dict] = {}
    for key in state_dict:
        head, _, tail = str(key).rpartition(".")
        groups.setdefault(head + "." if head else "", {})[tail] = key
    return [p for p, names in groups.items()
            if p and set(names) <= torch_names
            and ("weight" not in names or np.ndim(state_dict[names["weight"]]) == 1)]


def _select(state_dict, prefix: str) -> dict[str, Any]:
    """One layer's keys under ``prefix`` (without it) -> the original keys; never empty."""
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a str such as 'norm1.', got {prefix!r}")
    if len(state_dict) == 0:
        raise ValueError("the state_dict is empty: there is nothing to convert")
    keys = {str(k)[len(prefix):]: k for k in state_dict if str(k).startswith(prefix)}
    if not keys:
        prefixes = module_prefixes(state_dict)
        raise ValueError(
            f"no state_dict key starts with prefix={prefix!r}{nearest(prefix, prefixes)}; the "
            f"state_dict's layer prefixes are {listing(prefixes)}"
        )
    nested = [prefix + k for k in keys if "." in k]
    if nested:
        layers = [p for p in _norm_layer_prefixes(state_dict) if p.startswith(prefix)]
        where = f" under prefix={prefix!r}" if prefix else ""
        raise ValueError(
            f"the state_dict{where} holds a whole model's state (keys such as "
            f"{listing(nested, 3)}), not one InstanceNorm layer's: pass prefix= one of its "
            f"normalisation layers {listing(layers)} to convert one layer, or convert the whole "
            "model with interop.torch_to_nnx / interop.torch_to_linen"
        )
    return keys


def _split(state_dict, prefix: str) -> tuple[dict, dict]:
    """The params and batch_stats (Flax names, numpy values) held under ``prefix``."""
    keys = _select(state_dict, prefix)
    known = {torch for torch, _ in _PARAMS + _STATS} | {COUNTER}
    unknown = sorted(k for k in keys if k not in known)
    if unknown:
        raise ValueError(
            f"unexpected InstanceNorm state_dict keys {[prefix + k for k in unknown]}; "
            "expected weight, bias, running_mean, running_var, num_batches_tracked"
        )
    groups = []
    for pairs in (_PARAMS, _STATS):
        present = [torch for torch, _ in pairs if torch in keys]
        if len(present) == 1:
            missing = next(torch for torch, _ in pairs if torch not in keys)
            raise ValueError(
                f"state_dict has {prefix + present[0]!r} but not {prefix + missing!r}; "
                "an InstanceNorm holds both or neither"
            )
        groups.append({flax: to_numpy(state_dict[keys[torch]]) for torch, flax in pairs
                       if torch in keys})
    params, stats = groups
    if not params and not stats:
        raise ValueError(
            f"the state_dict{f' under prefix={prefix!r}' if prefix else ''} holds only "
            f"{[prefix + k for k in keys]}: no weight, bias, running_mean or running_var to convert"
        )
    shapes = {np.shape(v) for v in (*params.values(), *stats.values())}
    if len(shapes) > 1:
        raise ValueError(f"InstanceNorm state_dict entries have different shapes {sorted(shapes)}")
    return params, stats


def state_dict_to_linen(state_dict, *, prefix: str = "") -> dict:
    """Linen variables ``{'params': {scale, bias}, 'batch_stats': {mean, var}}`` from a state_dict.

    Collections the state_dict has no entries for (``affine=False``, no tracking) are left
    out. ``prefix`` selects one layer of a whole model's state_dict (e.g. ``"norm1."``); a
    prefix that selects nothing, or a whole model's state_dict without one, is a ValueError
    listing the layer prefixes there are. For a whole model, see :func:`torch_to_linen`.
    """
    import jax.numpy as jnp

    params, stats = _split(state_dict, prefix)
    variables = {}
    if params:
        variables["params"] = {k: jnp.asarray(v) for k, v in params.items()}
    if stats:
        variables["batch_stats"] = {k: jnp.asarray(v) for k, v in stats.items()}
    return variables


def _to_state_dict(params: dict, stats: dict, num_batches_tracked, as_torch: bool,
                   prefix: str) -> dict:
    out = {}
    for torch_name, flax_name in _PARAMS:
        if flax_name in params:
            out[torch_name] = to_numpy(params[flax_name])
    if stats:
        for torch_name, flax_name in _STATS:
            out[torch_name] = to_numpy(stats[flax_name])
        out[COUNTER] = np.array(num_batches_tracked, np.int64)
    if as_torch:
        import torch
        out = {k: torch.from_numpy(v) for k, v in out.items()}
    return {prefix + k: v for k, v in out.items()}


def _linen_layer_paths(tree, path=()) -> list[str]:
    """``'a/b'`` paths of the sub-dicts of a variables collection that are normalisation
    layers: their arrays are among scale, bias, mean, var."""
    leaves = {k for k, v in tree.items() if not isinstance(v, Mapping)}
    found = ["/".join(path)] if path and leaves and leaves <= NORM_FLAX else []
    for k, v in tree.items():
        if isinstance(v, Mapping):
            found += _linen_layer_paths(v, (*path, str(k)))
    return found


def _linen_layer(variables) -> tuple[dict, dict]:
    """One Linen InstanceNorm's ``params`` and ``batch_stats``, checked; never empty."""
    if not isinstance(variables, Mapping):
        raise ValueError(f"expected Linen variables (a dict of collections), got "
                         f"{type(variables).__name__}")
    other = sorted(str(k) for k in variables if k not in ("params", "batch_stats"))
    if other:
        raise ValueError(
            f"expected Linen variables {{'params': ..., 'batch_stats': ...}}, got the keys "
            f"{other}; wrap one layer's parameters as {{'params': {{'scale': ..., 'bias': ...}}}}"
        )
    collections = {c: dict(variables[c]) for c in ("params", "batch_stats") if c in variables}
    nested = {c: [k for k, v in tree.items() if isinstance(v, Mapping)]
              for c, tree in collections.items()}
    if any(nested.values()):
        layers = _linen_layer_paths(collections.get("params", {})) + _linen_layer_paths(
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
    for collection, allowed in (("params", ("scale", "bias")), ("batch_stats", ("mean", "var"))):
        extra = sorted(str(k) for k in collections.get(collection, {}) if k not in allowed)
        if extra:
            raise ValueError(
                f"unexpected InstanceNorm variables {collection}/{extra}; expected "
                f"{collection} to hold {' and '.join(allowed)}"
            )
    params, stats = collections.get("params", {}), collections.get("batch_stats", {})
    if not params and not stats:
        raise ValueError("the variables hold no scale, bias, mean or var: nothing to convert")
    if len(stats) == 1:
        (held,) = stats
        raise ValueError(
            f"batch_stats holds {held!r} but not {'var' if held == 'mean' else 'mean'!r}; an "
            "InstanceNorm with running statistics holds both"
        )
    return params, stats


def linen_to_state_dict(variables, *, num_batches_tracked: int = 0, as_torch: bool = False,
                        prefix: str = "") -> dict:
    """A PyTorch-style state_dict (numpy arrays, or torch tensors with ``as_torch``) from one
    Linen InstanceNorm's variables (``{'params': {scale, bias}, 'batch_stats': {mean, var}}``).

    A whole model's variables are a ValueError naming its normalisation layers; for a whole
    model, see :func:`linen_to_torch`.
    """
    params, stats = _linen_layer(variables)
    return _to_state_dict(params, stats, num_batches_tracked, as_torch, prefix)


def _nnx_variables(module) -> dict:
    """An NNX normalisation layer's ``scale``/``bias``/``mean``/``var`` variables (or ``None``).

    A module that holds none of them is a ValueError; a whole model gets the paths of its
    normalisation layers in the message.
    """
    from flax import nnx

    if not isinstance(module, nnx.Module):
        raise ValueError(f"expected an NNX InstanceNorm module, got {type(module).__name__}")
    def own(sub) -> set:
        return {k for k, v in vars(sub).items() if isinstance(v, nnx.Param | nnx.BatchStat)}

    name = type(module).__name__
    held = own(module)
    if held and not held <= NORM_FLAX:
        raise ValueError(
            f"{name} holds {sorted(held - NORM_FLAX)}: it is not a normalisation layer (scale, "
            "bias, mean, var); convert a whole model with interop.nnx_to_torch / "
            "interop.torch_to_nnx"
        )
    if held:
        return {k: getattr(module, k) if k in held else None
                for k in ("scale", "bias", "mean", "var")}
    layers = [nnx_path(path) for path, sub in iter_modules(module)
              if path and own(sub) and own(sub) <= NORM_FLAX]
    if layers:
        raise ValueError(
            f"{name} is a whole model, not one InstanceNorm layer: its normalisation layers are "
            f"{listing(layers)}; pass one of them (e.g. {layers[0]}), or convert the whole "
            "model with interop.nnx_to_torch / interop.torch_to_nnx"
        )
    raise ValueError(f"{name} holds no scale, bias, mean or var: it is not a normalisation layer")


def load_state_dict_into_nnx(module, state_dict, *, prefix: str = ""):
    """Write a state_dict's values into an NNX InstanceNorm (in place); returns the module.

    The module must hold the same variables as the state_dict (``use_scale``/``use_bias`` for
    ``affine=True``, ``track_running_stats=True`` for running statistics) with the same shapes.
    Everything is checked and converted before anything is written: a load that raises leaves
    the module exactly as it was. For a whole model, see :func:`torch_to_nnx`.
    """
    import jax.numpy as jnp

    held = _nnx_variables(module)
    params, stats = _split(state_dict, prefix)
    values = {**params, **stats}
    converted = {}
    for name, variable in held.items():
        if (variable is None) != (name not in values):
            have = "holds" if variable is not None else "does not hold"
            raise ValueError(
                f"{type(module).__name__} {have} {name!r} but the state_dict "
                f"{'lacks' if variable is not None else 'has'} its entry; build the module "
                "with matching use_scale/use_bias/track_running_stats"
            )
        if variable is None:
            continue
        value = values[name]
        if np.shape(value) != tuple(variable[...].shape):
            raise ValueError(
                f"state_dict entry for {name!r} has shape {np.shape(value)}, but the module's "
                f"has shape {tuple(variable[...].shape)}"
            )
        converted[name] = jnp.asarray(value, variable[...].dtype)
    for name, value in converted.items():  # validated: now write
        assign(held[name], value)
    return module


def nnx_to_state_dict(module, *, num_batches_tracked: int = 0, as_torch: bool = False,
                      prefix: str = "") -> dict:
    """A PyTorch-style state_dict from an NNX InstanceNorm (numpy, or torch with ``as_torch``).

    A whole model is a ValueError naming its normalisation layers; for a whole model, see
    :func:`nnx_to_torch`.
    """
    held = {k: v[...] for k, v in _nnx_variables(module).items() if v is not None}
    params = {k: held[k] for k in ("scale", "bias") if k in held}
    stats = {k: held[k] for k in ("mean", "var") if k in held}
    if len(stats) == 1:
        raise ValueError(
            f"{type(module).__name__} holds {next(iter(stats))!r} but not the other running "
            "statistic; an InstanceNorm with running statistics holds mean and var"
        )
    return _to_state_dict(params, stats, num_batches_tracked, as_torch, prefix)


__all__ = [
    "flax_momentum", "torch_momentum", "to_channels_last", "to_channels_first",
    "state_dict_to_linen", "linen_to_state_dict", "load_state_dict_into_nnx", "nnx_to_state_dict",
    "torch_to_nnx", "nnx_to_torch", "torch_to_linen", "linen_to_torch", "conv_transpose_padding",
]
