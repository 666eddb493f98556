"""PyTorch's running-statistics momentum (weight of the new value) and Flax's (weight of the
old value), converted exactly. Dependency-free: the Flax modules import it without loading
the checkpoint converters of :mod:`lucid_jax.interop`, which re-exports both functions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np


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
