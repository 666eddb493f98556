"""``InstanceNorm1d/2d/3d`` and the ``Lazy`` variants: lucid's signature, PyTorch's numbers.

One base class owns the state (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), the argument checks, ``extra_repr`` and the call into the core; the
concrete classes only declare how many spatial axes they normalise over.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lucid._autograd import _as_array
from lucid._grad_mode import no_grad
from lucid._tensor import Tensor, check_dtype, resolve_device
from lucid.nn.functional import instance_norm_updating_stats
from lucid.nn.lazy import LazyModuleMixin
from lucid.nn.module import Module
from lucid.nn.normalization import RunningStats
from lucid.nn.parameter import (
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
    _Uninitialized,
)


class _InstanceNormBase(RunningStats, Module):
    """State, checks and forward shared by every instance-normalisation module."""

    spatial_dims: int  # declared by each concrete class
    weight: Parameter | None
    bias: Parameter | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self._use_bias = bias
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._device, self._dtype = resolve_device(device), check_dtype(dtype) or jnp.float32
        self._create_state()

    def _per_channel(self, value: float) -> Tensor:
        return Tensor(np.full((self.num_features,), value, self._dtype), device=self._device)

    def _create_state(self) -> None:
        """Parameters at ``weight = 1, bias = 0``; running statistics at ``mean 0, var 1``."""
        if self.affine:
            self.register_parameter("weight", Parameter(self._per_channel(1.0)))
            self.register_parameter("bias", Parameter(self._per_channel(0.0))
                                    if self._use_bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", self._per_channel(0.0))
            self.register_buffer("running_var", self._per_channel(1.0))
            self.register_buffer("num_batches_tracked",
                                 Tensor(0, dtype=jnp.int32, device=self._device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _absent_ok(self, version: int | None) -> tuple[str, ...]:
        """``num_batches_tracked`` may be absent from an old-format (or plain) checkpoint."""
        if self.track_running_stats and (version is None or version < 2):
            return ("num_batches_tracked",)
        return ()

    def _check_rank(self, ndim: int) -> None:
        if ndim not in (self.spatial_dims + 1, self.spatial_dims + 2):
            raise ValueError(f"expected {self.spatial_dims + 1}D or {self.spatial_dims + 2}D "
                             f"input (got {ndim}D input)")

    def forward(self, input: Any) -> Tensor:
        x = input if isinstance(input, Tensor) else Tensor(input)
        ndim = x.ndim
        self._check_rank(ndim)
        unbatched = ndim == self.spatial_dims + 1
        feature_dim = 0 if unbatched else 1
        channels = x.shape[feature_dim]
        if channels != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {channels}."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can "
                "silence this warning by not passing in num_features, which is not used "
                "because affine=False",
                stacklevel=3,
            )
        use_input_stats = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        return instance_norm_updating_stats(x, self.running_mean, self.running_var,
                                            self.weight, self.bias, use_input_stats, momentum,
                                            self.eps, unbatched)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def reset_parameters(self) -> None:
        """Running statistics reset, ``weight`` to 1 and ``bias`` to 0."""
        self.reset_running_stats()
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if self.bias is not None:
                self.bias.zero_()


_DOC = """Instance normalisation of {rank}-D input ``{shape}`` (or unbatched ``{unbatched}``).

Each ``(n, c)`` slice is normalised over its {axes} independently:
``y = (x - mean[n, c]) / sqrt(var[n, c] + eps) * weight[c] + bias[c]``, the variance biased,
exactly PyTorch's ``torch.nn.{name}``.

