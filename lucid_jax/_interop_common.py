"""What the one-layer and whole-model converters of :mod:`lucid_jax.interop` share: value
conversion, the checks both make at the door, and the pieces of their error messages (nearest
names, listings, NNX paths).

Imports neither flax nor torch at import time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def to_numpy(value: Any) -> np.ndarray:
    """A copy of ``value`` (a torch tensor, JAX array, NumPy array or nested list) as NumPy."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def require_entries(state_dict: Any) -> None:
    """Raise for a state_dict without entries."""
    if len(state_dict) == 0:
        raise ValueError("the state_dict is empty: there is nothing to convert")


def require_collections(variables: Any) -> Mapping[str, Any]:
    """``variables`` if it is a mapping (of Linen collections); else raise."""
    if not isinstance(variables, Mapping):
        raise ValueError(f"expected Linen variables (a dict of collections), got "
                         f"{type(variables).__name__}")
    return variables


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


def module_prefixes(keys: Iterable[Any]) -> list[str]:
    """The distinct module prefixes (``'down.0.norm.'``) of state_dict keys, in order."""
    return list(dict.fromkeys(str(k).rpartition(".")[0] + "." for k in keys if "." in str(k)))


def nnx_path(path: Sequence[Any]) -> str:
    """An NNX module path as Python writes it: ``('down', 0, 'conv')`` -> ``model.down[0].conv``."""
    return "model" + "".join(f".{p}" if isinstance(p, str) and p.isidentifier() else f"[{p!r}]"
                             for p in path)
