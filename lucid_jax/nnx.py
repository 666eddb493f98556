"""Flax NNX modules, channels last: ``InstanceNorm``, a drop-in for ``flax.nnx.InstanceNorm``
with PyTorch's running statistics when you ask for them, and the style-transfer layers
``AdaIN`` and ``ConditionalInstanceNorm``.

``InstanceNorm`` has the same arguments and defaults as Flax's (the same ``nnx.Param``
state), plus ``track_running_stats``, ``use_running_average``, ``momentum`` and
``batch_axis_name``. The normalisation is :func:`lucid_jax.instance_norm`; ``AdaIN`` is
:func:`lucid_jax.adain`, and ``ConditionalInstanceNorm`` the core's per-sample affine.
"""

from __future__ import annotations

import typing as tp
from types import MappingProxyType

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn import dtypes
from flax.typing import Axes, Dtype, Initializer
from jax.nn import initializers
from jax.typing import ArrayLike

from lucid_jax import _checks, _flax_shared
from lucid_jax._compat import assign


def _unrounded(x: ArrayLike, promoted: ArrayLike) -> jax.Array:
    """``promoted`` unless it is a narrower dtype than ``x``: statistics never see a rounded
    input (Flax's default ``promote_dtype`` casts the input to ``dtype`` first)."""
    x, promoted = jnp.asarray(x), jnp.asarray(promoted)
    return promoted if jnp.promote_types(x.dtype, promoted.dtype) == promoted.dtype else x


