"""A port from a torch.nn.Module: the settings a state_dict does not carry (eps, momentum,
affine, track_running_stats, num_groups) are compared with the Flax layers', and a mismatch is
a ValueError naming the layer, both values and the fix; ``rename`` keys match at any depth."""

from __future__ import annotations

import flax.linen as fnn
import jax
import numpy as np
import pytest
import torch
from flax import nnx

import lucid_jax.linen
import lucid_jax.nnx
from lucid_jax import interop

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _torch_net(**norm):
    torch.manual_seed(0)
    fields = {"affine": True, "track_running_stats": True, **norm}
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.InstanceNorm2d(8, **fields))


def _nnx_net(**norm):
    fields = {"epsilon": 1e-5, "track_running_stats": True, "momentum": 0.9, **norm}
    return nnx.Sequential(nnx.Conv(3, 8, (3, 3), padding="VALID", rngs=nnx.Rngs(0)),
                          lucid_jax.nnx.InstanceNorm(8, rngs=nnx.Rngs(0), **fields))


class _LinenNet(fnn.Module):
    norm: dict

    @fnn.compact
    def __call__(self, x, use_running_average=False):
        fields = {"epsilon": 1e-5, "track_running_stats": True, "momentum": 0.9, **self.norm}
        x = fnn.Conv(8, (3, 3), padding="VALID", name="conv")(x)
        return lucid_jax.linen.InstanceNorm(name="norm", **fields)(
            x, use_running_average=use_running_average)


LINEN_NAMES = {"conv": "0", "norm": "1"}
X = np.random.default_rng(0).normal(size=(2, 9, 9, 3)).astype(np.float32)


def _port(kind, torch_net, norm, **kw):
    if kind == "nnx":
        return interop.torch_to_nnx(torch_net, _nnx_net(**norm), rename={"layers": ""}, **kw)
    return interop.torch_to_linen(torch_net, _LinenNet(norm), X, rename=LINEN_NAMES, **kw)


CASES = {
    "eps": ({}, {"epsilon": 1e-6},
            r"layer '1' \(InstanceNorm2d -> InstanceNorm\): eps 1e-05 in PyTorch, epsilon 1e-06 "
            r"in Flax: construct it with epsilon=1e-05"),
    "momentum": ({}, {"momentum": 0.99},
                 r"layer '1' \(InstanceNorm2d -> InstanceNorm\): momentum 0.1 in PyTorch \(Flax's "
                 r"convention: 0.9, the weight of the old value\), momentum 0.99 in Flax: "
                 r"construct it with momentum=0.9"),
    "frozen momentum": ({"momentum": None}, {},
                        r"momentum None in PyTorch \(Flax's convention: 1.0, .*\), momentum 0.9 "
                        r"in Flax: construct it with momentum=1.0"),
    "affine": ({"affine": False}, {},
               r"layer '1' .*: affine=False in PyTorch \(weight None\), use_scale=True in Flax: "
               r"construct it with use_scale=False\n.*affine=False in PyTorch \(bias None\), "
               r"use_bias=True in Flax: construct it with use_bias=False"),
    "track_running_stats": ({"track_running_stats": False}, {},
                            r"track_running_stats=False in PyTorch, track_running_stats=True in "
                            r"Flax: construct it with track_running_stats=False"),
}


