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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
from flax.linen import dtypes

from lucid_jax._functional import instance_norm, update_running_stats
from lucid_jax.interop import torch_momentum


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
            f"feature_axes={axes!r} includes axis 0, the batch axis of a rank-{ndim} input; "
            "InstanceNorm normalises each example separately, so name the channel axis "
            "(e.g. feature_axes=-1 for NHWC)"
        )
    return canonical


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
          momentum: float, epsilon: float, dtype, axes: tuple[int, ...], mask,
          axis_name, batch_axis_name):
    """Normalise ``x``; return ``(y, (new_mean, new_var) or None)``.

    The output dtype is Flax's: ``dtype`` if given, else the promotion of the input and the
    parameters. The input is never rounded before its statistics are taken.
    """
    x = jnp.asarray(x)
    out_dtype = dtypes.canonicalize_dtype(x, scale, bias, dtype=dtype)
    x = x.astype(jnp.promote_types(x.dtype, out_dtype))
    y = instance_norm(x, mean, var, scale, bias, use_input_stats=not use_running_average,
                      eps=epsilon, channel_axis=axes, mask=mask, axis_name=axis_name)
    new_stats = None
    if update and not use_running_average:
        new_stats = update_running_stats(
            jax.lax.stop_gradient(x), mean, var, torch_momentum(momentum),
            channel_axis=axes, mask=mask, axis_name=axis_name, batch_axis_name=batch_axis_name)
    return y.astype(out_dtype), new_stats