class InstanceNorm(nnx.Module):
    __doc__ = """Instance normalisation, channels last, with optional PyTorch running statistics.

    Without ``track_running_stats`` it is ``flax.nnx.InstanceNorm`` (the same ``scale``/``bias``
    ``nnx.Param`` state). With ``track_running_stats=True`` it also holds ``mean`` and ``var``
    (``nnx.BatchStat``, shape ``(num_features,)``), updated by PyTorch's rule (batch average of
    each instance's mean and unbiased variance) on every call with
    ``use_running_average=False``. ``model.train()`` / ``model.eval()`` switch the attribute
    ``use_running_average``; a call argument takes precedence, as in ``nnx.BatchNorm``. Without
    tracking, ``eval()`` changes nothing (PyTorch's rule: no running statistics, input
    statistics), but asking for running statistics explicitly is a ``ValueError``.

    The arguments beyond Flax's InstanceNorm:

    Args:
      track_running_stats: keep running statistics (PyTorch's ``track_running_stats``).
      use_running_average: normalise with the running statistics (evaluation).
      momentum: Flax's convention, the weight of the *old* value: PyTorch's 0.1 is 0.9
        (see :func:`lucid_jax.interop.flax_momentum`). Below 0.5 it warns at construction.
      batch_axis_name: the mesh axis splitting the batch, over which the running-statistics
        update averages; ``axis_name`` is the one splitting each instance's spatial elements.

""" + _flax_shared.FOLLOWS_FLAX.format(flax_class="flax.nnx.InstanceNorm") + """
    ``dtype``, ``param_dtype`` and ``promote_dtype`` (the default included) mean what they
    mean in Flax: ``promote_dtype`` is applied to ``(x, scale, bias)`` and the output dtype
    is Flax's. One exception keeps the statistics accurate: they are taken on the input as
    given whenever the promotion would round it to a narrower dtype (``dtype=jnp.bfloat16``
    on a float32 input), in at least float32 by an accurate algorithm, so
    ``use_fast_variance`` has no effect. ``axis_index_groups`` must be ``None``.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from lucid_jax.nnx import InstanceNorm
    >>> layer = InstanceNorm(3, track_running_stats=True, momentum=0.9, rngs=nnx.Rngs(0))
    >>> x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3)) + 4.0
    >>> y = layer(x)                                   # training: updates mean and var
    >>> layer.mean[...].round(1)
    Array([0.4, 0.4, 0.4], dtype=float32)
    >>> layer.eval()
    >>> y_eval = layer(x)                              # running statistics, left untouched
    """

    def __init__(
        self,
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
        axis_index_groups: tp.Any = None,
        use_fast_variance: bool = True,
        promote_dtype: tp.Callable[..., tp.Any] = dtypes.promote_dtype,
        rngs: nnx.Rngs,
        bias_metadata: tp.Mapping[str, tp.Any] = MappingProxyType({}),
        scale_metadata: tp.Mapping[str, tp.Any] = MappingProxyType({}),
        track_running_stats: bool = False,
        use_running_average: bool | None = False,
        momentum: float = 0.99,
        batch_axis_name: str | None = None,
    ) -> None:
        _flax_shared.check_fields(momentum, axis_index_groups, track_running_stats,
                                  use_running_average)
        _flax_shared.warn_momentum(momentum)
        shape = (num_features,) if isinstance(num_features, int) else tuple(num_features)
        self.scale: nnx.Param | None
        if use_scale:
            self.scale = nnx.Param(scale_init(rngs.params(), shape, param_dtype),
                                   **scale_metadata)
        else:
            self.scale = None
        self.bias: nnx.Param | None
        if use_bias:
            self.bias = nnx.Param(bias_init(rngs.params(), shape, param_dtype), **bias_metadata)
        else:
            self.bias = None
        self.mean: nnx.BatchStat | None
        self.var: nnx.BatchStat | None
        if track_running_stats:
            self.mean = nnx.BatchStat(jnp.zeros(shape, jnp.float32))
            self.var = nnx.BatchStat(jnp.ones(shape, jnp.float32))
        else:
            self.mean = self.var = None

        self.num_features = num_features
        self.feature_shape = shape
        self.epsilon = epsilon
        self.dtype = dtype
        self.param_dtype = param_dtype
        self.use_bias = use_bias
        self.use_scale = use_scale
        self.feature_axes = feature_axes
        self.axis_name = axis_name
        self.axis_index_groups = axis_index_groups
        self.use_fast_variance = use_fast_variance
        self.promote_dtype = promote_dtype
        self.track_running_stats = track_running_stats
        self.use_running_average = use_running_average
        self.momentum = momentum
        self.batch_axis_name = batch_axis_name

    def __call__(self, x: ArrayLike, use_running_average: bool | None = None, *,
                 mask: ArrayLike | None = None) -> jax.Array:
        """Normalise ``x``; ``mask`` selects the elements that enter the statistics."""
        use_ra = _flax_shared.resolve_use_running_average(
            self.track_running_stats, self.use_running_average, use_running_average,
            lambda field, arg: nnx.module.first_from(
                arg, field, error_msg="InstanceNorm needs use_running_average=True/False "
                "(constructor, attribute via train()/eval(), or call argument)"))
        x = jnp.asarray(x)
        axes = _flax_shared.canonical_feature_axes(x.ndim, self.feature_axes)
        _flax_shared.check_features(self.feature_shape, x.shape, axes,
                                    f"built with num_features={self.num_features!r}")
        scale = None if self.scale is None else self.scale[...]
        bias = None if self.bias is None else self.bias[...]
        promoted, scale, bias = self.promote_dtype((x, scale, bias), dtype=self.dtype)
        out_dtype = _flax_shared.output_dtype(promoted, scale, bias, dtype=self.dtype)
        y, new_stats = _flax_shared.apply(
            _unrounded(x, promoted), scale=scale, bias=bias,
            mean=None if self.mean is None else self.mean[...],
            var=None if self.var is None else self.var[...],
            use_running_average=use_ra,
            update=self.track_running_stats, momentum=self.momentum,
            epsilon=self.epsilon, out_dtype=out_dtype, axes=axes, mask=mask,
            axis_name=self.axis_name, batch_axis_name=self.batch_axis_name)
        if new_stats is not None:
            assign(self.mean, new_stats[0])
            assign(self.var, new_stats[1])
        return y


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
                 axis_name: str | None = None) -> None:
        _checks.check_alpha(alpha)
        _checks.check_eps(epsilon)
        self.alpha = alpha
        self.epsilon = epsilon
        self.feature_axes = feature_axes
        self.axis_name = axis_name

    def __call__(self, content: ArrayLike, style: ArrayLike, *,
                 content_mask: ArrayLike | None = None,
                 style_mask: ArrayLike | None = None) -> jax.Array:
        """Stylise ``content``; the masks select the elements that enter each statistic."""
        return _flax_shared.adain(content, style, alpha=self.alpha, epsilon=self.epsilon,
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
    ) -> None:
        _flax_shared.check_num_classes(num_classes)
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

    def __call__(self, x: ArrayLike, labels: ArrayLike, *,
                 mask: ArrayLike | None = None) -> jax.Array:
        """Normalise ``x``, sample ``n`` with the affine of class ``labels[n]``."""
        x = jnp.asarray(x)
        return _flax_shared.conditional_instance_norm(
            x, labels, num_classes=self.num_classes,
            scale=None if self.scale is None else self.scale[...],
            bias=None if self.bias is None else self.bias[...],
            axes=_flax_shared.canonical_feature_axes(x.ndim, self.feature_axes),
            epsilon=self.epsilon, dtype=self.dtype, mask=mask, axis_name=self.axis_name)


__all__ = ["InstanceNorm", "AdaIN", "ConditionalInstanceNorm"]
