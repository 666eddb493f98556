"""Argument and shape validation for the core: every core ``ValueError`` is raised here.

All checks run at trace time on static information (shapes, dtypes, Python values), so they
work unchanged under ``jax.jit``, ``vmap`` and ``shard_map`` and cost nothing per call once
compiled. Messages state the invariant, the value received and what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lucid_jax._compat import axis_size

AxisName = str | tuple[str, ...] | None


def channel_axes(ndim: int, axes: int | Sequence[int], *, flax: bool = False) -> tuple[int, ...]:
    """Sorted non-negative channel axes of an ``ndim``-array: the core's ``channel_axis``, or
    with ``flax`` the Flax modules' ``feature_axes``, in Flax's words and by Flax's rule that
    the axes are a set (a repeated axis counts once; the core refuses one).

    Axis 0 is the batch axis and never a channel axis.
    """
    argument = "feature_axes" if flax else "channel_axis"
    requested = (axes,) if isinstance(axes, int | np.integer) else axes
    if (isinstance(requested, str) or not isinstance(requested, Sequence)
            or not all(isinstance(a, int | np.integer) and not isinstance(a, bool)
                       for a in requested)):
        raise ValueError(f"{argument} must be an int or a sequence of ints, got {axes!r}")
    if not requested:
        raise ValueError(f"{argument} must name at least one axis, got an empty sequence")
    for a in requested:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{f'feature_axes={axes!r}' if flax else f'channel_axis {a}'} is out of range "
                f"for an input of rank {ndim} (expected an axis in [{-ndim}, {ndim - 1}])"
            )
    canonical = [int(a) % ndim for a in requested]
    if 0 in canonical and flax:
        # The first sentence is Flax's own, so code written against Flax still matches it.
        raise ValueError(
            "The channel axes cannot include the leading dimension as this is assumed to be "
            f"the batch axis. feature_axes={axes!r} includes axis 0 of a rank-{ndim} input; "
            "instance normalisation normalises each example separately, so name the channel "
            "axis (e.g. feature_axes=-1 for NHWC)"
        )
    if 0 in canonical:
        raise ValueError(
            f"channel_axis {axes!r} includes axis 0, the batch axis; "
            "expected the channel axis among axes 1.. (e.g. 1 for NCHW, -1 for NHWC)"
        )
    if len(set(canonical)) != len(canonical) and not flax:
        raise ValueError(f"channel_axis {axes!r} names the same axis twice")
    return tuple(sorted(set(canonical)))


EDGE_CASES = ("torch", "flax")


def check_edge_cases(edge_cases: Any) -> None:
    if edge_cases not in EDGE_CASES:
        raise ValueError(
            f"edge_cases must be 'torch' (PyTorch's errors) or 'flax' (normalise to 0 where "
            f"nothing is left to reduce), got {edge_cases!r}"
        )


def _count(channel_axis: int | Sequence[int]) -> int:
    """How many channel axes ``channel_axis`` names (before it is validated)."""
    if isinstance(channel_axis, str) or not isinstance(channel_axis, Sequence):
        return 1
    return len(channel_axis)


def check_input(x: jax.Array, channel_axis: int | Sequence[int],
                edge_cases: str = "torch") -> None:
    """``x`` is floating point with a batch axis, the channel axes and >= 1 spatial axis.

    With ``edge_cases="flax"`` no spatial axis is needed (Flax accepts ``(N, C)``).
    """
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(
            f"instance_norm expects a floating-point input, got dtype {x.dtype}; "
            "cast it first, e.g. x.astype(jnp.float32)"
        )
    expected = (2 if edge_cases == "torch" else 1) + _count(channel_axis)
    if x.ndim < expected:
        layout = "(N, C, *spatial)" if edge_cases == "torch" else "(N, C)"
        raise ValueError(
            f"instance_norm expects an input of rank >= {expected} {layout}, got rank "
            f"{x.ndim} with shape {tuple(x.shape)}: it must be at least {expected}-D"
        )


def feature_shape(x: jax.Array, channels: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x.shape[a] for a in channels)


class Layout(NamedTuple):
    """Where an input's axes are: axis 0 the batch, ``channels`` the features, the rest reduced."""

    channels: tuple[int, ...]  # sorted, non-negative
    reduce_axes: tuple[int, ...]  # every axis but 0 and the channels
    features: tuple[int, ...]  # the input's sizes on ``channels``: the parameters' shape


def layout(x: jax.Array, channel_axis: int | Sequence[int], edge_cases: str = "torch") -> Layout:
    """The layout of ``x`` (:func:`check_input`, then :func:`channel_axes`)."""
    check_input(x, channel_axis, edge_cases)
    return _layout_of(x, channel_axes(x.ndim, channel_axis))


def _layout_of(x: jax.Array, channels: tuple[int, ...]) -> Layout:
    return Layout(channels, tuple(a for a in range(1, x.ndim) if a not in channels),
                  feature_shape(x, channels))