Args:
  num_features: the number of channels ``C``.
  eps: added to the variance inside the square root. Default 1e-5.
  momentum: weight of the new statistics in the running statistics' update. ``None``
    freezes them (PyTorch's InstanceNorm passes 0.0; it is not a cumulative average).
  affine: learn a per-channel ``weight`` (init 1) and ``bias`` (init 0). Default False.
  track_running_stats: keep ``running_mean`` (init 0) and ``running_var`` (init 1), updated
    in training mode with each batch's average instance mean and *unbiased* variance, and
    used instead of the input's statistics in eval mode. Default False.
  device, dtype: where and in which dtype parameters and buffers live.
  bias: (keyword only, PyTorch 2.13's) with ``affine=True``, whether to learn ``bias`` too.
    Default True.

Attributes ``weight``/``bias`` and ``running_mean``/``running_var`` are ``None`` when switched
off; ``num_batches_tracked`` is kept for PyTorch's state-dict keys and, as in PyTorch's
InstanceNorm, never incremented.

>>> import lucid
>>> import lucid.nn as nn
>>> norm = nn.{name}({example_channels})
>>> x = lucid.randn{example_shape}
>>> norm(x).shape
{example_shape}
>>> nn.{name}({example_channels}, affine=True, track_running_stats=True)
{name}({example_channels}, eps=1e-05, momentum=0.1, affine=True, bias=True,
    track_running_stats=True)
"""


class InstanceNorm1d(_InstanceNormBase):
    __doc__ = _DOC.format(rank=3, shape="(N, C, L)", unbatched="(C, L)", axes="length L",
                          name="InstanceNorm1d", example_channels=32,
                          example_shape=(8, 32, 100))
    spatial_dims = 1


class InstanceNorm2d(_InstanceNormBase):
    __doc__ = _DOC.format(rank=4, shape="(N, C, H, W)", unbatched="(C, H, W)",
                          axes="H x W positions", name="InstanceNorm2d", example_channels=16,
                          example_shape=(4, 16, 8, 8)) + """
The example of lucid's older page for this class, with the formula's (PyTorch's) numbers and
the zero gradient of a sum of normalised values (the README's semantics table says why that
page's printed numbers differ):

>>> from lucid import Tensor
>>> input_tensor = Tensor([[[[1., 2., 3.], [4., 5., 6.]],
...                         [[7., 8., 9.], [10., 11., 12.]]]], requires_grad=True)
>>> output = nn.InstanceNorm2d(num_features=2)(input_tensor)
>>> print(output)
Tensor([[[[-1.4638, -0.8783, -0.2928],
          [0.2928, 0.8783, 1.4638]],
<BLANKLINE>
         [[-1.4638, -0.8783, -0.2928],
          [0.2928, 0.8783, 1.4638]]]], grad=None)
>>> output.backward()
>>> bool(abs(input_tensor.grad).max() < 1e-5)
True
"""
    spatial_dims = 2


class InstanceNorm3d(_InstanceNormBase):
    __doc__ = _DOC.format(rank=5, shape="(N, C, D, H, W)", unbatched="(C, D, H, W)",
                          axes="D x H x W voxels", name="InstanceNorm3d", example_channels=16,
                          example_shape=(2, 16, 8, 32, 32))
    spatial_dims = 3


_LAZY_DOC = """``num_features`` is taken from the first input, then the module becomes
``cls_to_become``.

Until then ``weight``/``bias`` are :class:`~lucid.nn.UninitializedParameter` and the
running statistics :class:`~lucid.nn.UninitializedBuffer` placeholders (``None`` where
switched off, as in the eager classes). They are filled in place, so an optimiser built
before the first call trains them. Defaults are this project's (``affine=False,
track_running_stats=False``), the same as the eager classes; PyTorch's Lazy classes
default both to True. Loading a state dict before the first call takes ``num_features``
from its ``weight`` or ``running_mean`` instead; a failed first call or load leaves the
module lazy and unchanged.

>>> import lucid
>>> import lucid.nn as nn
>>> lazy = nn.LazyInstanceNorm2d(affine=True)
>>> _ = lazy.load_state_dict({"weight": lucid.ones(5), "bias": lucid.zeros(5)})
>>> lazy
InstanceNorm2d(5, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=False)
"""


class _LazyInstanceNorm(LazyModuleMixin, _InstanceNormBase):
    __doc__ = _LAZY_DOC

    cls_to_become: type[_InstanceNormBase]
    _INITIAL = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0}

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def _create_state(self) -> None:
        """The eager class's state, with placeholders for the per-channel tensors."""
        super()._create_state()
        for name in self._per_channel_names():
            tensor = getattr(self, name)
            kind = UninitializedParameter if isinstance(tensor, Parameter) else UninitializedBuffer
            setattr(self, name, kind(requires_grad=tensor.requires_grad, device=self._device,
                                     dtype=tensor.dtype))

    def _per_channel_names(self) -> list[str]:
        return [name for name in self._INITIAL if getattr(self, name) is not None]

    def reset_running_stats(self) -> None:
        """Nothing to reset before the sizes are known."""

    def initialize_parameters(self, input: Any) -> Callable[[], None]:
        """``num_features`` from ``input``'s channel axis, after the eager class's rank check."""
        x = input if isinstance(input, Tensor) else Tensor(input)
        self._check_rank(x.ndim)
        return self._materialize_channels(x.shape[0 if x.ndim == self.spatial_dims + 1 else 1])

    def _materialize_channels(self, num_features: int) -> Callable[[], None]:
        """Fill the placeholders for ``num_features`` and become the eager class; returns the
        undo."""
        self.num_features = num_features
        values: dict[str, ArrayLike] = {}
        for name in self._per_channel_names():
            value = np.full((num_features,), self._INITIAL[name], getattr(self, name).dtype)
            values[name] = value if self._device is None else jax.device_put(value, self._device)
        undo_state = self._materialize(values)

        def undo() -> None:
            undo_state()
            self.num_features = 0
        return undo

    def _prepare_load(self, state_dict: Any, prefix: str) -> Callable[[], None] | None:
        """Materialise from the checkpoint's ``weight`` (or ``running_mean``) length, if any."""
        names = (("weight",) if self.affine else ()) + (
            ("running_mean",) if self.track_running_stats else ())
        for name in names:
            value = state_dict.get(prefix + name)
            if value is not None and not isinstance(value, _Uninitialized):
                shape = jnp.shape(_as_array(value))
                # another shape stays lazy: the load reports it as a size mismatch
                return self._materialize_channels(shape[0]) if len(shape) == 1 else None
        return None


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    __doc__ = _LAZY_DOC
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    __doc__ = _LAZY_DOC
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    __doc__ = _LAZY_DOC
    cls_to_become = InstanceNorm3d
