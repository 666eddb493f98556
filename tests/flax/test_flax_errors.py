"""Every ValueError raised by the Flax modules and interop, matched by its message."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lucid_jax import interop
from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx

X = jnp.ones((2, 4, 4, 3)) + jnp.arange(4.0)[:, None, None]


def _nnx(**kw):
    return ours_nnx.InstanceNorm(3, rngs=nnx.Rngs(0), **kw)


def test_feature_axes_out_of_range():
    with pytest.raises(ValueError, match=r"feature_axes=4 is out of range for an input of rank 4"):
        ours_linen.InstanceNorm(feature_axes=4).init(jax.random.key(0), X)


def test_channel_count_does_not_match_nnx_parameters():
    with pytest.raises(ValueError, match=r"built with num_features=5 has feature shape \(5,\), "
                                         r"but the input of shape \(2, 4, 4, 3\) has \(3,\) "
                                         r"on feature_axes \(3,\).*does not match"):
        ours_nnx.InstanceNorm(5, rngs=nnx.Rngs(0))(X)


@pytest.mark.parametrize("collection, name", [("params", "scale"), ("params", "bias"),
                                              ("batch_stats", "mean"), ("batch_stats", "var")])
def test_channel_count_does_not_match_linen_variables(collection, name):
    layer = ours_linen.InstanceNorm(track_running_stats=True, use_running_average=True)
    variables = layer.init(jax.random.key(0), X)
    variables[collection][name] = jnp.ones(5)
    with pytest.raises(ValueError, match=rf"InstanceNorm {collection}/{name} has feature shape "
                                         r"\(5,\).*has \(3,\) on feature_axes \(3,\)"):
        layer.apply(variables, X)


def test_use_running_average_without_track_running_stats():
    match = r"use_running_average=True needs running statistics, but track_running_stats=False"
    with pytest.raises(ValueError, match=match):
        ours_linen.InstanceNorm(use_running_average=True).init(jax.random.key(0), X)
    variables = ours_linen.InstanceNorm().init(jax.random.key(0), X)
    with pytest.raises(ValueError, match=match):
        ours_linen.InstanceNorm().apply(variables, X, use_running_average=True)
    with pytest.raises(ValueError, match=match):
        _nnx(use_running_average=True)
    with pytest.raises(ValueError, match=match):
        _nnx()(X, use_running_average=True)


def test_axis_index_groups_is_not_supported():
    match = r"axis_index_groups=.*0, 1.* is not supported by lucid_jax.s InstanceNorm"
    with pytest.raises(ValueError, match=match):
        ours_linen.InstanceNorm(axis_index_groups=[[0, 1]]).init(jax.random.key(0), X)
    with pytest.raises(ValueError, match=match):
        _nnx(axis_index_groups=[[0, 1]])


@pytest.mark.parametrize("momentum, match", [(1.5, r"Flax momentum must be in \[0, 1\], got 1.5"),
                                             ("0.9", r"Flax momentum must be a float in \[0, 1\], "
                                                     r"got '0.9'")])
def test_bad_momentum(momentum, match):
    with pytest.raises(ValueError, match=match):
        _nnx(track_running_stats=True, momentum=momentum)
    with pytest.raises(ValueError, match=match):
        interop.torch_momentum(momentum)
    with pytest.raises(ValueError, match=match.replace("Flax", "PyTorch")):
        interop.flax_momentum(momentum)


# ---------------------------------------------------------------------------------- interop

SD = {"weight": np.ones(3, np.float32), "bias": np.zeros(3, np.float32),
      "running_mean": np.zeros(3, np.float32), "running_var": np.ones(3, np.float32),
      "num_batches_tracked": np.array(0)}


def test_interop_unknown_key():
    with pytest.raises(ValueError, match=r"unexpected InstanceNorm state_dict keys \['n.scale'\]"):
        interop.state_dict_to_linen({"n.scale": np.ones(3)}, prefix="n.")


def test_interop_half_a_pair():
    with pytest.raises(ValueError, match=r"state_dict has 'running_mean' but not 'running_var'"):
        interop.state_dict_to_linen({"running_mean": np.zeros(3)})
    with pytest.raises(ValueError, match=r"state_dict has 'bias' but not 'weight'"):
        interop.state_dict_to_linen({"bias": np.zeros(3)})


def test_interop_inconsistent_shapes():
    with pytest.raises(ValueError, match=r"entries have different shapes \[\(3,\), \(4,\)\]"):
        interop.state_dict_to_linen({**SD, "bias": np.zeros(4, np.float32)})


def test_interop_nnx_module_lacks_or_has_extra_variables():
    with pytest.raises(ValueError, match=r"InstanceNorm does not hold 'mean' but the state_dict "
                                         r"has its entry"):
        interop.load_state_dict_into_nnx(_nnx(), SD)
    affine_only = {"weight": SD["weight"], "bias": SD["bias"]}
    with pytest.raises(ValueError, match=r"InstanceNorm holds 'mean' but the state_dict lacks"):
        interop.load_state_dict_into_nnx(_nnx(track_running_stats=True), affine_only)


def test_interop_nnx_shape_mismatch():
    module = ours_nnx.InstanceNorm(4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"shape mismatch between the state_dict and the Flax "
                                         r"model:\n  layer <root> \(InstanceNorm\): state_dict "
                                         r"'weight' has shape \(3,\), model\.scale needs \(4,\)"):
        interop.load_state_dict_into_nnx(module, {"weight": SD["weight"], "bias": SD["bias"]})


def test_import_lucid_jax_does_not_import_flax_or_torch():
    code = ("import sys, lucid_jax, lucid_jax.interop; "
            "bad = [m for m in ('flax', 'torch', 'lucid') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