def check_param(name: str, value: Any, x: jax.Array, layout: Layout,
                per_sample: bool) -> None:
    """``value`` has shape ``(C,)`` (or ``(N, C)`` when ``per_sample`` is allowed)."""
    if value is None:
        return
    shape = tuple(np.shape(value))
    features = layout.features
    allowed = [features] + ([(x.shape[0], *features)] if per_sample else [])
    if shape not in allowed:
        expected = " or ".join(str(s) for s in allowed)
        raise ValueError(
            f"{name} has shape {shape}, expected {expected} for the channels of an input "
            f"of shape {tuple(x.shape)}"
        )


def check_reduced_size(x: jax.Array, channels: tuple[int, ...], shards: int = 1) -> None:
    """PyTorch's rule: statistics from the input need more than one element per instance.

    ``shards`` is the number of devices an instance is split across (``axis_name``).
    """
    size = shards * int(np.prod([d for a, d in enumerate(x.shape) if a != 0 and a not in channels]))
    if size <= 1:
        raise ValueError(
            "Expected more than 1 spatial element when training, got input size "
            f"{tuple(x.shape)} ({size} element per instance); use running statistics "
            "(use_input_stats=False) or a larger input"
        )


def check_input_stats(x: jax.Array, channels: tuple[int, ...], axis_name: AxisName,
                      edge_cases: str) -> None:
    """Statistics taken from ``x``, possibly split across ``axis_name``: the axis is bound, and
    under PyTorch's rule each instance has more than one element."""
    check_axis_name(axis_name)
    if edge_cases == "torch":
        check_reduced_size(x, channels, 1 if axis_name is None else axis_size(axis_name))


def check_running_stats(running_mean: Any, running_var: Any) -> None:
    if running_mean is None or running_var is None:
        missing = [n for n, v in (("running_mean", running_mean), ("running_var", running_var))
                   if v is None]
        raise ValueError(
            f"use_input_stats=False normalises with running statistics, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} None; "
            "pass both, or use_input_stats=True"
        )


def check_momentum(momentum: Any) -> None:
    """Any finite float (PyTorch accepts values outside [0, 1]) or ``None``."""
    if momentum is None:
        return
    if isinstance(momentum, bool) or not isinstance(momentum, int | float | np.number):
        raise ValueError(f"momentum must be a finite float or None, got {momentum!r}")
    if not np.isfinite(float(momentum)):
        raise ValueError(f"momentum must be a finite float (or None to freeze), got {momentum}")


def check_eps(eps: Any) -> None:
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.floating) or eps < 0:
        raise ValueError(f"eps must be a non-negative float, got {eps!r}")


def _insert_axes_hint(channels: tuple[int, ...], ndim: int) -> str:
    """How to give a mask without the channel axes those axes back, as size-1 axes."""
    if channels == (1,):
        return "mask[:, None]"
    if channels == (ndim - 1,):
        return "mask[..., None]"
    return f"jnp.expand_dims(mask, {channels})"


def _broadcasts(shape: tuple[int, ...], x_shape: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, x_shape) == x_shape
    except ValueError:
        return False


def mask_shape(shape: tuple[int, ...], x_shape: tuple[int, ...],
               channels: tuple[int, ...]) -> tuple[int, ...]:
    """The mask rule, for the core and both Flax modules: the mask's shape with the input's
    rank (size-1 axes where it broadcasts), or a ``ValueError``.

    Two readings of a mask are considered:

    - NumPy's: trailing axes aligned, size-1 axes prepended up to the input's rank;
    - batch-first: a mask lacking only the channel axes (rank = input rank − number of
      channel axes), size-1 axes inserted at the channel axes, e.g. ``(N, H, W)`` on NCHW.

    A mask is accepted when NumPy's reading broadcasts to the input and the batch-first
    reading either does not broadcast or gives the same shape. It is refused, with both fixes,
    when both broadcast to different shapes (``(N, H, W)`` on NCHW with N == C), and refused
    when NumPy's reading does not broadcast (with ``mask[:, None]`` when the batch-first one
    would). A mask of the input's rank has one reading, NumPy's.
    """
    ndim = len(x_shape)
    numpy_reading = (1,) * (ndim - len(shape)) + tuple(shape)
    batch_first = None
    if len(shape) == ndim - len(channels) and len(shape) < ndim:
        sizes = iter(shape)
        batch_first = tuple(1 if a in channels else next(sizes) for a in range(ndim))
        if not _broadcasts(batch_first, x_shape):
            batch_first = None
    fix = _insert_axes_hint(channels, ndim)
    if len(shape) > ndim or not _broadcasts(numpy_reading, x_shape):
        hint = (f"; it looks like a mask without the channel axes: use {fix}"
                if batch_first is not None else "")
        raise ValueError(f"mask of shape {tuple(shape)} cannot be broadcast to the input's "
                         f"shape {x_shape}{hint}")
    if batch_first is not None and batch_first != numpy_reading:
        raise ValueError(
            f"mask of shape {tuple(shape)} is ambiguous on the input of shape {x_shape}: "
            f"NumPy aligns its trailing axes, reading it as {numpy_reading}, but it also fits "
            f"as a mask without the channel axes, {batch_first}. Give it the input's rank: "
            f"{fix} for the mask without the channel axes, mask.reshape({numpy_reading}) "
            f"for NumPy's reading"
        )
    return numpy_reading