@pytest.mark.parametrize("kind", ["nnx", "linen"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_mismatched_setting_raises_naming_the_layer_and_the_fix(kind, case):
    torch_fields, flax_fields, message = CASES[case]
    with pytest.raises(ValueError, match=r"(?s)differ from the PyTorch model's in settings a "
                                         r"state_dict does not carry.*" + message
                                         + r".*check_hyperparameters=False"):
        _port(kind, _torch_net(**torch_fields), flax_fields)


def _train_then_eval(torch_net, flax_model, kind, steps=5):
    """Training calls on both, then eval outputs (channels last)."""
    rng = np.random.default_rng(1)
    xs = [rng.normal(2.0, 3.0, size=(2, 9, 9, 3)).astype(np.float32) for _ in range(steps)]
    torch_net.train()
    for x in xs:
        torch_net(torch.from_numpy(interop.to_channels_first(x)))
    torch_net.eval()
    with torch.no_grad():
        expected = interop.to_channels_last(
            torch_net(torch.from_numpy(interop.to_channels_first(xs[0]))).numpy())
    if kind == "nnx":
        for x in xs:
            flax_model(x)
        flax_model.eval()
        return flax_model(xs[0]), expected
    module, variables = flax_model
    for x in xs:
        _, updates = module.apply(variables, x, mutable=["batch_stats"])
        variables = {**variables, **updates}
    return module.apply(variables, xs[0], use_running_average=True), expected


@pytest.mark.parametrize("kind", ["nnx", "linen"])
def test_a_module_with_matching_settings_ports_and_keeps_matching_after_training(kind):
    torch_net = _torch_net()
    ported = _port(kind, torch_net, {})
    model = ported if kind == "nnx" else (_LinenNet({}), ported)
    y, expected = _train_then_eval(torch_net, model, kind)
    np.testing.assert_allclose(y, expected, **TOL)


@pytest.mark.parametrize("kind", ["nnx", "linen"])
def test_check_hyperparameters_false_ports_the_values_anyway(kind):
    """The same values as a port from the state_dict, which carries no settings to check."""
    torch_net = _torch_net()
    mismatched = {"momentum": 0.99, "epsilon": 1e-6}
    ported = _port(kind, torch_net, mismatched, check_hyperparameters=False)
    by_state_dict = _port(kind, torch_net.state_dict(), mismatched)
    if kind == "nnx":
        ported, by_state_dict = nnx.state(ported), nnx.state(by_state_dict)
    jax.tree.map(np.testing.assert_array_equal, ported, by_state_dict)


def test_a_state_dict_is_not_checked():
    """A state_dict carries no eps or momentum: the port proceeds (the docs show the check)."""
    model = _port("nnx", _torch_net().state_dict(), {"momentum": 0.99, "epsilon": 1e-6})
    assert model.layers[1].momentum == 0.99


def test_check_hyperparameters_must_be_a_bool():
    with pytest.raises(ValueError, match=r"check_hyperparameters must be True or False, got "
                                         r"'no'"):
        _port("nnx", _torch_net(), {}, check_hyperparameters="no")


def test_batchnorm_cumulative_momentum_has_no_flax_counterpart():
    torch_net = torch.nn.Sequential(torch.nn.BatchNorm1d(4, momentum=None))
    flax_net = nnx.Sequential(nnx.BatchNorm(4, epsilon=1e-5, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match=r"layer '0' \(BatchNorm1d -> BatchNorm\): "
                                         r"momentum=None in PyTorch \(a cumulative average of all "
                                         r"batches\), which no Flax momentum reproduces; "
                                         r"momentum 0.99 in Flax"):
        interop.torch_to_nnx(torch_net, flax_net, rename={"layers": ""})


def test_groupnorm_groups_and_layernorm_bias():
    torch_net = torch.nn.Sequential(torch.nn.GroupNorm(2, 4), torch.nn.LayerNorm(4, bias=False))
    flax_net = nnx.Sequential(nnx.GroupNorm(4, num_groups=4, epsilon=1e-5, rngs=nnx.Rngs(0)),
                              nnx.LayerNorm(4, epsilon=1e-5, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match=r"(?s)layer '0' \(GroupNorm -> GroupNorm\): num_groups "
                                         r"2 in PyTorch, 4 in Flax: construct it with "
                                         r"num_groups=2\n.*layer '1' \(LayerNorm -> LayerNorm\): "
                                         r"bias=False in PyTorch \(bias None\), use_bias=True in "
                                         r"Flax: construct it with use_bias=False"):
        interop.torch_to_nnx(torch_net, flax_net, rename={"layers": ""})


def test_a_lucid_module_is_checked_too():
    import lucid

    lucid_net = lucid.nn.Sequential(lucid.nn.InstanceNorm2d(8, affine=True,
                                                            track_running_stats=True))
    flax_net = nnx.Sequential(lucid_jax.nnx.InstanceNorm(8, track_running_stats=True,
                                                         momentum=0.9, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match=r"layer '0' \(InstanceNorm2d -> InstanceNorm\): eps "
                                         r"1e-05 in PyTorch, epsilon 1e-06 in Flax"):
        interop.torch_to_nnx(lucid_net, flax_net, rename={"layers": ""})


def test_rename_keys_match_at_any_depth():
    """A nested nnx.Sequential: {'layers': ''} maps 'stem.layers.0' to PyTorch's 'stem.0'."""
    torch_net = torch.nn.Sequential()
    torch_net.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3),
                                         torch.nn.InstanceNorm2d(4, affine=True))
    torch_net.head = torch.nn.Conv2d(4, 2, 1)

    class Net(nnx.Module):
        def __init__(self):
            self.stem = nnx.Sequential(
                nnx.Conv(3, 4, (3, 3), padding="VALID", rngs=nnx.Rngs(0)),
                lucid_jax.nnx.InstanceNorm(4, epsilon=1e-5, rngs=nnx.Rngs(0)))
            self.head = nnx.Conv(4, 2, (1, 1), rngs=nnx.Rngs(0))

        def __call__(self, x):
            return self.head(self.stem(x))

    model = interop.torch_to_nnx(torch_net, Net(), rename={"layers": ""})
    with torch.no_grad():
        expected = torch_net(torch.from_numpy(interop.to_channels_first(X))).numpy()
    np.testing.assert_allclose(interop.to_channels_first(model(X)), expected, **TOL)
    back = interop.nnx_to_torch(model, rename={"layers": ""})
    assert sorted(back) == sorted(torch_net.state_dict())
