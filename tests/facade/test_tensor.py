"""lucid.Tensor and its tape: values, gradients (against torch), protocol, errors, caching."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch

import lucid
from lucid import _tensor


def pair(array, requires_grad=True):
    """The same float32 values as a lucid and a torch leaf tensor."""
    array = np.asarray(array, np.float32)
    return (lucid.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("op", BINARY)
def test_broadcasting_binary_ops_match_torch(op, rng):
    a_np = rng.uniform(0.5, 2.0, (3, 1, 5))
    b_np = rng.uniform(0.5, 2.0, (4, 1))
    cotangent = rng.standard_normal((3, 4, 5)).astype(np.float32)
    a, ta = pair(a_np)
    b, tb = pair(b_np)
    out, expected = BINARY[op](a, b), BINARY[op](ta, tb)
    out.backward(cotangent)
    expected.backward(torch.tensor(cotangent))
    oracle.assert_close(out.numpy(), expected.detach().numpy())
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    oracle.assert_close(a.grad, ta.grad.numpy())
    oracle.assert_close(b.grad, tb.grad.numpy())


@pytest.mark.parametrize("op", BINARY)
def test_scalars_and_arrays_on_either_side(op, rng):
    a_np = rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32)
    other = rng.uniform(0.5, 2.0, (3,)).astype(np.float32)
    a, ta = pair(a_np)
    for left, right in [(a, 1.5), (1.5, a), (a, other), (other, a), (a, jnp.asarray(other))]:
        tl = ta if left is a else torch.tensor(np.asarray(left, np.float32))
        tr = ta if right is a else torch.tensor(np.asarray(right, np.float32))
        result = BINARY[op](left, right)
        assert isinstance(result, lucid.Tensor)
        oracle.assert_close(result.numpy(), BINARY[op](tl, tr).detach().numpy())
    assert a.dtype == (a * 2.0).dtype == np.float32  # Python scalars keep the tensor's dtype


def test_negation_reductions_reshape_indexing_gradients_match_torch(rng):
    x_np = rng.standard_normal((2, 3, 4))
    x, tx = pair(x_np)
    mask = x_np[0] > 0
    steps = [
        lambda t: -t,
        lambda t: t.sum(axis=1) if isinstance(t, lucid.Tensor) else t.sum(dim=1),
        lambda t: t.mean(axis=(0, 2), keepdims=True) if isinstance(t, lucid.Tensor)
        else t.mean(dim=(0, 2), keepdim=True),
        lambda t: t.reshape(4, 6),
        lambda t: t.reshape((3, -1)),
        lambda t: t[1, :, ::2],
        lambda t: t[..., None, 1],
        lambda t: t[np.array([1, 0, 1])],
        lambda t: t[0][mask if isinstance(t, lucid.Tensor) else torch.tensor(mask)],
        lambda t: t[:, lucid.tensor([2, 0]) if isinstance(t, lucid.Tensor) else [2, 0]],
    ]
    for step in steps:
        out, expected = step(x), step(tx)
        cotangent = rng.standard_normal(expected.shape).astype(np.float32)
        out.backward(cotangent)
        expected.backward(torch.tensor(cotangent))
        assert out.shape == tuple(expected.shape)
        oracle.assert_close(out.numpy(), expected.detach().numpy())
    oracle.assert_close(x.grad, tx.grad.numpy())  # accumulated over every step


def test_shared_subexpressions_and_scalar_results(rng):
    x, tx = pair(rng.standard_normal((3, 2)))
    y, ty = x * x, tx * tx
    (y * x + y).mean().backward()
    (ty * tx + ty).mean().backward()
    oracle.assert_close(x.grad, tx.grad.numpy())


def test_backward_seeds_ones_on_a_non_scalar_and_accumulates():
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward()
    (x * 3.0).backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0, 9.0])


def test_gradients_reach_leaves_only_and_respect_requires_grad():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    constant = lucid.tensor([3.0, 4.0])
    hidden = x * constant
    (hidden * 2).backward()
    assert hidden.grad is None and not hidden.is_leaf and constant.grad is None
    np.testing.assert_array_equal(x.grad, [6.0, 8.0])


def test_detach_no_grad_and_requires_grad_():
    x = lucid.tensor([1.0, 2.0]).requires_grad_()
    assert x.requires_grad and not x.detach().requires_grad
    with lucid.no_grad():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @lucid.no_grad()
    def doubled(t):
        return t * 2

    assert not doubled(x).requires_grad
    assert not x.requires_grad_(False).requires_grad


def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        lucid.tensor([1.0]).backward()
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: gradient has a shape of \(3,\)"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        lucid.tensor([1, 2], requires_grad=True)


def test_array_protocol_and_properties():
    x = lucid.Tensor([[1.0, 2.0, 3.0]])
    assert x.shape == (1, 3) and type(x.shape) is tuple and x.ndim == 2 and len(x) == 1
    assert x.dtype == lucid.float32
    assert isinstance(x.numpy(), np.ndarray) and np.asarray(x).tolist() == [[1.0, 2.0, 3.0]]
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x[0, 2].item() == 3.0
    x.data = jnp.zeros((1, 3))
    assert x.numpy().tolist() == [[0.0, 0.0, 0.0]]
    assert repr(lucid.tensor([[-0.00001, 1.23456]])) == "Tensor([[0.0, 1.2346]], grad=None)"


def test_factories_dtypes_and_sources():
    assert lucid.zeros(2, 3).shape == (2, 3) and lucid.ones((4,)).numpy().tolist() == [1.0] * 4
    assert lucid.zeros(2, dtype=lucid.float16).dtype == lucid.float16
    assert lucid.tensor([1, 2]).dtype == lucid.int32
    assert lucid.randn(2, requires_grad=True).requires_grad
    assert lucid.tensor(torch.arange(3.0, requires_grad=True)).numpy().tolist() == [0, 1, 2]
    assert lucid.tensor(lucid.ones(2)).shape == (2,)
    assert lucid.ones(1, device="cpu").data.devices() == {lucid.ones(1).data.devices().pop()}


def test_manual_seed_is_reproducible():
    lucid.manual_seed(3)
    a, b = lucid.randn(2, 3), lucid.randn(2, 3)
    lucid.manual_seed(3)
    np.testing.assert_array_equal(a, lucid.randn(2, 3))
    assert not np.array_equal(a, b)


def test_repeated_operations_reuse_compiled_kernels():
    x = lucid.randn(4, 5, requires_grad=True)
    ((x * 2 + 1).sum(axis=0) / 3).backward()  # compile once
    kernels = len(_tensor._KERNELS)
    compiled = sum(k._cache_size() for k in _tensor._KERNELS.values())
    for _ in range(3):
        ((lucid.randn(4, 5, requires_grad=True) * 2 + 1).sum(axis=0) / 3).backward()
    assert len(_tensor._KERNELS) == kernels
    assert sum(k._cache_size() for k in _tensor._KERNELS.values()) == compiled
