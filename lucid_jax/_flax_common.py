"""What the Linen and NNX InstanceNorm modules share: argument checks and the call to the core.

Each module only declares its variables (Linen ``self.param``/``self.variable``, NNX
``nnx.Param``/``nnx.BatchStat``) and hands them to :func:`apply`; the normalisation and the
running-statistics update are :func:`lucid_jax.instance_norm` and
:func:`lucid_jax.update_running_stats`. Imported only by ``linen.py`` and ``nnx.py``.

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
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import jax.numpy as jnp
from flax.linen import dtypes

from lucid_jax._compat import require_flax
from lucid_jax._functional import instance_norm, instance_norm_and_update
from lucid_jax._momentum import torch_momentum

require_flax()  # both Flax modules import this one: an ImportError below the floor


def feature_axes(ndim: int, axes: Any) -> tuple[int, ...]:
    """Sorted non-negative feature axes of an ``ndim`` input; the batch axis is not one."""
    requested = tuple(axes) if isinstance(axes, Iterable) else (axes,)
    for a in requested:
        if not -ndim <= int(a) < ndim:
            raise ValueError(
                f"feature_axes={axes!r} is out of range for an input of rank {ndim}"
            )
    canonical = tuple(sorted({int(a) % ndim for a in requested}))
    if 0 in canonical:
        raise ValueError(
            "The channel axes cannot include the leading dimension as this is assumed to be "
            f"the batch axis. feature_axes={axes!r} includes axis 0 of a rank-{ndim} input; "
            "InstanceNorm normalises each example separately, so name the channel axis "
            "(e.g. feature_axes=-1 for NHWC)"
        )
    return canonical


def _warn(message: str) -> None:
    """A UserWarning attributed to the first caller outside flax and lucid_jax."""
    level, frame = 3, sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in (
            "flax", "lucid_jax"):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level)


def warn_momentum(momentum: Any) -> None:
    """Warn about a momentum that looks like PyTorch's (the weight of the *new* value)."""
    if isinstance(momentum, Real) and not isinstance(momentum, bool) and momentum < 0.5:
        m = float(momentum)
        _warn(f"InstanceNorm momentum={m:g} follows Flax's convention, the weight of the old "
              f"running statistics: each update keeps {m:.0%} of them and takes {1 - m:.0%} "
              "from the batch. PyTorch's momentum=0.1 is momentum=0.9 here "
              "(lucid_jax.interop.flax_momentum converts)")


def warn_linen_epsilon(epsilon: Any) -> None:
    """Warn about ``InstanceNorm(64)``: Linen's first field is epsilon, not a feature count."""
    if isinstance(epsilon, Integral) and not isinstance(epsilon, bool) and epsilon >= 1:
        _warn(f"InstanceNorm epsilon={epsilon}: the first field of the Linen InstanceNorm is "
              "epsilon, not the number of features. Linen infers the feature count from the "
              f"input: drop the {epsilon}, or pass a float such as epsilon=1e-5 if you meant "
              "epsilon")


def output_dtype(*args, dtype) -> Any:
    """Flax's result dtype: ``dtype`` if given, else the promotion of the (non-None) args."""
    return dtypes.canonicalize_dtype(*args, dtype=dtype)


def unrounded(x, promoted):
    """``promoted`` unless it is a narrower dtype than ``x``: statistics never see a rounded
    input (Flax's default ``promote_dtype`` casts the input to ``dtype`` first)."""
    x, promoted = jnp.asarray(x), jnp.asarray(promoted)
    return promoted if jnp.promote_types(x.dtype, promoted.dtype) == promoted.dtype else x


def flax_mask(mask):
    """Flax's mask semantics: any nonzero value (a float mask included) counts as valid."""
    return None if mask is None else jnp.asarray(mask) != 0


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
                 use_running_average: Any) -> None:
    """Constructor-time checks shared by both modules."""
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


def resolve_use_running_average(track_running_stats: bool, field: bool | None,
                                argument: bool | None, merge) -> bool:
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


def apply(x, *, scale, bias, mean, var, use_running_average: bool, update: bool,
          momentum: float, epsilon: float, out_dtype, axes: tuple[int, ...], mask,
          axis_name, batch_axis_name):
    """Normalise ``x``; return ``(y, (new_mean, new_var) or None)``.

    The output has ``out_dtype`` (see :func:`output_dtype`). The input is only ever widened
    before its statistics are taken, never rounded to a narrower ``out_dtype``.
    """
    x = jnp.asarray(x)
    x = x.astype(jnp.promote_types(x.dtype, out_dtype))
    mask = flax_mask(mask)
    new_stats = None
    if update and not use_running_average:
        y, new_stats = instance_norm_and_update(
            x, mean, var, scale, bias, torch_momentum(momentum), epsilon, channel_axis=axes,
            mask=mask, axis_name=axis_name, batch_axis_name=batch_axis_name, edge_cases="flax")
    else:
        y = instance_norm(x, mean, var, scale, bias, use_input_stats=not use_running_average,
                          eps=epsilon, channel_axis=axes, mask=mask, axis_name=axis_name,
                          edge_cases="flax")
    return y.astype(out_dtype), new_stats
