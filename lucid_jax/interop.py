"""PyTorch / lucid InstanceNorm checkpoints <-> Flax variables, momentum and layout conversion.

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

from decimal import Decimal
from typing import Any

import numpy as np

_PARAMS = (("weight", "scale"), ("bias", "bias"))
_STATS = (("running_mean", "mean"), ("running_var", "var"))


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

def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def _split(state_dict, prefix: str) -> tuple[dict, dict]:
    """The params and batch_stats (Flax names, numpy values) held under ``prefix``."""
    keys = {k[len(prefix):]: k for k in state_dict if str(k).startswith(prefix)}
    known = {torch for torch, _ in _PARAMS + _STATS} | {"num_batches_tracked"}
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
        groups.append({flax: _numpy(state_dict[keys[torch]]) for torch, flax in pairs
                       if torch in keys})
    params, stats = groups
    shapes = {np.shape(v) for v in (*params.values(), *stats.values())}
    if len(shapes) > 1:
        raise ValueError(f"InstanceNorm state_dict entries have different shapes {sorted(shapes)}")
    return params, stats


def state_dict_to_linen(state_dict, *, prefix: str = "") -> dict:
    """Linen variables ``{'params': {scale, bias}, 'batch_stats': {mean, var}}`` from a state_dict.

    Collections the state_dict has no entries for (``affine=False``, no tracking) are left
    out. ``prefix`` selects one layer of a whole model's state_dict (e.g. ``"norm1."``).
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
            out[torch_name] = _numpy(params[flax_name])
    if stats:
        for torch_name, flax_name in _STATS:
            out[torch_name] = _numpy(stats[flax_name])
        out["num_batches_tracked"] = np.array(num_batches_tracked, np.int64)
    if as_torch:
        import torch
        out = {k: torch.from_numpy(v) for k, v in out.items()}
    return {prefix + k: v for k, v in out.items()}


def linen_to_state_dict(variables, *, num_batches_tracked: int = 0, as_torch: bool = False,
                        prefix: str = "") -> dict:
    """A PyTorch-style state_dict (numpy arrays, or torch tensors with ``as_torch``) from
    Linen variables (the layer's own, e.g. ``variables['params']['norm']`` re-nested)."""
    return _to_state_dict(dict(variables.get("params", {})),
                          dict(variables.get("batch_stats", {})), num_batches_tracked,
                          as_torch, prefix)


def _nnx_variables(module) -> dict:
    return {name: getattr(module, name, None) for name in ("scale", "bias", "mean", "var")}


def load_state_dict_into_nnx(module, state_dict, *, prefix: str = ""):
    """Write a state_dict's values into an NNX InstanceNorm (in place); returns the module.

    The module must hold the same variables as the state_dict (``use_scale``/``use_bias`` for
    ``affine=True``, ``track_running_stats=True`` for running statistics) with the same shapes.
    Everything is checked and converted before anything is written: a load that raises leaves
    the module exactly as it was.
    """
    import jax.numpy as jnp

    params, stats = _split(state_dict, prefix)
    values = {**params, **stats}
    held = _nnx_variables(module)
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
        held[name][...] = value
    return module


def nnx_to_state_dict(module, *, num_batches_tracked: int = 0, as_torch: bool = False,
                      prefix: str = "") -> dict:
    """A PyTorch-style state_dict from an NNX InstanceNorm (numpy, or torch with ``as_torch``)."""
    held = {k: v[...] for k, v in _nnx_variables(module).items() if v is not None}
    params = {k: held[k] for k in ("scale", "bias") if k in held}
    stats = {k: held[k] for k in ("mean", "var") if k in held}
    return _to_state_dict(params, stats, num_batches_tracked, as_torch, prefix)


__all__ = [
    "flax_momentum", "torch_momentum", "to_channels_last", "to_channels_first",
    "state_dict_to_linen", "linen_to_state_dict", "load_state_dict_into_nnx", "nnx_to_state_dict",
]
