"""lucid_jax.interop: PyTorch state_dicts <-> Linen variables / NNX state, exactly; momentum and
layout conversions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _flax_testlib import torch_layer
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st

from lucid_jax import interop
from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx
from lucid_jax._compat import assign
from lucid_jax._interop_layer import nnx_layer_variables


def _trained_torch_state_dict(rng, steps=3):
    layer = torch_layer(rng, 2, 4)
    for _ in range(steps):
        layer(torch.from_numpy(rng.normal(size=(2, 4, 5, 5)).astype(np.float32)))
    return layer.state_dict()


def _assert_same_state_dict(got, want):
    assert sorted(got) == sorted(want)
    for k in want:
        w = want[k].numpy() if isinstance(want[k], torch.Tensor) else np.asarray(want[k])
        g = got[k].numpy() if isinstance(got[k], torch.Tensor) else np.asarray(got[k])
        assert g.dtype == w.dtype, k
        np.testing.assert_array_equal(g, w, err_msg=k)


@pytest.mark.parametrize("as_torch", [False, True])
def test_linen_round_trip_is_exact(as_torch, rng):
    sd = _trained_torch_state_dict(rng)
    variables = interop.state_dict_to_linen(sd)
    # PyTorch's InstanceNorm never counts batches: the counter is 0, the converters' default
    assert int(sd["num_batches_tracked"]) == 0
    back = interop.linen_to_state_dict(variables, as_torch=as_torch)
    assert all(isinstance(v, torch.Tensor) == as_torch for v in back.values())
    _assert_same_state_dict(back, sd)
    again = interop.state_dict_to_linen(back)
    jax.tree.map(np.testing.assert_array_equal, again, variables)


def test_nnx_round_trip_is_exact(rng):
    sd = _trained_torch_state_dict(rng)
    module = ours_nnx.InstanceNorm(4, track_running_stats=True, rngs=nnx.Rngs(0))
    assert interop.load_state_dict_into_nnx(module, sd) is module
    _assert_same_state_dict(interop.nnx_to_state_dict(module), sd)
    counted = interop.nnx_to_state_dict(module, num_batches_tracked=7, as_torch=True)
    assert counted["num_batches_tracked"].item() == 7
    np.testing.assert_array_equal(module.var[...], sd["running_var"].numpy())


def _nnx_snapshot(module):
    return {k: np.array(v[...]) for k, v in nnx_layer_variables(module).items()
            if v is not None}


@pytest.mark.parametrize("kwargs, match", [
    ({}, "does not hold 'mean'"),                                   # scale, bias come first
    ({"use_bias": False}, "does not hold 'bias'"),                  # scale comes first
    ({"track_running_stats": True, "use_bias": False}, "does not hold 'bias'"),
])
def test_failed_nnx_load_leaves_the_module_untouched(kwargs, match, rng):
    """Validation happens before any write: a load that raises changes nothing."""
    sd = torch_layer(rng, 2, 3).state_dict()  # InstanceNorm2d(3, affine=True, tracking)
    module = ours_nnx.InstanceNorm(3, rngs=nnx.Rngs(0), **kwargs)
    if module.mean is not None:
        assign(module.mean, jnp.full(3, 5.0))
    before = _nnx_snapshot(module)
    with pytest.raises(ValueError, match=match):
        interop.load_state_dict_into_nnx(module, sd)
    after = _nnx_snapshot(module)
    assert sorted(after) == sorted(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


def test_torch_model_loads_and_saves_back(rng):
    """A whole PyTorch model's checkpoint, one layer at a time (prefix), into Flax and back."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3),
                                torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True))
    model(torch.randn(2, 3, 6, 6))
    sd = model.state_dict()
    norm = {k: v for k, v in sd.items() if k.startswith("1.")}
    variables = interop.state_dict_to_linen(sd, prefix="1.")  # other layers are ignored
    _assert_same_state_dict(interop.linen_to_state_dict(variables, prefix="1."), norm)

    model.eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        features = model[0](x)
        expected = model[1](features).numpy()
    layer = ours_linen.InstanceNorm(track_running_stats=True, use_running_average=True,
                                    epsilon=1e-5)
    y = layer.apply(variables, interop.to_channels_last(jnp.asarray(features.numpy())))
    np.testing.assert_allclose(interop.to_channels_first(y), expected, rtol=1e-5, atol=2e-5)


