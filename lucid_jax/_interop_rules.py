"""One rule per layer type that :mod:`lucid_jax.interop` converts: the table :data:`RULES`.

A rule says which Flax layers it covers, what PyTorch calls each of their variables, how a
PyTorch weight is laid out as a Flax kernel, which Flax variables are PyTorch buffers, and
which settings a state_dict does not carry must agree. The converters read nothing else about
a layer type: adding one is adding a rule here (and a test in ``tests/flax/test_port_model.py``).

Imports neither flax nor torch: Flax classes are named by attribute and looked up in the
imported ``flax.linen`` / ``flax.nnx`` (no object is of their classes before they are).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lucid_jax._momentum import flax_momentum

Perm = tuple[int, ...]
# (perm, flip): ``np.transpose(torch_weight, perm)`` is the Flax kernel, spatial axes reversed
# when ``flip``. Takes the Flax layer and the kernel's number of dimensions.
Layout = Callable[[Any, int], tuple[Perm, bool]]
# The sentences naming each setting in which a Flax layer computes something else than the
# PyTorch layer it is ported from; takes (PyTorch layer, Flax layer).
Check = Callable[[Any, Any], list[str]]


@dataclass(frozen=True)
class LayerRule:
    """How one layer type converts between a PyTorch state_dict and Flax variables."""

    described: str
    """The layer type in the "supported: ..." message."""
    torch: tuple[str, ...]
    """The PyTorch classes it ports (documentation; the state_dict carries no class)."""
    linen: tuple[str, ...]
    """``flax.linen`` classes it covers, matched by ``isinstance``; with ``nnx`` both empty,
    it covers every module whose variables are all among :attr:`params` and :attr:`buffers`."""
    nnx: tuple[str, ...]
    """``flax.nnx`` classes it covers."""
    params: tuple[tuple[str, str], ...]
    """(Flax name, PyTorch name) of the trained parameters (Linen collection ``params``), in
    PyTorch's order."""
    buffers: tuple[tuple[str, str], ...] = ()
    """(Flax name, PyTorch name) of the running statistics (Linen collection ``batch_stats``)."""
    required: frozenset[str] = frozenset()
    """Flax variables a layer of a listed class must hold."""
    layouts: Mapping[str, Layout] = field(default_factory=dict)
    """Flax variable -> its layout; a variable not named here has PyTorch's layout."""
    counter: str | None = None
    """The buffer PyTorch adds to a layer holding the first of :attr:`buffers`; Flax keeps
    none: read and dropped on the way in, written from an argument on the way out."""
    configured_by: tuple[str, str] | None = None
    """(PyTorch attribute, Flax attribute) that mark the layers whose :attr:`hyperparameters`
    are compared: those of a Flax module holding no variables too."""
    hyperparameters: tuple[Check, ...] = ()
    """The comparisons of those settings, each naming what differs and the argument that fixes
    it."""

    @property
    def flax_names(self) -> frozenset[str]:
        return frozenset(flax for flax, _ in self.params + self.buffers)

    @property
    def torch_names(self) -> dict[str, str]:
        """Flax name -> PyTorch name, parameters then buffers."""
        return dict(self.params + self.buffers)

    def covers(self, module: Any) -> bool:
        """Whether ``module`` is of one of the listed classes (never, for a rule listing none)."""
        classes = _classes("flax.linen", self.linen) + _classes("flax.nnx", self.nnx)
        return isinstance(module, classes)

    def fits(self, names: Iterable[str]) -> bool:
        """Whether a layer of this type may hold exactly the Flax variables ``names``."""
        names = set(names)
        return self.required <= names <= self.flax_names

    def mismatches(self, torch_module: Any, flax_module: Any) -> list[str]:
        return [m for check in self.hyperparameters for m in check(torch_module, flax_module)]


def _classes(module: str, names: tuple[str, ...]) -> tuple[type, ...]:
    imported = sys.modules.get(module)  # not imported yet: nothing is an instance of its classes
    if imported is None:
        return ()
    return tuple(getattr(imported, name) for name in names)


def rule_for(module: Any, names: Iterable[str]) -> LayerRule | None:
    """The rule converting ``module`` holding the Flax variables ``names``, or None.

    A module of a listed class gets its rule or none (a ``Conv`` without a kernel is not
    converted); any other module, the first rule without classes that its variables fit.
    """
    names = set(names)
    for rule in RULES:
        if rule.covers(module):
            return rule if rule.fits(names) else None
    return next((r for r in RULES if not r.linen + r.nnx and r.fits(names)), None)


def supported() -> str:
    """The layer types there are rules for, as error messages list them."""
    *first, last = [rule.described for rule in RULES]
    return f"{', '.join(first)}, and {last}"


# ------------------------------------------------------------------------------------ layouts

def _linear(module: Any, ndim: int) -> tuple[Perm, bool]:
    return (1, 0), False  # (O, I) <-> (I, O)


def _conv(module: Any, ndim: int) -> tuple[Perm, bool]:
    return (*range(2, ndim), 1, 0), False  # (O, I, *k) <-> (*k, I, O)


def _conv_transpose(module: Any, ndim: int) -> tuple[Perm, bool]:
    spatial = tuple(range(2, ndim))
    if module.transpose_kernel:  # Flax flips and swaps itself: the kernel is (*k, O, I)
        return (*spatial, 1, 0), False
    # (I, O, *k) -> (*k, I, O), and the spatial flip that makes PyTorch's transposed
    # convolution (the gradient of a convolution) out of Flax's lax.conv_transpose
    return (*spatial, 0, 1), True