def as_mask(mask: Any, x: jax.Array, channels: tuple[int, ...]) -> jax.Array | None:
    """A boolean mask of ``x``'s rank, broadcastable to ``x`` (the rule in :func:`mask_shape`);
    0/1 integers are converted, floats rejected."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if jnp.issubdtype(mask.dtype, jnp.floating) or jnp.issubdtype(mask.dtype, jnp.complexfloating):
        raise ValueError(
            f"mask must be boolean (or 0/1 integers), got dtype {mask.dtype}; "
            "use e.g. mask > 0.5 to make it boolean"
        )
    mask = mask.reshape(mask_shape(tuple(mask.shape), tuple(x.shape), channels))
    return mask if mask.dtype == jnp.bool_ else mask != 0


def check_axis_name(axis_name: AxisName, argument: str = "axis_name") -> None:
    """``axis_name`` must be bound by an enclosing ``shard_map``/``pmap``/``vmap``."""
    if axis_name is None:
        return
    names = axis_name if isinstance(axis_name, tuple) else (axis_name,)
    for name in names:
        try:
            axis_size(name)
        except NameError:
            raise ValueError(
                f"{argument}={name!r} is not bound here: call inside jax.shard_map "
                f"(or pmap/vmap) over a mesh axis named {name!r}, or pass {argument}=None"
            ) from None


def check_alpha(alpha: Any) -> ArrayLike | None:
    """AdaIN's ``alpha``: a real scalar in [0, 1], as a Python float (one compiled kernel for
    every value); ``None`` when it is exactly 1 (no blend).

    A traced ``alpha`` (under ``jit``, ``grad`` or ``vmap``) cannot be checked and is returned
    as is.
    """
    try:
        dtype = (None if alpha is None or isinstance(alpha, bool | str)
                 else jnp.result_type(alpha))
    except TypeError:
        dtype = None
    if dtype is None or jnp.ndim(alpha) != 0 or not (jnp.issubdtype(dtype, jnp.floating)
                                                     or jnp.issubdtype(dtype, jnp.integer)):
        raise ValueError(
            f"alpha must be a real scalar in [0, 1] (1 = full style, 0 = the content), "
            f"got {alpha!r}"
        )
    try:
        value = float(np.asarray(alpha))
    except jax.errors.TracerArrayConversionError:
        return alpha
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"alpha must be in [0, 1] (1 = full style, 0 = the content), got {value}; "
            "it blends alpha * adain(content, style) + (1 - alpha) * content"
        )
    return None if value == 1.0 else value


def adain_layouts(content: jax.Array, style: jax.Array,
                  channel_axis: int | Sequence[int]) -> tuple[Layout, Layout]:
    """The layouts of ``content`` and ``style`` (in place of :func:`layout`, with AdaIN's
    messages): floating point, alike in rank and channels; the style's batch 1 or the
    content's."""
    rank = 2 + _count(channel_axis)
    for name, x in (("content", content), ("style", style)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise ValueError(
                f"adain expects a floating-point {name}, got dtype {x.dtype}; cast it first, "
                f"e.g. {name}.astype(jnp.float32)"
            )
        if x.ndim < rank:
            raise ValueError(
                f"adain expects {name} of rank >= {rank}: a batch axis (axis 0), the channel "
                f"axis (channel_axis={channel_axis!r}) and spatial axes; got {name} of shape "
                f"{tuple(x.shape)} (rank {x.ndim}). A single unbatched image needs its batch "
                f"axis: {name}[None]"
            )
    if content.ndim != style.ndim:
        raise ValueError(
            f"adain expects content and style laid out alike (the same rank), got content "
            f"{tuple(content.shape)} (rank {content.ndim}) and style {tuple(style.shape)} "
            f"(rank {style.ndim}); if one is a single unbatched image, add its batch axis "
            "with [None]"
        )
    channels = channel_axes(content.ndim, channel_axis)
    content_layout, style_layout = _layout_of(content, channels), _layout_of(style, channels)
    content_c, style_c = content_layout.features, style_layout.features
    if content_c != style_c:
        raise ValueError(
            f"adain needs the same channels in content and style on channel_axis "
            f"{channel_axis!r}, got {content_c} for content {tuple(content.shape)} and "
            f"{style_c} for style {tuple(style.shape)}; are both laid out alike "
            "(channel_axis=1 for NCHW, -1 for NHWC)?"
        )
    if style.shape[0] not in (1, content.shape[0]):
        raise ValueError(
            f"adain needs a style batch (axis 0) of {content.shape[0]}, like the content, "
            f"or 1 (one style for every content image), got {style.shape[0]}: content "
            f"{tuple(content.shape)}, style {tuple(style.shape)}"
        )
    return content_layout, style_layout
