"""lucid.Tensor and its tape: values, gradients (against torch), protocol, errors, caching."""

from __future__ import annotations

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch

import lucid
from lucid import _autograd as _tensor
from lucid_jax._compat import enable_x64


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
    assert lucid.ones(1, device="cpu").device == lucid.ones(1).device


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


def torch_error(fn, *args):
    """The exception torch raises for ``fn(*args)`` (the reference for our messages)."""
    with pytest.raises(Exception) as info:
        fn(*args)
    return info.value


OUT_OF_RANGE = {
    "int": 5, "negative": -3, "in a tuple": (0, 3), "negative after a slice": (slice(None), -4),
    "after an ellipsis": (Ellipsis, 7), "numpy integer": np.int64(2),
    "in an index array": np.array([0, 5]), "negative in an index array": [1, -3],
}


@pytest.mark.parametrize("case", OUT_OF_RANGE)
def test_out_of_range_integer_indices_raise_like_torch(case):
    index = OUT_OF_RANGE[case]
    x, tx = pair(np.zeros((2, 3)))
    expected = torch_error(tx.__getitem__, index)
    assert isinstance(expected, IndexError)
    with pytest.raises(IndexError, match=f"^{re.escape(str(expected))}$"):
        x[index]


def test_in_range_negative_indices_and_the_message_names_the_tensors_own_axis():
    x, tx = pair(np.arange(6.0).reshape(2, 3))
    for index in (-2, (-1, -3), (None, 1), [-2, 1]):
        np.testing.assert_array_equal(x[index], tx[index].detach().numpy())
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x[None, 5]  # torch counts the inserted axis and says dimension 1
    with pytest.raises(IndexError, match=r"index 2 is out of bounds for dimension 0 with size 2"):
        x[lucid.tensor(2)]


def test_iteration_yields_rows_like_torch_and_stays_on_the_tape(rng):
    x, tx = pair(rng.standard_normal((4, 3)))
    rows, t_rows = list(itertools.islice(x, 9)), list(tx)  # islice: fail, not hang, if endless
    assert len(rows) == len(t_rows) == 4
    cotangent = rng.standard_normal(3).astype(np.float32)
    for weight, (row, t_row) in enumerate(zip(rows, t_rows, strict=True)):
        oracle.assert_close(row.numpy(), t_row.detach().numpy())
        (row * weight).backward(cotangent)
        (t_row * weight).backward(torch.tensor(cotangent))
    oracle.assert_close(x.grad, tx.grad.numpy())
    next(iter(lucid.randn(7, 2)))  # compiles the first row
    kernels = len(_tensor._KERNELS)
    compiled = sum(k._cache_size() for k in _tensor._KERNELS.values())
    assert len(list(itertools.islice(lucid.randn(7, 2), 9))) == 7  # every row reuses it
    assert len(_tensor._KERNELS) == kernels
    assert sum(k._cache_size() for k in _tensor._KERNELS.values()) == compiled


def test_zero_dimensional_tensors_cannot_be_iterated_or_measured():
    scalar = lucid.tensor(1.0)
    assert str(torch_error(iter, torch.tensor(1.0))) == "iteration over a 0-d tensor"
    with pytest.raises(TypeError, match="^iteration over a 0-d tensor$"):
        iter(scalar)
    with pytest.raises(TypeError, match=r"^len\(\) of a 0-d tensor$"):
        len(scalar)


COMPARISONS = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparisons_are_elementwise_boolean_and_off_the_tape(op):
    a_np = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], np.float32)
    b_np = np.array([2.0, 2.0, 2.0], np.float32)
    a, ta = pair(a_np)
    b, tb = pair(b_np, requires_grad=False)
    compare = COMPARISONS[op]
    for left, right, t_left, t_right in [
        (a, b, ta, tb), (a, 2.0, ta, 2.0), (2.0, a, 2.0, ta), (b_np, a, tb, ta),
        (a, jnp.asarray(b_np), ta, tb), (a, a, ta, ta),
    ]:
        result = compare(left, right)
        assert isinstance(result, lucid.Tensor) and result.dtype == lucid.bool_
        assert not result.requires_grad
        np.testing.assert_array_equal(result, compare(t_left, t_right).numpy())