# ----------------------------------------------------------------------------- hyperparameters

def _same(a: float | None, b: float | None) -> bool:
    return a is b or (a is not None and b is not None
                      and bool(np.isclose(a, b, rtol=1e-6, atol=0.0)))


def _epsilon(torch_module: Any, flax_module: Any) -> list[str]:
    if _same(float(torch_module.eps), float(flax_module.epsilon)):
        return []
    return [f"eps {torch_module.eps} in PyTorch, epsilon {flax_module.epsilon} in Flax: "
            f"construct it with epsilon={torch_module.eps}"]


def _num_groups(torch_module: Any, flax_module: Any) -> list[str]:
    if not (hasattr(flax_module, "num_groups") and hasattr(torch_module, "num_groups")) or (
            torch_module.num_groups == flax_module.num_groups):
        return []
    return [f"num_groups {torch_module.num_groups} in PyTorch, {flax_module.num_groups} in "
            f"Flax: construct it with num_groups={torch_module.num_groups}"]


def _affine(torch_module: Any, flax_module: Any) -> list[str]:
    found = []
    for torch_name, flax_name in (("weight", "use_scale"), ("bias", "use_bias")):
        held = getattr(torch_module, torch_name, None) is not None
        if hasattr(flax_module, flax_name) and bool(getattr(flax_module, flax_name)) != held:
            setting = ("affine" if hasattr(torch_module, "affine")  # LayerNorm's names:
                       else "elementwise_affine" if torch_name == "weight" else "bias")
            found.append(f"{setting}={held} in PyTorch ({torch_name} "
                         f"{'present' if held else 'None'}), {flax_name}="
                         f"{getattr(flax_module, flax_name)} in Flax: construct it with "
                         f"{flax_name}={held}")
    return found


def _tracking(torch_module: Any) -> bool:
    return bool(getattr(torch_module, "track_running_stats", False))


def _track_running_stats(torch_module: Any, flax_module: Any) -> list[str]:
    tracking = _tracking(torch_module)
    if not (hasattr(flax_module, "track_running_stats")
            and hasattr(torch_module, "track_running_stats")) or (
            tracking == bool(flax_module.track_running_stats)):
        return []
    return [f"track_running_stats={tracking} in PyTorch, track_running_stats="
            f"{flax_module.track_running_stats} in Flax: construct it with "
            f"track_running_stats={tracking}"]


def _momentum(torch_module: Any, flax_module: Any) -> list[str]:
    if not (_tracking(torch_module) and hasattr(flax_module, "momentum")
            and hasattr(torch_module, "momentum")):
        return []
    momentum = torch_module.momentum
    if momentum is None and "InstanceNorm" not in type(torch_module).__name__:
        return [f"momentum=None in PyTorch (a cumulative average of all batches), which no "
                f"Flax momentum reproduces; momentum {flax_module.momentum} in Flax"]
    wanted = flax_momentum(momentum)  # InstanceNorm's None freezes, as Flax's 1.0
    if _same(wanted, float(flax_module.momentum)):
        return []
    return [f"momentum {momentum} in PyTorch (Flax's convention: {wanted}, the weight of the "
            f"old value), momentum {flax_module.momentum} in Flax: construct it with "
            f"momentum={wanted}"]


# -------------------------------------------------------------------------------------- table

COUNTER = "num_batches_tracked"

CONV = LayerRule(
    "Conv", torch=("Conv1d", "Conv2d", "Conv3d"), linen=("Conv",), nnx=("Conv",),
    params=(("kernel", "weight"), ("bias", "bias")), required=frozenset({"kernel"}),
    layouts={"kernel": _conv},
)
CONV_TRANSPOSE = LayerRule(
    "ConvTranspose", torch=("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"),
    linen=("ConvTranspose",), nnx=("ConvTranspose",),
    params=(("kernel", "weight"), ("bias", "bias")), required=frozenset({"kernel"}),
    layouts={"kernel": _conv_transpose},
)
LINEAR = LayerRule(
    "Linear/Dense", torch=("Linear",), linen=("Dense",), nnx=("Linear",),
    params=(("kernel", "weight"), ("bias", "bias")), required=frozenset({"kernel"}),
    layouts={"kernel": _linear},
)
# lucid_jax's InstanceNorm, Flax's BatchNorm, GroupNorm, LayerNorm, and any module like them
NORMALISATION = LayerRule(
    "normalisation layers holding scale/bias/mean/var (InstanceNorm, BatchNorm, GroupNorm, "
    "LayerNorm)",
    torch=("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "BatchNorm1d", "BatchNorm2d",
           "BatchNorm3d", "GroupNorm", "LayerNorm"),
    linen=(), nnx=(),
    params=(("scale", "weight"), ("bias", "bias")),
    buffers=(("mean", "running_mean"), ("var", "running_var")),
    counter=COUNTER,
    configured_by=("eps", "epsilon"),
    hyperparameters=(_epsilon, _num_groups, _affine, _track_running_stats, _momentum),
)
RULES: tuple[LayerRule, ...] = (CONV, CONV_TRANSPOSE, LINEAR, NORMALISATION)
