"""``lucid_jax.linen.AdaIN`` and ``lucid_jax.linen.ConditionalInstanceNorm``: channels last.

Re-exported by :mod:`lucid_jax.linen`; the math is :func:`lucid_jax.adain` and
:func:`lucid_jax.instance_norm`'s per-sample affine.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.typing import Axes, Dtype, Initializer
from jax.nn import initializers

from lucid_jax import _flax_common, _flax_style


class AdaIN(nn.Module):
    """Adaptive instance normalisation (Huang & Belongie): no parameters, channels last.

    ``__call__(content, style)`` is :func:`lucid_jax.adain` with Flax's ``feature_axes``:
    ``content`` normalised per instance, then given the style's per-instance mean and standard
    deviation. ``style`` has the content's layout and channels and a batch of the content's
    size or 1 (one style for every image); ``alpha`` in [0, 1] blends with the content:
    ``alpha * adain(content, style) + (1 - alpha) * content``.

    >>> import jax, jax.numpy as jnp
    >>> from lucid_jax.linen import AdaIN
    >>> content = jax.random.normal(jax.random.key(0), (4, 16, 16, 8))    # NHWC
    >>> style = 3 * jax.random.normal(jax.random.key(1), (1, 12, 12, 8)) + 2
    >>> layer = AdaIN(alpha=0.8)
    >>> layer.init(jax.random.key(2), content, style)                   # nothing to learn
    {}
    >>> layer.apply({}, content, style).shape
    (4, 16, 16, 8)
    """

    alpha: float = 1.0
    epsilon: float = 1e-5
    feature_axes: Axes = -1
    axis_name: str | None = None

    def __call__(self, content, style, *, content_mask: jax.Array | None = None,
                 style_mask: jax.Array | None = None):
        """Stylise ``content``; the masks select the elements that enter each statistic."""
        return _flax_style.adain(content, style, alpha=self.alpha, epsilon=self.epsilon,
                                 feature_axes=self.feature_axes, axis_name=self.axis_name,
                                 content_mask=content_mask, style_mask=style_mask)


class ConditionalInstanceNorm(nn.Module):
    """Conditional instance normalisation (Dumoulin et al.): one learned affine per class.

    Instance normalisation whose ``scale`` and ``bias`` params have shape
    ``(num_classes, *features)``; ``__call__(x, labels)`` takes an integer class per sample
    (shape ``(N,)``) and normalises each sample with its class's row (the core's per-sample
    ``(N, C)`` affine). A multi-style network shares everything else across styles. The
    other fields are ``lucid_jax.linen.InstanceNorm``'s normalisation fields (no running
    statistics).

    Labels outside ``[0, num_classes)`` raise a ``ValueError`` when they are concrete. Under
    ``jax.jit`` or ``vmap`` they are traced and cannot be checked: the gather then clamps them
    into ``[0, num_classes - 1]`` (JAX's out-of-bounds rule), silently using the first or last
    class; check them before the jitted step if they come from data.

    >>> import jax, jax.numpy as jnp
    >>> from lucid_jax.linen import ConditionalInstanceNorm
    >>> x = jax.random.normal(jax.random.key(0), (3, 8, 8, 16))
    >>> labels = jnp.array([0, 4, 4])                                  # a style per image
    >>> layer = ConditionalInstanceNorm(num_classes=5)
    >>> variables = layer.init(jax.random.key(1), x, labels)
    >>> jax.tree.map(jnp.shape, variables)
    {'params': {'bias': (5, 16), 'scale': (5, 16)}}
    >>> layer.apply(variables, x, labels).shape
    (3, 8, 8, 16)
    """

    num_classes: int
    epsilon: float = 1e-6
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Initializer = initializers.zeros
    scale_init: Initializer = initializers.ones
    feature_axes: Axes = -1
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x, labels, *, mask: jax.Array | None = None):
        """Normalise ``x``, sample ``n`` with the affine of class ``labels[n]``."""
        _flax_style.check_num_classes(self.num_classes)
        x = jnp.asarray(x)
        axes = _flax_common.feature_axes(x.ndim, self.feature_axes)
        shape = (self.num_classes, *(x.shape[a] for a in axes))
        tables = {}
        for name, used, init in (("scale", self.use_scale, self.scale_init),
                                 ("bias", self.use_bias, self.bias_init)):
            if not used:
                tables[name] = None
                continue
            if self.has_variable("params", name):  # restored: a ValueError, not Flax's
                _flax_style.check_class_param(name, jnp.shape(self.get_variable("params", name)),
                                              self.num_classes, x.shape, axes)
            tables[name] = self.param(name, init, shape, self.param_dtype)
        return _flax_style.conditional_instance_norm(
            x, labels, num_classes=self.num_classes, scale=tables["scale"], bias=tables["bias"],
            axes=axes, epsilon=self.epsilon, dtype=self.dtype, mask=mask,
            # as InstanceNorm: init need not run where the mesh axes exist
            axis_name=None if self.is_initializing() else self.axis_name)
