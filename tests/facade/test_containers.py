"""Sequential, ModuleList and the Module API (traversal, apply, dtype, freezing) against torch."""

from __future__ import annotations

from collections import OrderedDict

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn


def build(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2),
                             lib.nn.Tanh())


def names(module):
    return [name for name, _ in module.named_parameters()]


def test_sequential_indexing_slicing_and_deletion_match_torch():
    ours, theirs = build(lucid), build(torch)
    assert repr(ours) == repr(theirs)
    assert repr(ours[1:3]) == repr(theirs[1:3]) and type(ours[1:3]) is nn.Sequential
    assert names(ours[1:3]) == names(theirs[1:3]) == ["2.weight", "2.bias"]  # names kept
    assert ours[-1] is ours[3] and len(ours) == 4
    with pytest.raises(IndexError, match="index 4 is out of range"):
        ours[4]
    with pytest.raises(TypeError):
        ours["0"]
    del ours[1]
    del theirs[1]
    assert names(ours) == names(theirs) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ours.append(nn.Identity())
    theirs.append(torch.nn.Identity())
    assert repr(ours) == repr(theirs)


def test_sequential_from_an_ordered_dict_keeps_names():
    model = nn.Sequential(OrderedDict(encoder=nn.Linear(2, 3), act=nn.ReLU()))
    assert list(model.state_dict()) == ["encoder.weight", "encoder.bias"]
    assert model(lucid.ones(1, 2)).shape == (1, 3)
    assert model.get_submodule("encoder") is model.encoder


def test_module_list_api_matches_torch():
    for lib in (lucid, torch):
        layers = lib.nn.ModuleList([lib.nn.Linear(2, 2)])
        layers.extend([lib.nn.ReLU(), lib.nn.Linear(2, 3)])
        layers.insert(1, lib.nn.Tanh())
        popped = layers.pop(0)
        layers[0] = lib.nn.Sigmoid()
        assert isinstance(popped, lib.nn.Linear)
        assert [type(m).__name__ for m in layers] == ["Sigmoid", "ReLU", "Linear"]
        assert names(layers) == ["2.weight", "2.bias"]
    with pytest.raises(NotImplementedError, match=r'Module \[ModuleList\] is missing'):
        nn.ModuleList()(lucid.ones(1))


def test_shared_layers_are_visited_once_but_listed_under_each_key_like_torch():
    for lib in (lucid, torch):
        shared = lib.nn.Linear(2, 2)
        model = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        assert len(list(model.parameters())) == 2
        assert len(list(model.modules())) == 3
        assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
        assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
        assert [n for n, _ in model.named_children()] == ["0", "1"]


def test_apply_visits_children_first_and_returns_self():
    for lib in (lucid, torch):
        model = build(lib)
        seen = []
        assert model.apply(lambda m, seen=seen: seen.append(type(m).__name__)) is model
        assert seen == ["Linear", "ReLU", "Linear", "Tanh", "Sequential"]


def test_to_float_half_keep_identities_and_cast_floating_state_only():
    model = nn.Sequential(nn.Linear(2, 3), nn.InstanceNorm1d(3, track_running_stats=True))
    weight = model[0].weight
    (model[0](lucid.ones(1, 2))).sum().backward()
    assert model.half() is model and model[0].weight is weight
    assert weight.dtype == jnp.float16 and weight.grad.dtype == jnp.float16
    assert model[1].running_mean.dtype == jnp.float16
    assert model[1].num_batches_tracked.dtype == jnp.int32
    assert model.float()[0].weight.dtype == jnp.float32
    with pytest.raises(ValueError, match="dtype float64 needs JAX's 64-bit mode"):
        model.double()


def test_requires_grad_freezes_and_zero_grad_clears():
    model = build(lucid)
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    model(lucid.ones(1, 3)).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_add_module_delattr_and_get_submodule_errors_match_torch():
    for lib in (lucid, torch):
        model = lib.nn.Sequential(lib.nn.Linear(1, 1))
        with pytest.raises(KeyError, match='module name can.{1,2}t contain ".", got: a.b'):
            model.add_module("a.b", lib.nn.ReLU())
        with pytest.raises(KeyError, match='module name can.{1,2}t be empty string ""'):
            model.add_module("", lib.nn.ReLU())
        with pytest.raises(KeyError, match="attribute 'training' already exists"):
            model.add_module("training", lib.nn.ReLU())
        with pytest.raises(TypeError, match="module name should be a string. Got int"):
            model.add_module(1, lib.nn.ReLU())
        with pytest.raises(TypeError, match="int is not a Module subclass"):
            model.add_module("x", 1)
        with pytest.raises(AttributeError, match="Linear has no attribute `missing`"):
            model.get_submodule("0.missing")
        del model[0].bias
        assert names(model) == ["0.weight"]


def test_reset_parameters_redraws_within_torchs_bound():
    layer = nn.Conv2d(4, 2, 3)
    before = layer.weight.numpy().copy()
    layer.reset_parameters()
    bound = 1 / np.sqrt(4 * 9)
    assert not np.array_equal(before, layer.weight.numpy())
    assert np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.bias.numpy()).max() <= bound
