"""Flax Linen modules, channels last: ``InstanceNorm``, a drop-in for
``flax.linen.InstanceNorm`` with PyTorch's running statistics when you ask for them, and the
style-transfer layers ``AdaIN`` and ``ConditionalInstanceNorm``.

``InstanceNorm`` has the same fields and defaults as Flax's (the same ``params`` tree), plus
``track_running_stats``, ``use_running_average``, ``momentum`` and ``batch_axis_name``. The
normalisation is :func:`lucid_jax.instance_norm` (an accurate variance, not Flax's fast
``E[x^2] - E[x]^2``); ``AdaIN`` is :func:`lucid_jax.adain`, and ``ConditionalInstanceNorm``
the core's per-sample affine.

With ``track_running_stats=True`` the running statistics live in the ``batch_stats`` collection
and behave as ``flax.linen.BatchNorm``'s: a training call (``use_running_average=False``)
updates them and must pass ``mutable=['batch_stats']`` (otherwise Flax raises
``ModifyScopeVariableError``); ``init`` and evaluation calls never change them.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.core.scope import Scope
from flax.typing import Axes, Dtype, Initializer
from jax.nn import initializers
from jax.typing import ArrayLike

from lucid_jax import _flax_shared


def _warn_epsilon(epsilon: Any) -> None:
    """Warn about ``InstanceNorm(64)``: Linen's first field is epsilon, not a feature count."""
    if isinstance(epsilon, Integral) and not isinstance(epsilon, bool) and int(epsilon) >= 1:
        _flax_shared.warn(
            f"InstanceNorm epsilon={epsilon}: the first field of the Linen InstanceNorm is "
            "epsilon, not the number of features. Linen infers the feature count from the "
            f"input: drop the {epsilon}, or pass a float such as epsilon=1e-5 if you meant "
            "epsilon")


