"""lucid.nn.Module and Parameter: registry, modes, gradients, nesting, errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(lucid.ones(3))
        self.norm = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)

    def forward(self, x):
        return self.norm(x) * self.scale.reshape(1, 3, 1)


def test_nested_registry_names_order_and_repr():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == ["scale", "norm.weight", "norm.bias"]
    assert len(list(block.parameters())) == 3
    assert [n for n, _ in block.named_buffers()] == [
        "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert len(list(block.buffers())) == 3 and list(block.children()) == [block.norm]
    assert list(block.state_dict()) == ["scale", "norm.weight", "norm.bias",
                                        "norm.running_mean", "norm.running_var",
                                        "norm.num_batches_tracked"]
    assert repr(block) == ("Block(\n  (norm): InstanceNorm1d(3, eps=1e-05, momentum=0.1, "
                           "affine=True, bias=True, track_running_stats=True)\n)")


def test_train_eval_return_self_and_recurse():
    block = Block()
    assert block.eval() is block and not block.training and not block.norm.training
    assert block.train() is block and block.norm.training


def test_zero_grad_and_accumulation(rng):
    block = Block()
    x = lucid.randn(2, 3, 5)
    for _ in range(2):
        block(x).backward(rng.standard_normal((2, 3, 5)))
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad(set_to_none=False)
    assert all(not p.grad.any() for p in block.parameters())  # zeroed in place, as torch
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_state_dict_aliases_the_state_like_torch_and_deepcopy_snapshots_it():
    norm = nn.InstanceNorm1d(3, track_running_stats=True)
    reference = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    aliased, snapshot = norm.state_dict(), copy.deepcopy(norm.state_dict())
    torch_aliased = reference.state_dict()
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32) + 4
    norm(x)
    reference(torch.tensor(x))
    np.testing.assert_allclose(aliased["running_mean"], torch_aliased["running_mean"],
                               rtol=1e-6)
    assert np.all(np.asarray(aliased["running_mean"]) > 0.3)
    np.testing.assert_array_equal(snapshot["running_mean"], np.zeros(3))
    assert not any(value.requires_grad for value in nn.InstanceNorm1d(3, affine=True)
                   .state_dict().values())


def test_nested_load_round_trip():
    source, target = Block(), Block()
    source.scale.data = np.arange(3, dtype=np.float32)
    source(lucid.randn(2, 3, 5) * 2 + 1)
    target.load_state_dict(source.state_dict())
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value, err_msg=name)


def test_assignment_errors():
    norm = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight' "
                       r"\(lucid.nn.Parameter or None expected\)"):
        norm.weight = lucid.ones(3)
    with pytest.raises(TypeError, match="cannot assign 'ndarray' as buffer 'running_mean' "
                       r"\(lucid.Tensor or None expected\)"):
        norm.running_mean = np.zeros(3)
    norm.weight = None
    assert [n for n, _ in norm.named_parameters()] == ["bias"]


def test_missing_forward_raises():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                       '"forward" function'):
        nn.Module()(lucid.ones(1))
