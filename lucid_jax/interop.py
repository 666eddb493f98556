"""PyTorch / lucid checkpoints <-> Flax variables, momentum and layout conversion.

Whole models: :func:`torch_to_nnx` / :func:`nnx_to_torch` (an NNX model, loaded in place and
atomically) and :func:`torch_to_linen` / :func:`linen_to_torch` (Linen variables) convert
every Conv, ConvTranspose, Linear and normalisation layer of a model, keyed by module path
(``down.0.conv.weight`` is ``model.down[0].conv.kernel`` / ``params['down_0']['conv']['kernel']``);
see ``docs/porting-pytorch.md``. The functions below convert one InstanceNorm layer.

A PyTorch (or lucid) ``InstanceNorm{1,2,3}d`` state_dict holds ``weight``, ``bias`` (when
``affine=True``), ``running_mean``, ``running_var`` and ``num_batches_tracked`` (when
``track_running_stats=True``). The Flax modules of this package hold the same numbers as
``params/scale``, ``params/bias``, ``batch_stats/mean`` and ``batch_stats/var``.
``num_batches_tracked`` has no Flax counterpart (PyTorch's InstanceNorm never reads it): it is
dropped on the way in and written back from the ``num_batches_tracked`` argument on the way out.

Values are converted without rounding (float32 stays float32), so round trips are exact.
Anything ``np.asarray`` can read is accepted, and torch tensors; neither torch nor lucid is
imported here (``as_torch=True`` imports torch when called).

>>> import numpy as np
>>> from lucid_jax import interop
>>> sd = {"weight": np.ones(3, np.float32), "bias": np.zeros(3, np.float32),
...       "running_mean": np.zeros(3, np.float32), "running_var": np.ones(3, np.float32),
...       "num_batches_tracked": np.array(7)}
>>> variables = interop.state_dict_to_linen(sd)
>>> sorted(variables), sorted(variables["params"]), sorted(variables["batch_stats"])
(['batch_stats', 'params'], ['bias', 'scale'], ['mean', 'var'])
>>> back = interop.linen_to_state_dict(variables, num_batches_tracked=7)
>>> all(np.array_equal(back[k], sd[k]) for k in sd)
True
>>> interop.flax_momentum(0.1), interop.torch_momentum(0.9)
(0.9, 0.1)
"""

from __future__ import annotations

from lucid_jax._interop_layer import (
    linen_to_state_dict,
    load_state_dict_into_nnx,
    nnx_to_state_dict,
    state_dict_to_linen,
)
from lucid_jax._interop_layout import conv_transpose_padding, to_channels_first, to_channels_last
from lucid_jax._interop_model import linen_to_torch, nnx_to_torch, torch_to_linen, torch_to_nnx
from lucid_jax._momentum import flax_momentum, torch_momentum

__all__ = [
    "flax_momentum", "torch_momentum", "to_channels_last", "to_channels_first",
    "state_dict_to_linen", "linen_to_state_dict", "load_state_dict_into_nnx", "nnx_to_state_dict",
    "torch_to_nnx", "nnx_to_torch", "torch_to_linen", "linen_to_torch", "conv_transpose_padding",
]
