"""What :mod:`lucid_jax.linen` and :mod:`lucid_jax.nnx` share: argument checks, warnings and
the calls into the core, for ``InstanceNorm``, ``AdaIN`` and ``ConditionalInstanceNorm``.

Each module only declares its variables (Linen ``self.param``/``self.variable``, NNX
``nnx.Param``/``nnx.BatchStat``) and hands them to :func:`apply` (``InstanceNorm``),
:func:`conditional_instance_norm` or :func:`adain`; the math is
:func:`lucid_jax.instance_norm`, :func:`lucid_jax.adain` and the private training step
``lucid_jax._functional.instance_norm_and_update`` (not exported).

How Flax's fields map to the core:

- ``feature_axes`` -> ``channel_axis`` (axis 0 is the batch axis; all others are reduced).
- ``axis_name`` -> ``axis_name``: the mesh axis across which each *instance's spatial
  elements* are split (what Flax's InstanceNorm ``axis_name`` reduces over).
- ``batch_axis_name`` (ours) -> ``batch_axis_name``: the mesh axis that splits the *batch*
  in data-parallel training; only the running-statistics update (a batch average) uses it.
- ``momentum`` (Flax's: weight of the old value) -> ``1 - momentum`` (PyTorch's).
- ``mask``: Flax's semantics, any nonzero value counts as valid (float masks included).

Edge cases follow Flax, not PyTorch (the core runs with ``edge_cases="flax"``): an instance
with nothing to reduce (rank-2 ``(N, C)`` input, ``feature_axes`` covering every non-batch axis)
or a single element normalises to 0, so the output is ``bias``; such instances leave the
running statistics alone.

``ConditionalInstanceNorm`` (Dumoulin et al., 2017, "A Learned Representation for Artistic
Style") holds one ``scale`` and one ``bias`` row per class, shape ``(num_classes, *features)``;
each sample's label selects its rows, which :func:`apply` hands to the core as the per-sample
``(N, C)`` affine.
"""

from __future__ import annotations

import contextlib
import operator
import sys
import warnings
from collections.abc import Callable, Iterable
from numbers import Real
from types import FrameType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.linen import dtypes
from flax.typing import Axes, Dtype
from jax.typing import ArrayLike

from lucid_jax._checks import channel_axes
from lucid_jax._compat import require_flax
from lucid_jax._functional import adain as _adain
from lucid_jax._functional import instance_norm, instance_norm_and_update
from lucid_jax._momentum import torch_momentum

require_flax()  # both Flax modules import this one: an ImportError below the floor

# The paragraph of both InstanceNorm docstrings on where they follow Flax, not PyTorch; each
# formats it with its Flax counterpart, as ``flax_class``.
FOLLOWS_FLAX = """\
    Where it follows Flax rather than PyTorch (:func:`lucid_jax.instance_norm` keeps
    PyTorch's errors): an instance with nothing to reduce (a rank-2 ``(N, C)`` input,
    ``feature_axes`` covering every non-batch axis) or a single element normalises to 0, so
    the output is ``bias``, and it leaves the running statistics unchanged; a ``mask`` may
    be a float array (nonzero is valid). An instance the mask leaves empty also gives
    ``bias`` (``{flax_class}`` gives NaN).
    One deliberate difference: a lower-rank ``mask`` is read NumPy's way (trailing axes) only
    where no other reading fits; one that also fits as a mask without the channel axes
    (``(N, H, W)`` on ``(N, H, W, C)`` with N == C) is refused with the fix,
    ``mask[..., None]``, instead of silently aligning with the wrong axes.
"""


def canonical_feature_axes(ndim: int, axes: Any) -> tuple[int, ...]:
    """Sorted non-negative feature axes of an ``ndim`` input (``axes`` as the user gave them),
    by Flax's rules: an int or any iterable of integers (a NumPy array, a generator) names
    them, the batch axis is not one (Flax's error), a repeated axis counts once."""
    if isinstance(axes, Iterable) and not isinstance(axes, str):
        with contextlib.suppress(TypeError):  # not integers: channel_axes says what it expects
            axes = tuple(operator.index(a) for a in axes)
    return channel_axes(ndim, axes, flax=True)


def warn(message: str) -> None:
    """A UserWarning attributed to the first caller outside flax and lucid_jax."""
    level = 3
    caller: FrameType | None = sys._getframe(2)
    while caller is not None and caller.f_globals.get("__name__", "").partition(".")[0] in (
            "flax", "lucid_jax"):
        level, caller = level + 1, caller.f_back
    warnings.warn(message, UserWarning, stacklevel=level)