class InstanceNorm(nn.Module):
    __doc__ = """Instance normalisation, channels last, with optional PyTorch running statistics.

    Without ``track_running_stats`` it is ``flax.linen.InstanceNorm``: same fields, defaults and
    variables, Flax's edge cases. Like Flax's, it takes no feature count: it is inferred from
    the input (``InstanceNorm(64)`` would set ``epsilon=64``, and warns).

    With ``track_running_stats=True`` the ``batch_stats`` collection holds ``mean`` and ``var``
    of shape ``(C,)``, updated by PyTorch's rule (batch average of each instance's mean and
    unbiased variance) on every training call (``use_running_average`` false), never during
    ``init``. As with ``flax.linen.BatchNorm``, a training call must pass
    ``mutable=['batch_stats']``: without it Flax raises ``flax.errors.ModifyScopeVariableError``
    rather than silently leaving the statistics at their initial values. Evaluation
    (``use_running_average=True``) never writes, so it needs no ``mutable``.
    ``use_running_average`` is merged from the field and the ``__call__`` argument as in
    ``flax.linen.BatchNorm``.

    The attributes beyond Flax's InstanceNorm:

    Attributes:
      track_running_stats: keep running statistics in ``batch_stats`` (PyTorch's
        ``track_running_stats``).
      use_running_average: normalise with the running statistics (evaluation).
      momentum: Flax's convention, the weight of the *old* value: PyTorch's 0.1 is 0.9
        (see :func:`lucid_jax.interop.flax_momentum`). Below 0.5 it warns at construction.
      batch_axis_name: the mesh axis splitting the batch (data parallelism), over which the
        running-statistics update averages. ``axis_name`` is the one splitting each
        instance's spatial elements, as in Flax.

""" + _flax_shared.FOLLOWS_FLAX.format(flax_class="flax.linen.InstanceNorm") + """
    ``dtype`` and ``param_dtype`` mean what they mean in Flax (result dtype, parameter
    dtype), and the output dtype is Flax's. The statistics are always taken in at least
    float32 by an accurate algorithm, on the input as given (never rounded to a narrower
    ``dtype`` first), so ``use_fast_variance`` has no effect, and
    ``force_float32_reductions=False`` only casts stored parameters to ``param_dtype``.
    ``axis_index_groups`` must be ``None``.

    >>> import jax, jax.numpy as jnp
    >>> from lucid_jax.linen import InstanceNorm
    >>> x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3)) + 4.0
    >>> layer = InstanceNorm(track_running_stats=True, momentum=0.9)
    >>> variables = layer.init(jax.random.key(1), x, use_running_average=False)
    >>> jax.tree.map(jnp.shape, variables)
    {'batch_stats': {'mean': (3,), 'var': (3,)}, 'params': {'bias': (3,), 'scale': (3,)}}
    >>> y, updates = layer.apply(variables, x, use_running_average=False, mutable=['batch_stats'])
    >>> updates['batch_stats']['mean'].round(1)                   # 0.9 * 0 + 0.1 * 4
    Array([0.4, 0.4, 0.4], dtype=float32)
    >>> y_eval = layer.apply({**variables, **updates}, x, use_running_average=True)

    Nothing to reduce in a ``(N, C)`` input: the output is the bias, as in Flax.

    >>> layer = InstanceNorm(bias_init=jax.nn.initializers.constant(0.5))
    >>> layer.init_with_output(jax.random.key(0), jnp.arange(6.0).reshape(2, 3))[0]
    Array([[0.5, 0.5, 0.5],
           [0.5, 0.5, 0.5]], dtype=float32)
    """

    epsilon: float = 1e-6
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Initializer = initializers.zeros
    scale_init: Initializer = initializers.ones
    feature_axes: Axes = -1
    axis_name: str | None = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True
    track_running_stats: bool = False
    use_running_average: bool | None = None
    momentum: float = 0.99
    batch_axis_name: str | None = None

    def __post_init__(self) -> None:
        # Only a module the user builds warns, not the clones init/apply bind to a scope or
        # a parent module.
        if not isinstance(self.parent, nn.Module | Scope):
            _warn_epsilon(self.epsilon)
            _flax_shared.warn_momentum(self.momentum)
        super().__post_init__()

    def _existing(self, collection: str, name: str, axes: tuple[int, ...],
                  x_shape: tuple[int, ...]) -> None:
        """A variable restored from elsewhere must fit the input (a ValueError, not Flax's)."""
        if self.has_variable(collection, name):
            shape = jnp.shape(self.get_variable(collection, name))
            _flax_shared.check_features(shape, x_shape, axes, f"{collection}/{name}")

    @nn.compact
    def __call__(self, x: ArrayLike, use_running_average: bool | None = None, *,
                 mask: ArrayLike | None = None) -> jax.Array:
        """Normalise ``x``; ``mask`` selects the elements that enter the statistics."""
        _flax_shared.check_fields(self.momentum, self.axis_index_groups,
                                  self.track_running_stats, self.use_running_average)
        use_ra = _flax_shared.resolve_use_running_average(
            self.track_running_stats, self.use_running_average, use_running_average,
            lambda field, arg: nn.merge_param("use_running_average", field, arg))
        x = jnp.asarray(x)
        axes = _flax_shared.canonical_feature_axes(x.ndim, self.feature_axes)
        shape = tuple(x.shape[a] for a in axes)

        names = [("params", n) for n, used in (("scale", self.use_scale),
                                                ("bias", self.use_bias)) if used]
        if self.track_running_stats:
            names += [("batch_stats", "mean"), ("batch_stats", "var")]
        for collection, name in names:
            self._existing(collection, name, axes, x.shape)

        scale = self.param("scale", self.scale_init, shape, self.param_dtype) \
            if self.use_scale else None
        bias = self.param("bias", self.bias_init, shape, self.param_dtype) \
            if self.use_bias else None
        if not self.force_float32_reductions:  # as Flax: stored parameters in param_dtype
            scale, bias = (None if p is None else jnp.asarray(p, self.param_dtype)
                           for p in (scale, bias))
        stats = None
        if self.track_running_stats:
            stats = (self.variable("batch_stats", "mean", jnp.zeros, shape, jnp.float32),
                     self.variable("batch_stats", "var", jnp.ones, shape, jnp.float32))

        initializing = self.is_initializing()
        # As flax.linen.BatchNorm: a training call always writes (so an immutable batch_stats
        # raises Flax's ModifyScopeVariableError instead of silently skipping the update);
        # init never does.
        update = self.track_running_stats and not initializing
        y, new_stats = _flax_shared.apply(
            x, scale=scale, bias=bias,
            mean=None if stats is None else stats[0].value,
            var=None if stats is None else stats[1].value,
            use_running_average=use_ra, update=update, momentum=self.momentum,
            epsilon=self.epsilon, axes=axes, mask=mask,
            out_dtype=_flax_shared.output_dtype(x, scale, bias, dtype=self.dtype),
            # as flax.linen.BatchNorm: init need not run where the mesh axes exist
            axis_name=None if initializing else self.axis_name,
            batch_axis_name=None if initializing else self.batch_axis_name)
        if stats is not None and new_stats is not None:
            stats[0].value, stats[1].value = new_stats
        return y



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

    def __call__(self, content: ArrayLike, style: ArrayLike, *,
                 content_mask: ArrayLike | None = None,
                 style_mask: ArrayLike | None = None) -> jax.Array:
        """Stylise ``content``; the masks select the elements that enter each statistic."""
        return _flax_shared.adain(content, style, alpha=self.alpha, epsilon=self.epsilon,
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
    def __call__(self, x: ArrayLike, labels: ArrayLike, *,
                 mask: ArrayLike | None = None) -> jax.Array:
        """Normalise ``x``, sample ``n`` with the affine of class ``labels[n]``."""
        _flax_shared.check_num_classes(self.num_classes)
        x = jnp.asarray(x)
        axes = _flax_shared.canonical_feature_axes(x.ndim, self.feature_axes)
        shape = (self.num_classes, *(x.shape[a] for a in axes))
        tables: dict[str, jax.Array | None] = {}
        for name, used, init in (("scale", self.use_scale, self.scale_init),
                                 ("bias", self.use_bias, self.bias_init)):
            if not used:
                tables[name] = None
                continue
            if self.has_variable("params", name):  # restored: a ValueError, not Flax's
                _flax_shared.check_class_param(
                    name, jnp.shape(self.get_variable("params", name)), self.num_classes,
                    x.shape, axes)
            tables[name] = self.param(name, init, shape, self.param_dtype)
        return _flax_shared.conditional_instance_norm(
            x, labels, num_classes=self.num_classes, scale=tables["scale"], bias=tables["bias"],
            axes=axes, epsilon=self.epsilon, dtype=self.dtype, mask=mask,
            # as InstanceNorm: init need not run where the mesh axes exist
            axis_name=None if self.is_initializing() else self.axis_name)


__all__ = ["InstanceNorm", "AdaIN", "ConditionalInstanceNorm"]
