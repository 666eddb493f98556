"""What an everyday PyTorch training script calls besides the layers: ``argmax`` for accuracy,
``softmax``, ``cat``/``stack``, ``arange``, the ``*_like`` factories and dtype shorthands,
each against PyTorch (values, and gradients with random cotangents where there are any)."""

from __future__ import annotations

import numpy as np
import oracle
import pytest
import torch

import lucid
import lucid.nn.functional as F


def both(array, requires_grad=False):
    return (lucid.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (-1, True), (0, True)])
def test_argmax_and_argmin_match_torch(rng, name, dim, keepdim):
    ours, theirs = both(rng.standard_normal((3, 5, 4)).astype(np.float32))
    kwargs = {} if dim is None else dict(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(getattr(ours, name)(**kwargs).numpy(),
                                  getattr(theirs, name)(**kwargs).numpy())


def test_accuracy_the_way_scripts_compute_it(rng):
    logits, labels = rng.standard_normal((16, 4)).astype(np.float32), np.arange(16) % 4
    ours = (lucid.tensor(logits).argmax(1) == lucid.tensor(labels)).float().mean().item()
    theirs = (torch.tensor(logits).argmax(1) == torch.tensor(labels)).float().mean().item()
    assert ours == theirs


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [1, -1, 0])
def test_softmax_and_log_softmax_values_and_gradients_match_torch(rng, name, dim):
    x = (rng.standard_normal((3, 5, 4)) * 3).astype(np.float32)
    cotangent = rng.standard_normal((3, 5, 4)).astype(np.float32)
    ours, theirs = both(x, requires_grad=True)
    out = getattr(F, name)(ours, dim=dim)
    expected = getattr(torch.nn.functional, name)(theirs, dim=dim)
    oracle.assert_close(out.numpy(), expected.detach().numpy())
    out.backward(lucid.tensor(cotangent))
    expected.backward(torch.tensor(cotangent))
    oracle.assert_close(ours.grad, theirs.grad.numpy())
    oracle.assert_close(getattr(lucid.tensor(x), name)(dim).numpy(), expected.detach().numpy())


@pytest.mark.parametrize("join,dim", [("cat", 0), ("cat", 1), ("cat", -1), ("stack", 0),
                                      ("stack", 2), ("stack", -1)])
def test_cat_and_stack_values_and_gradients_match_torch(rng, join, dim):
    shapes = [(2, 3, 4)] * 3 if join == "stack" else [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [lucid.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = getattr(lucid, join)(ours, dim=dim), getattr(torch, join)(theirs, dim=dim)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    cotangent = rng.standard_normal(expected.shape).astype(np.float32)
    out.backward(lucid.tensor(cotangent))
    expected.backward(torch.tensor(cotangent))
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.grad, reference.grad.numpy())


def test_cat_of_different_lengths_along_dim(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((5, 3))
    np.testing.assert_array_equal(lucid.cat([lucid.tensor(a), lucid.tensor(b)]).numpy(),
                                  torch.cat([torch.tensor(a), torch.tensor(b)]).float().numpy())


@pytest.mark.parametrize("join,error,message", [
    ("cat", ValueError, "cat\\(\\): expected a non-empty list of Tensors"),
    ("stack", RuntimeError, "stack expects a non-empty TensorList")])
def test_joining_nothing_is_torchs_error(join, error, message):
    with pytest.raises(error, match=message):
        getattr(torch, join)([])
    with pytest.raises(error, match=message):
        getattr(lucid, join)([])


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (0, 1, 0.25), (-1.5, 1.0)])
def test_arange_matches_torch(args):
    ours, theirs = lucid.arange(*args), torch.arange(*args)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert np.issubdtype(ours.dtype, np.integer) == (not theirs.dtype.is_floating_point)


def test_like_factories_and_from_numpy(rng):
    x = lucid.tensor(rng.standard_normal((2, 3)), dtype=lucid.float16)
    for make, value in ((lucid.zeros_like, 0), (lucid.ones_like, 1)):
        made = make(x)
        assert made.shape == x.shape and made.dtype == x.dtype
        np.testing.assert_array_equal(made.numpy(), value)
    assert lucid.randn_like(x).shape == (2, 3) and lucid.randn_like(x).dtype == np.float16
    assert lucid.zeros_like(x, dtype=lucid.float32).dtype == np.float32
    array = rng.standard_normal((2, 2)).astype(np.float32)
    np.testing.assert_array_equal(lucid.from_numpy(array).numpy(), array)


def test_dtype_shorthands_and_cpu():
    x = lucid.tensor([0.0, 1.5, -2.0])
    assert x.int().tolist() == [0, 1, -2] and x.int().dtype == np.int32
    assert x.bool().tolist() == [False, True, True]
    assert x.cpu().device.platform == "cpu"
    with pytest.raises(ValueError, match="dtype int64 needs JAX's 64-bit mode"):
        x.long()
