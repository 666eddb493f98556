"""``lucid_jax.nnx.InstanceNorm``: a drop-in for ``flax.nnx.InstanceNorm``, with PyTorch's
running statistics when you ask for them.

The same arguments and defaults as Flax's (the same ``nnx.Param`` state), plus
``track_running_stats``, ``use_running_average``, ``momentum`` and ``batch_axis_name``. The
normalisation is :func:`lucid_jax.instance_norm`.
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

from lucid_jax import _flax_common
from lucid_jax._compat import assign
from lucid_jax._nnx_style import AdaIN, ConditionalInstanceNorm


class InstanceNorm(nnx.Module):
    """Instance normalisation, channels last, with optional PyTorch running statistics.

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
      momentum: Flax's convention, the weight of the *old* value: PyTorch's 0.1 is 0.9.
      batch_axis_name: the mesh axis splitting the batch, over which the running-statistics
        update averages; ``axis_name`` is the one splitting each instance's spatial elements.

    Where it follows Flax rather than PyTorch (:func:`lucid_jax.instance_norm` keeps
    PyTorch's errors): an instance with nothing to reduce (a rank-2 ``(N, C)`` input,
    ``feature_axes`` covering every non-batch axis) or a single element normalises to 0, so
    the output is ``bias``, and it leaves the running statistics unchanged; a ``mask`` may
    be a float array (nonzero is valid). An instance the mask leaves empty also gives
    ``bias`` (Flax's gives NaN). One deliberate difference: the ``mask`` must have the
    input's rank (size-1 axes broadcast), so it cannot align with the wrong axes.
    ``momentum`` below 0.5 warns at construction.

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
        promote_dtype: tp.Callable = dtypes.promote_dtype,
        rngs: nnx.Rngs,
        bias_metadata: tp.Mapping[str, tp.Any] = MappingProxyType({}),
        scale_metadata: tp.Mapping[str, tp.Any] = MappingProxyType({}),
        track_running_stats: bool = False,
        use_running_average: bool | None = False,
        momentum: float = 0.99,
        batch_axis_name: str | None = None,
    ):
        _flax_common.check_fields(momentum, axis_index_groups, track_running_stats,
                                  use_running_average)
        _flax_common.warn_momentum(momentum)
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

    def __call__(self, x, use_running_average: bool | None = None, *,
                 mask: jax.Array | None = None):
        """Normalise ``x``; ``mask`` selects the elements that enter the statistics."""
        use_ra = _flax_common.resolve_use_running_average(
            self.track_running_stats, self.use_running_average, use_running_average,
            lambda field, arg: nnx.module.first_from(
                arg, field, error_msg="InstanceNorm needs use_running_average=True/False "
                "(constructor, attribute via train()/eval(), or call argument)"))
        x = jnp.asarray(x)
        axes = _flax_common.feature_axes(x.ndim, self.feature_axes)
        _flax_common.check_features(self.feature_shape, x.shape, axes,
                                    f"built with num_features={self.num_features!r}")
        scale = None if self.scale is None else self.scale[...]
        bias = None if self.bias is None else self.bias[...]
        promoted, scale, bias = self.promote_dtype((x, scale, bias), dtype=self.dtype)
        out_dtype = _flax_common.output_dtype(promoted, scale, bias, dtype=self.dtype)
        x = _flax_common.unrounded(x, promoted)
        y, new_stats = _flax_common.apply(
            x, scale=scale, bias=bias,
            mean=None if self.mean is None else self.mean[...],
            var=None if self.var is None else self.var[...],
            use_running_average=use_ra, update=self.track_running_stats,
            momentum=self.momentum, epsilon=self.epsilon, out_dtype=out_dtype, axes=axes,
            mask=mask, axis_name=self.axis_name, batch_axis_name=self.batch_axis_name)
        if new_stats is not None:
            assign(self.mean, new_stats[0])
            assign(self.var, new_stats[1])
        return y


__all__ = ["InstanceNorm", "AdaIN", "ConditionalInstanceNorm"]