def warn_momentum(momentum: Any) -> None:
    """Warn about a momentum that looks like PyTorch's (the weight of the *new* value)."""
    if isinstance(momentum, Real) and not isinstance(momentum, bool) and momentum < 0.5:
        m = float(momentum)
        warn(f"InstanceNorm momentum={m:g} follows Flax's convention, the weight of the old "
             f"running statistics: each update keeps {m:.0%} of them and takes {1 - m:.0%} "
             "from the batch. PyTorch's momentum=0.1 is momentum=0.9 here "
             "(lucid_jax.interop.flax_momentum converts)")


def output_dtype(*args: ArrayLike | None, dtype: Dtype | None) -> Dtype:
    """Flax's result dtype: ``dtype`` if given, else the promotion of the (non-None) args."""
    return dtypes.canonicalize_dtype(*args, dtype=dtype)


def check_features(expected: tuple[int, ...], x_shape: tuple[int, ...],
                   axes: tuple[int, ...], what: str) -> None:
    """The input's sizes on ``axes`` must be the module's ``expected`` feature shape."""
    got = tuple(x_shape[a] for a in axes)
    if got != tuple(expected):
        raise ValueError(
            f"InstanceNorm {what} has feature shape {tuple(expected)}, but the input of shape "
            f"{tuple(x_shape)} has {got} on feature_axes {axes}: the channel count does not "
            "match the parameters"
        )


def check_fields(momentum: Any, axis_index_groups: Any, track_running_stats: bool,
                 use_running_average: bool | None) -> None:
    """Constructor-time checks of the InstanceNorm fields."""
    if axis_index_groups is not None:
        raise ValueError(
            f"axis_index_groups={axis_index_groups!r} is not supported by lucid_jax's "
            "InstanceNorm; use axis_name over a mesh axis of exactly the devices to reduce over"
        )
    torch_momentum(momentum)  # validates Flax's momentum in [0, 1]
    if use_running_average and not track_running_stats:
        raise _no_running_stats()


def _no_running_stats() -> ValueError:
    return ValueError(
        "use_running_average=True needs running statistics, but track_running_stats=False; "
        "build the module with track_running_stats=True (or use_running_average=False)"
    )


def resolve_use_running_average(
        track_running_stats: bool, field: bool | None, argument: bool | None,
        merge: Callable[[bool | None, bool | None], bool | None]) -> bool:
    """Whether to normalise with the running statistics.

    With tracking, ``merge(field, argument)`` decides (Linen's ``merge_param``, NNX's
    ``first_from``). Without tracking the input's statistics are always used, as in PyTorch;
    an explicit request for running statistics is an error.
    """
    if track_running_stats:
        return bool(merge(field, argument))
    if argument:
        raise _no_running_stats()
    return False


def apply(x: ArrayLike, *, scale: jax.Array | None, bias: jax.Array | None,
          mean: jax.Array | None, var: jax.Array | None, use_running_average: bool,
          update: bool, momentum: float, epsilon: float, out_dtype: Dtype,
          axes: tuple[int, ...], mask: ArrayLike | None, axis_name: str | None,
          batch_axis_name: str | None) -> tuple[jax.Array, tuple[jax.Array, jax.Array] | None]:
    """Normalise ``x``; return ``(y, (new_mean, new_var) or None)``.

    With ``update`` the running statistics ``mean`` and ``var`` are moved by Flax's
    ``momentum`` (the weight of the old value) wherever the input's own statistics normalise
    it (``use_running_average`` false); otherwise nothing is returned for them. The output has
    ``out_dtype`` (see :func:`output_dtype`). The input is only ever widened before its
    statistics are taken, never rounded to a narrower ``out_dtype``. ``mask`` has Flax's
    semantics: any nonzero value (a float mask included) counts as valid.
    """
    x = jnp.asarray(x)
    x = x.astype(jnp.promote_types(x.dtype, out_dtype))
    valid = None if mask is None else jnp.asarray(mask) != 0
    new_stats = None
    if update and not use_running_average:
        assert mean is not None and var is not None, "an update needs running statistics"
        y, new_stats = instance_norm_and_update(
            x, mean, var, scale, bias, torch_momentum(momentum), epsilon, channel_axis=axes,
            mask=valid, axis_name=axis_name, batch_axis_name=batch_axis_name, edge_cases="flax")
    else:
        y = instance_norm(x, mean, var, scale, bias, use_input_stats=not use_running_average,
                          eps=epsilon, channel_axis=axes, mask=valid, axis_name=axis_name,
                          edge_cases="flax")
    return y.astype(out_dtype), new_stats


