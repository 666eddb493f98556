"""What the Linen and NNX style layers share: ``AdaIN`` and ``ConditionalInstanceNorm``.

``AdaIN`` is :func:`lucid_jax.adain` over Flax's ``feature_axes``. ``ConditionalInstanceNorm``
(Dumoulin et al., 2017, "A Learned Representation for Artistic Style") holds one ``scale`` and
one ``bias`` row per class, shape ``(num_classes, *features)``; each sample's label selects its
rows, which go to :func:`lucid_jax.instance_norm` as the per-sample ``(N, C)`` affine (through
the InstanceNorm modules' own :func:`lucid_jax._flax_common.apply`). Imported only by
``_linen_style.py`` and ``_nnx_style.py``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lucid_jax import _flax_common
from lucid_jax._functional import adain as _adain


def check_num_classes(num_classes: Any) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) \
            or num_classes < 1:
        raise ValueError(
            f"ConditionalInstanceNorm needs num_classes, the number of styles, as a positive "
            f"int, got {num_classes!r}"
        )


def adain(content, style, *, alpha, epsilon, feature_axes, axis_name, content_mask,
          style_mask) -> jax.Array:
    """:func:`lucid_jax.adain` with Flax's ``feature_axes`` (channels last by default)."""
    axes = _flax_common.feature_axes(jnp.ndim(content), feature_axes)
    return _adain(content, style, epsilon, alpha=alpha, channel_axis=axes,
                  content_mask=content_mask, style_mask=style_mask, axis_name=axis_name)


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


def class_indices(labels: Any, num_classes: int, batch: int) -> jax.Array:
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


def conditional_instance_norm(x, labels, *, num_classes: int, scale, bias, axes, epsilon,
                              dtype, mask, axis_name) -> jax.Array:
    """Normalise ``x`` with each sample's class rows of ``scale``/``bias`` as its affine.

    Under ``jit``/``vmap`` the labels are not checked; the gather clamps them into
    ``[0, num_classes - 1]`` (``jnp.take(mode="clip")``).
    """
    x = jnp.asarray(x)
    for name, table in (("scale", scale), ("bias", bias)):
        if table is not None:
            check_class_param(name, jnp.shape(table), num_classes, x.shape, axes)
    labels = class_indices(labels, num_classes, x.shape[0])

    def rows(table):
        return None if table is None else jnp.take(table, labels, axis=0, mode="clip")

    y, _ = _flax_common.apply(
        x, scale=rows(scale), bias=rows(bias), mean=None, var=None, use_running_average=False,
        update=False, momentum=None, epsilon=epsilon, dtype=dtype, axes=axes, mask=mask,
        axis_name=axis_name, batch_axis_name=None)
    return y
