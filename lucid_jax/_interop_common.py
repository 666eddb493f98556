"""What the one-layer and whole-model converters of :mod:`lucid_jax.interop` share: value
conversion, the checks both make at the door, and the pieces of their error messages (nearest
names, listings, NNX paths).

Imports neither flax nor torch at import time.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def to_numpy(value: Any) -> np.ndarray:
    """A copy of ``value`` (a torch tensor, JAX array, NumPy array or nested list) as NumPy."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def require_entries(state_dict: Any) -> Mapping[Any, Any]:
    """``state_dict`` if it is a mapping with entries; else raise."""
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"expected a state_dict (a mapping of names to arrays), got "
                         f"{type(state_dict).__name__}")
    if len(state_dict) == 0:
        raise ValueError("the state_dict is empty: there is nothing to convert")
    return state_dict


def require_collections(variables: Any, *, one_layer: bool = False) -> Mapping[str, Any]:
    """``variables`` if it is a mapping of Linen collections; else raise. With ``one_layer``,
    only ``params`` and ``batch_stats`` are allowed (a whole model's other collections are
    ignored)."""
    expected = "expected Linen variables"
    if not isinstance(variables, Mapping):
        raise ValueError(f"{expected} (a dict of collections), got {type(variables).__name__}")
    other = sorted(str(k) for k in variables if k not in ("params", "batch_stats"))
    if one_layer and other:
        raise ValueError(
            f"{expected} {{'params': ..., 'batch_stats': ...}}, got the keys {other}; wrap one "
            "layer's parameters as {'params': {'scale': ..., 'bias': ...}}"
        )
    return variables


def require_count(count: Any, name: str = "num_batches_tracked",
                  expected: str = "an int") -> int:
    """A counter's value (an int, or an integer NumPy/JAX/torch scalar) as an int; anything
    else is a TypeError."""
    try:
        return operator.index(count)
    except TypeError:
        raise TypeError(f"{name} must be {expected}, got {type(count).__name__}") from None


def nnx_variables(module: Any) -> dict[str, Any]:
    """The ``nnx.Param`` and ``nnx.BatchStat`` variables an NNX module holds itself (not its
    submodules), by attribute name."""
    from flax import nnx

    return {name: v for name, v in vars(module).items()
            if isinstance(v, nnx.Param | nnx.BatchStat)}


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` (difflib), or ``None`` when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return close[0] if close else None


def nearest(name: str, candidates: Iterable[str]) -> str:
    """``"; nearest: 'x'"`` for the closest candidate, or ``""`` when none is close."""
    close = closest(name, candidates)
    return f"; nearest: {close!r}" if close is not None else ""


def listing(names: Iterable[str], limit: int = 12) -> str:
    """``['a', 'b', ...]`` with at most ``limit`` names and a count of the rest."""
    unique = list(dict.fromkeys(names))
    shown = ", ".join(repr(n) for n in unique[:limit])
    more = f", ... ({len(unique) - limit} more)" if len(unique) > limit else ""
    return f"[{shown}{more}]"


def module_keys(state_dict: Mapping[Any, Any]) -> dict[str, dict[str, Any]]:
    """The keys of a state_dict by module prefix (``'down.0.norm.'``) and last component
    (``'weight'``), in order; keys without a prefix are left out."""
    groups: dict[str, dict[str, Any]] = {}
    for key in state_dict:
        head, _, tail = str(key).rpartition(".")
        if head:
            groups.setdefault(head + ".", {})[tail] = key
    return groups


def nnx_path(path: Sequence[Any]) -> str:
    """An NNX module path as Python writes it: ``('down', 0, 'conv')`` -> ``model.down[0].conv``."""
    return "model" + "".join(f".{p}" if isinstance(p, str) and p.isidentifier() else f"[{p!r}]"
                             for p in path)
