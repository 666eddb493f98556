"""What the per-layer and whole-model converters of :mod:`lucid_jax.interop` share: name tables,
value conversion, and the pieces of their error messages (nearest names, listings, NNX paths).

Imports neither flax nor torch at import time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np

# (PyTorch name, Flax name) of a normalisation layer's parameters and running statistics.
PARAMS = (("weight", "scale"), ("bias", "bias"))
STATS = (("running_mean", "mean"), ("running_var", "var"))
NORM_FLAX = frozenset(flax for _, flax in PARAMS + STATS)
COUNTER = "num_batches_tracked"


def to_numpy(value) -> np.ndarray:
    """A copy of ``value`` (a torch tensor, JAX array, NumPy array or nested list) as NumPy."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` (difflib), or ``None`` when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return close[0] if close else None


def nearest(name: str, candidates: Iterable[str]) -> str:
    """``"; nearest: 'x'"`` for the closest candidate, or ``""`` when none is close."""
    close = closest(name, candidates)
    return f"; nearest: {close!r}" if close is not None else ""


def listing(names: Sequence[str], limit: int = 12) -> str:
    """``['a', 'b', ...]`` with at most ``limit`` names and a count of the rest."""
    names = list(dict.fromkeys(names))
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return f"[{shown}{more}]"


def module_prefixes(keys: Iterable[str]) -> list[str]:
    """The distinct module prefixes (``'down.0.norm.'``) of state_dict keys, in order."""
    return list(dict.fromkeys(str(k).rpartition(".")[0] + "." for k in keys if "." in str(k)))


def nnx_path(path: Sequence) -> str:
    """An NNX module path as Python writes it: ``('down', 0, 'conv')`` -> ``model.down[0].conv``."""
    return "model" + "".join(f".{p}" if isinstance(p, str) and p.isidentifier() else f"[{p!r}]"
                             for p in path)