def test_affine_only_and_stats_only_state_dicts(rng):
    affine = torch.nn.InstanceNorm1d(3, affine=True).state_dict()
    assert sorted(interop.state_dict_to_linen(affine)) == ["params"]
    stats = torch.nn.InstanceNorm1d(3, track_running_stats=True).state_dict()
    variables = interop.state_dict_to_linen(stats)
    assert sorted(variables) == ["batch_stats"]
    layer = ours_linen.InstanceNorm(use_scale=False, use_bias=False, track_running_stats=True,
                                    use_running_average=True)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(layer.apply(variables, x), x / np.sqrt(1 + 1e-6), rtol=1e-6)
    module = ours_nnx.InstanceNorm(3, use_scale=False, use_bias=False, track_running_stats=True,
                                   rngs=nnx.Rngs(0))
    _assert_same_state_dict(interop.nnx_to_state_dict(
        interop.load_state_dict_into_nnx(module, stats)), stats)


def test_lucid_style_state_dict_of_plain_arrays(rng):
    """A lucid state_dict holds arrays anything np.asarray reads: lists, numpy, JAX arrays."""
    sd = {"weight": [1.0, 2.0], "bias": jnp.array([0.5, -0.5]),
          "running_mean": np.zeros(2, np.float32), "running_var": np.ones(2, np.float32),
          "num_batches_tracked": 0}
    variables = interop.state_dict_to_linen(sd)
    np.testing.assert_array_equal(variables["params"]["scale"], [1.0, 2.0])
    np.testing.assert_array_equal(variables["params"]["bias"], [0.5, -0.5])


@pytest.mark.parametrize("m", [0.1, 0.01, 0.001, 0.3, 0.5, 0.0, 1.0, 0.25, 0.05])
def test_momentum_conversion_round_trips(m):
    assert interop.torch_momentum(interop.flax_momentum(m)) == m
    assert interop.flax_momentum(interop.torch_momentum(m)) == m


@given(st.decimals(min_value=0, max_value=1, places=6))
def test_momentum_conversion_round_trips_on_short_decimals(d):
    m = float(d)
    assert interop.torch_momentum(interop.flax_momentum(m)) == m
    assert interop.flax_momentum(None) == 1.0


@pytest.mark.parametrize("scalar", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("m", [0.1, 0.01, 0.3, 0.05, 0.99, 0.0, 1.0])
def test_momentum_conversion_is_exact_for_numpy_scalars(scalar, m):
    """A NumPy scalar is read as its shortest decimal: np.float32(0.1) is 0.1, not 0.1000000015."""
    value = scalar(m)
    short = float(str(value))  # the decimal the scalar prints as (0.1 for every type here)
    for convert in (interop.flax_momentum, interop.torch_momentum):
        got = convert(value)
        assert type(got) is float
        assert got == interop.flax_momentum(short) == interop.torch_momentum(short)
        assert convert(got) == short


def test_momentum_conversion_of_a_float32_third_uses_its_own_shortest_decimal():
    third = np.float32(1 / 3)  # prints as 0.33333334
    assert interop.flax_momentum(third) == 0.66666666
    assert interop.torch_momentum(interop.flax_momentum(third)) == 0.33333334


@pytest.mark.parametrize("make", [np.asarray, jnp.asarray, torch.as_tensor])
def test_layout_helpers_round_trip(make, rng):
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    last = interop.to_channels_last(make(x))
    assert type(last) is type(make(x)) or isinstance(last, jax.Array)
    assert tuple(last.shape) == (2, 4, 5, 3)
    np.testing.assert_array_equal(np.asarray(interop.to_channels_first(last)), x)
