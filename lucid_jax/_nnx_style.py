"""``lucid_jax.nnx.AdaIN`` and ``lucid_jax.nnx.ConditionalInstanceNorm``: channels last.

Re-exported by :mod:`lucid_jax.nnx`; the math is :func:`lucid_jax.adain` and
:func:`lucid_jax.instance_norm`'s per-sample affine.
"""

from __future__ import annotations

import typing as tp
from types import MappingProxyType

import jax
import jax.numpy as jnp
from flax import nnx
from flax.typing import Axes, Dtype, Initializer
from jax.nn import initializers

from lucid_jax import _checks, _flax_common, _flax_style


class AdaIN(nnx.Module):
    """Adaptive instance normalisation (Huang & Belongie): no parameters, channels last.

    ``__call__(content, style)`` is :func:`lucid_jax.adain` with Flax's ``feature_axes``.
    ``style`` has the content's layout and channels and a batch of the content's size or 1
    (one style for every image); ``alpha`` in [0, 1] blends with the content:
    ``alpha * adain(content, style) + (1 - alpha) * content``.

    >>> import jax, jax.numpy as jnp
    >>> from lucid_jax.nnx import AdaIN
    >>> content = jax.random.normal(jax.random.key(0), (4, 16, 16, 8))    # NHWC
    >>> style = 3 * jax.random.normal(jax.random.key(1), (1, 12, 12, 8)) + 2
    >>> AdaIN(alpha=0.8)(content, style).shape
    (4, 16, 16, 8)
    """

    def __init__(self, *, alpha: float = 1.0, epsilon: float = 1e-5, feature_axes: Axes = -1,
                 axis_name: str | None = None):
        _checks.check_alpha(alpha)
        _checks.check_eps(epsilon)
        self.alpha = alpha
        self.epsilon = epsilon
        self.feature_axes = feature_axes
        self.axis_name = axis_name

    def __call__(self, content, style, *, content_mask: jax.Array | None = None,
                 style_mask: jax.Array | None = None):
        """Stylise ``content``; the masks select the elements that enter each statistic."""
        return _flax_style.adain(content, style, alpha=self.alpha, epsilon=self.epsilon,
                                 feature_axes=self.feature_axes, axis_name=self.axis_name,
                                 content_mask=content_mask, style_mask=style_mask)


class ConditionalInstanceNorm(nnx.Module):
    """Conditional instance normalisation (Dumoulin et al.): one learned affine per class.

    ``scale`` and ``bias`` (``nnx.Param``) have shape ``(num_classes, num_features)``;
    ``__call__(x, labels)`` takes an integer class per sample (shape ``(N,)``) and normalises
    each sample with its class's row (the core's per-sample ``(N, C)`` affine). The other
    arguments are ``lucid_jax.nnx.InstanceNorm``'s normalisation ones (no running statistics).

    Labels outside ``[0, num_classes)`` raise a ``ValueError`` when they are concrete. Under
    ``nnx.jit``/``jax.jit`` or ``vmap`` they are traced and cannot be checked: the gather then
    clamps them into ``[0, num_classes - 1]`` (JAX's out-of-bounds rule), silently using the
    first or last class; check them before the jitted step if they come from data.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from lucid_jax.nnx import ConditionalInstanceNorm
    >>> layer = ConditionalInstanceNorm(5, 16, rngs=nnx.Rngs(0))
    >>> layer.scale.shape
    (5, 16)
    >>> x = jax.random.normal(jax.random.key(0), (3, 8, 8, 16))
    >>> layer(x, jnp.array([0, 4, 4])).shape
    (3, 8, 8, 16)
    """

    def __init__(
        self,
        num_classes: int,
        num_features: int | tp.Sequence[int],
        *,
        epsilon: float = 1e-6,
        dtype: Dtype | None = None,
        param_dtype: Dtype = jnp.float32,
        use_bias: bool = True,
        use_scale: bool = True,
        bias_init: Initializer = initializers.zeros,
        scale_init: Initializer = initializers.ones,
        feature_axes: Axes = -1,
        axis_name: str | None = None,
        rngs: nnx.Rngs,
        bias_metadata: tp.Mapping[str, tp.Any] = MappingProxyType({}),
        scale_metadata: tp.Mapping[str, tp.Any] = MappingProxyType({}),
    ):
        _flax_style.check_num_classes(num_classes)
        features = (num_features,) if isinstance(num_features, int) else tuple(num_features)
        shape = (num_classes, *features)
        self.scale: nnx.Param | None = nnx.Param(
            scale_init(rngs.params(), shape, param_dtype), **scale_metadata) if use_scale else None
        self.bias: nnx.Param | None = nnx.Param(
            bias_init(rngs.params(), shape, param_dtype), **bias_metadata) if use_bias else None
        self.num_classes = num_classes
        self.num_features = num_features
        self.epsilon = epsilon
        self.dtype = dtype
        self.param_dtype = param_dtype
        self.use_bias = use_bias
        self.use_scale = use_scale
        self.feature_axes = feature_axes
        self.axis_name = axis_name

    def __call__(self, x, labels, *, mask: jax.Array | None = None):
        """Normalise ``x``, sample ``n`` with the affine of class ``labels[n]``."""
        x = jnp.asarray(x)
        return _flax_style.conditional_instance_norm(
            x, labels, num_classes=self.num_classes,
            scale=None if self.scale is None else self.scale[...],
            bias=None if self.bias is None else self.bias[...],
            axes=_flax_common.feature_axes(x.ndim, self.feature_axes), epsilon=self.epsilon,
            dtype=self.dtype, mask=mask, axis_name=self.axis_name)