def adain(content: ArrayLike, style: ArrayLike, *, alpha: ArrayLike, epsilon: float,
          feature_axes: Axes, axis_name: str | None, content_mask: ArrayLike | None,
          style_mask: ArrayLike | None) -> jax.Array:
    """:func:`lucid_jax.adain` with Flax's ``feature_axes`` (channels last by default)."""
    axes = canonical_feature_axes(jnp.ndim(content), feature_axes)
    return _adain(content, style, epsilon, alpha=alpha, channel_axis=axes,
                  content_mask=content_mask, style_mask=style_mask, axis_name=axis_name)


def check_num_classes(num_classes: Any) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) \
            or num_classes < 1:
        raise ValueError(
            f"ConditionalInstanceNorm needs num_classes, the number of styles, as a positive "
            f"int, got {num_classes!r}"
        )


def check_class_param(name: str, shape: tuple[int, ...], num_classes: int,
                      x_shape: tuple[int, ...], axes: tuple[int, ...]) -> None:
    """A ``scale``/``bias`` table must be ``(num_classes, *features of the input)``."""
    expected = (num_classes, *(x_shape[a] for a in axes))
    if tuple(shape) != expected:
        raise ValueError(
            f"ConditionalInstanceNorm {name} has shape {tuple(shape)}, but an input of shape "
            f"{tuple(x_shape)} with feature_axes {axes} and num_classes={num_classes} needs "
            f"{expected}: build the layer for {expected[1:]} features and {num_classes} classes"
        )


def _class_indices(labels: ArrayLike, num_classes: int, batch: int) -> jax.Array:
    """Validated ``(N,)`` integer labels; out-of-range values raise when they are concrete."""
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(
            f"ConditionalInstanceNorm labels must be integer class indices in "
            f"[0, {num_classes}), got dtype {labels.dtype}; e.g. labels.astype(jnp.int32)"
        )
    if labels.shape != (batch,):
        raise ValueError(
            f"ConditionalInstanceNorm labels must have shape ({batch},), one class index per "
            f"sample of the input's batch axis, got shape {labels.shape}; for one style "
            f"across the batch pass jnp.full(({batch},), label)"
        )
    try:
        values = np.asarray(labels)
    except jax.errors.TracerArrayConversionError:  # traced: the gather clamps (documented)
        return labels
    bad = np.flatnonzero((values < 0) | (values >= num_classes))
    if bad.size:
        raise ValueError(
            f"ConditionalInstanceNorm labels must be in [0, {num_classes}) for "
            f"num_classes={num_classes}, got {values[bad].tolist()} at batch index "
            f"{bad.tolist()}; build the layer with more classes or fix the labels"
        )
    return labels


def conditional_instance_norm(
        x: ArrayLike, labels: ArrayLike, *, num_classes: int, scale: jax.Array | None,
        bias: jax.Array | None, axes: tuple[int, ...], epsilon: float, dtype: Dtype | None,
        mask: ArrayLike | None, axis_name: str | None) -> jax.Array:
    """Normalise ``x`` with each sample's class rows of ``scale``/``bias`` as its affine.

    Under ``jit``/``vmap`` the labels are not checked; the gather clamps them into
    ``[0, num_classes - 1]`` (``jnp.take(mode="clip")``).
    """
    x = jnp.asarray(x)
    for name, table in (("scale", scale), ("bias", bias)):
        if table is not None:
            check_class_param(name, jnp.shape(table), num_classes, x.shape, axes)
    indices = _class_indices(labels, num_classes, x.shape[0])

    def rows(table: jax.Array | None) -> jax.Array | None:
        return None if table is None else jnp.take(table, indices, axis=0, mode="clip")

    scale, bias = rows(scale), rows(bias)
    y, _ = apply(
        x, scale=scale, bias=bias, mean=None, var=None, use_running_average=False,
        update=False, momentum=1.0, epsilon=epsilon, axes=axes, mask=mask,
        out_dtype=output_dtype(x, scale, bias, dtype=dtype),
        axis_name=axis_name, batch_axis_name=None)
    return y
