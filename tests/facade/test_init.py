"""``lucid.nn.init`` against ``torch.nn.init``: gains, fan rules and the distributions' spread.

The samples come from different generators, so the tests compare what defines the
distribution: the bound of a uniform (its largest sample, within 1%) and the standard
deviation of a normal (within 3% on 64k samples), each against torch's own samples.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid
from lucid.nn import init

SHAPES = [(256, 128), (64, 32, 3, 3), (32, 64, 4, 4), (512, 128, 1)]
INITS = {
    "xavier_uniform": (lambda m, t: m.xavier_uniform_(t), "uniform"),
    "xavier_uniform_gain": (lambda m, t: m.xavier_uniform_(t, gain=m.calculate_gain("relu")),
                            "uniform"),
    "xavier_normal": (lambda m, t: m.xavier_normal_(t, gain=2.0), "normal"),
    "kaiming_uniform": (lambda m, t: m.kaiming_uniform_(t), "uniform"),
    "kaiming_uniform_fan_out": (lambda m, t: m.kaiming_uniform_(t, a=0.2, mode="fan_out",
                                                                nonlinearity="leaky_relu"),
                                "uniform"),
    "kaiming_normal": (lambda m, t: m.kaiming_normal_(t, mode="fan_out",
                                                      nonlinearity="relu"), "normal"),
    "kaiming_normal_tanh": (lambda m, t: m.kaiming_normal_(t, nonlinearity="tanh"), "normal"),
    "normal": (lambda m, t: m.normal_(t, 0.5, 0.02), "normal"),
    "uniform": (lambda m, t: m.uniform_(t, -0.3, 0.1), "uniform"),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", INITS)
def test_initialisers_match_torch_distributions(case, shape):
    fill, kind = INITS[case]
    _ = lucid.manual_seed(0)
    torch.manual_seed(0)
    ours = fill(init, lucid.zeros(*shape)).numpy()
    theirs = fill(torch.nn.init, torch.zeros(*shape)).numpy()
    if kind == "uniform":
        np.testing.assert_allclose([ours.min(), ours.max()], [theirs.min(), theirs.max()],
                                   rtol=0.01, atol=1e-3)
    else:
        np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.03)
        np.testing.assert_allclose(ours.mean(), theirs.mean(),
                                   atol=6 * theirs.std() / np.sqrt(ours.size))


def test_constant_and_in_place_on_parameters():
    layer = lucid.nn.Conv2d(3, 4, 3)
    weight = layer.weight
    assert init.constant_(layer.weight, 0.25) is weight and weight.requires_grad
    assert np.all(weight.numpy() == 0.25)
    assert init.normal_(layer.bias) is layer.bias and layer.bias.grad is None


@pytest.mark.parametrize("args", [("linear",), ("conv_transpose2d",), ("sigmoid",), ("tanh",),
                                  ("relu",), ("leaky_relu",), ("leaky_relu", 0.2), ("selu",)])
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args),
                                                       rel=1e-12)


@pytest.mark.parametrize("lib", [init, torch.nn.init], ids=["lucid", "torch"])
def test_init_errors_are_torchs(lib):
    zeros = lucid.zeros if lib is init else torch.zeros
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor "
                                         "with fewer than 2 dimensions"):
        lib.xavier_uniform_(zeros(5))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                                         r"\['fan_in', 'fan_out'\]"):
        lib.kaiming_normal_(zeros(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        lib.kaiming_uniform_(zeros(3, 4), nonlinearity="gelu")
    with pytest.raises(ValueError, match="negative_slope 0.1x not a valid number"):
        lib.calculate_gain("leaky_relu", "0.1x")


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(0, 5), (0, 0)])
def test_kaiming_on_a_zero_element_tensor_warns_and_does_nothing(name, shape):
    for lib in (torch, lucid):
        tensor = lib.zeros(*shape)
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert getattr(lib.nn.init, name)(tensor, mode="fan_out") is tensor