def test_tensors_stay_hashable_by_identity_and_compare_unequal_to_none():
    x, same = lucid.ones(2), lucid.ones(2)
    assert hash(x) == object.__hash__(x) and len({x, same}) == 2 and {x: 1}[x] == 1
    assert (x == None) is False and (x != None) is True  # noqa: E711  (torch's answers)
    assert (torch.ones(2) == None) is False  # noqa: E711


def test_reductions_take_torch_dim_and_keepdim(rng):
    x, tx = pair(rng.standard_normal((2, 3, 4)))
    for name in ("sum", "mean"):
        ours, theirs = getattr(x, name), getattr(tx, name)
        for kwargs in ({"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"dim": [2, 0]},
                       {"axis": 1, "keepdim": True}, {"dim": -1, "keepdims": True}):
            torch_kwargs = {"dim": kwargs.get("dim", kwargs.get("axis")),
                            "keepdim": kwargs.get("keepdim", kwargs.get("keepdims", False))}
            oracle.assert_close(ours(**kwargs).numpy(), theirs(**torch_kwargs).detach().numpy())
        oracle.assert_close(ours(1, True).numpy(), theirs(1, True).detach().numpy())
        with pytest.raises(TypeError, match=rf"{name}\(\) got both axis=1 and dim=1; pass one"):
            ours(axis=1, dim=1)
        with pytest.raises(TypeError, match=rf"{name}\(\) got both keepdims=True and "
                           "keepdim=True; pass one"):
            ours(keepdims=True, keepdim=True)


def test_python_scalar_conversions_and_tolist_match_torch():
    for values in ([2.75], [[-1.5]], 0.0, [[1.0, 2.0], [3.0, 4.0]]):
        ours, theirs = lucid.tensor(values), torch.tensor(values)
        assert ours.tolist() == theirs.tolist()
        if theirs.numel() == 1:
            assert float(ours) == float(theirs) and int(ours) == int(theirs)
            assert bool(ours) is bool(theirs)
            continue
        for convert in (float, int):
            message = str(torch_error(convert, theirs))
            with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
                convert(ours)
        message = str(torch_error(bool, theirs))
        with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
            bool(ours)
    assert lucid.tensor([1, 2]).tolist() == [1, 2] and isinstance(lucid.tensor(3).tolist(), int)


FACTORIES_64 = {
    "zeros": lambda dtype: lucid.zeros(2, dtype=dtype),
    "ones": lambda dtype: lucid.ones(2, dtype=dtype),
    "randn": lambda dtype: lucid.randn(2, dtype=dtype),
    "tensor": lambda dtype: lucid.tensor([1.0, 2.0], dtype=dtype),
    "Tensor": lambda dtype: lucid.Tensor([1, 2], dtype=dtype),
}


@pytest.mark.parametrize("factory", FACTORIES_64)
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_64_bit_dtypes_without_x64_raise_instead_of_narrowing(factory, dtype):
    assert not jax.config.jax_enable_x64  # the suite runs in JAX's default 32-bit mode
    with pytest.raises(ValueError, match=rf"^dtype {dtype} needs JAX's 64-bit mode, which is off "
                       r"\(JAX would silently use (float|int)32\); enable it at startup with "
                       r'jax.config.update\("jax_enable_x64", True\)'):
        FACTORIES_64[factory](getattr(lucid, dtype))


@pytest.mark.parametrize("factory", FACTORIES_64)
def test_float64_is_honoured_with_x64_on(factory):
    with enable_x64(True):
        x = FACTORIES_64[factory](lucid.float64)
        assert x.dtype == np.float64
        y = (x * x + 1).sum()
        assert y.dtype == np.float64
