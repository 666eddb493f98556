"""``lucid.*`` functions, the new Tensor methods and ``lucid.device``, against torch 2.13."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
import torch

import lucid
from lucid_jax._compat import enable_x64


def check(fn, arrays, rng, rtol=1e-6, atol=1e-6):
    """``fn(lib, *tensors)`` in both libraries: values, and gradients of a random cotangent."""
    ours = [lucid.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(lucid, *ours), fn(torch, *theirs)
    outs, refs = (out, ref) if isinstance(ref, tuple) else ((out,), (ref,))
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs, strict=True):
        np.testing.assert_allclose(o.numpy(), r.detach().numpy(), rtol=rtol, atol=atol)
    cotangents = [rng.standard_normal(tuple(r.shape)).astype(np.float32) for r in refs]
    total = sum((o * c).sum() for o, c in zip(outs, cotangents, strict=True))
    total.backward()
    torch.autograd.backward(list(refs), [torch.tensor(c) for c in cotangents])
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), rtol=rtol, atol=atol)


FUNCTIONS = {
    "tanh": lambda T, x: T.tanh(x),
    "sigmoid": lambda T, x: T.sigmoid(x),
    "relu": lambda T, x: T.relu(x),
    "exp": lambda T, x: T.exp(x),
    "log": lambda T, x: T.log(T.abs(x) + 0.5),
    "mean": lambda T, x: T.mean(x, dim=1, keepdim=True),
    "mean_all": lambda T, x: T.mean(x),
    "sum": lambda T, x: T.sum(x, dim=(0, 2)),
    "clamp": lambda T, x: T.clamp(x, min=-0.5, max=0.7),
    "clamp_min": lambda T, x: T.clamp(x, min=0.1),
    "where": lambda T, x: T.where(x > 0, x, x * 0.1),
    "where_scalar": lambda T, x: T.where(x > 0, x, 0.0),
    "flatten": lambda T, x: T.flatten(x, 1),
    "maximum": lambda T, x: T.maximum(x, x.flip(0)),
    "minimum": lambda T, x: T.minimum(x, x * 0.5),
    "matmul": lambda T, x: T.matmul(x, x.transpose(1, 2)),
    "flip": lambda T, x: x.flip(0, 2),
    "flip_tuple": lambda T, x: x.flip((1,)),
    "contiguous": lambda T, x: x.contiguous() * 2,
    "repeat": lambda T, x: x.repeat(2, 1, 3),
    "repeat_new_axis": lambda T, x: x.repeat(2, 1, 1, 1),
    "expand": lambda T, x: x[:, :1].expand(3, 4, -1),
    "expand_new_axis": lambda T, x: x.expand(2, -1, -1, -1),
    "chunk": lambda T, x: x.chunk(3, dim=1),
    "chunk_uneven": lambda T, x: x.chunk(3, dim=2),
    "split": lambda T, x: x.split(2, dim=-1),
    "split_sections": lambda T, x: x.split([1, 3], dim=1),
}


@pytest.mark.parametrize("case", FUNCTIONS)
def test_functions_and_methods_match_torch(case, rng):
    check(FUNCTIONS[case], [rng.standard_normal((3, 4, 5)).astype(np.float32)], rng)


def test_allclose_matches_torch(rng):
    a = rng.standard_normal(5).astype(np.float32)
    for b, kwargs in [(a + 1e-7, {}), (a + 1e-3, {}), (a + 1e-3, {"atol": 1e-2}),
                      (a * (1 + 1e-3), {"rtol": 1e-2})]:
        expected = torch.allclose(torch.tensor(a), torch.tensor(b), **kwargs)
        assert lucid.allclose(lucid.tensor(a), lucid.tensor(b), **kwargs) is expected
    nan = np.float32([np.nan])
    assert lucid.allclose(lucid.tensor(nan), lucid.tensor(nan)) is False
    assert lucid.allclose(lucid.tensor(nan), lucid.tensor(nan), equal_nan=True) is True


SHAPE_ERRORS = [
    ("T.ones(2, 3).expand(3, 3)", RuntimeError,
     r"The expanded size of the tensor \(3\) must match the existing size \(2\) at "
     r"non-singleton dimension 0.  Target sizes: \[3, 3\].  Tensor sizes: \[2, 3\]"),
    ("T.ones(2, 3).expand(3)", RuntimeError,
     r"the number of sizes provided \(1\) must be greater or equal to the number of "
     r"dimensions in the tensor \(2\)"),
    ("T.ones(2, 3).repeat(3)", RuntimeError,
     "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
     "tensor"),
    ("T.ones(2, 3).chunk(0)", RuntimeError, "chunk expects `chunks` to be greater than 0, got: 0"),
    ("T.ones(2, 3).split(0)", RuntimeError,
     "split_size can only be 0 if dimension size is 0, but got dimension size of 2"),
    ("T.ones(2, 3).split([1, 2])", RuntimeError,
     r"split_with_sizes expects split_sizes to sum exactly to 2 \(input tensor's size at "
     r"dimension 0\), but got split_sizes=\[1, 2\]"),
    ("T.ones(2, 3).flip(3)", IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)"),
    ("T.clamp(T.ones(2))", RuntimeError, "At least one of 'min' or 'max' must not be None"),
]


@pytest.mark.parametrize("lib", [lucid, torch], ids=["lucid", "torch"])
@pytest.mark.parametrize(("expression", "kind", "message"), SHAPE_ERRORS)
def test_shape_method_errors_are_torchs(lib, expression, kind, message):
    with pytest.raises(kind, match=message):
        eval(expression, {"T": lib})


def test_chunk_count_matches_torch():
    for size, chunks in [(6, 4), (5, 2), (7, 3), (1, 3)]:
        ours = [t.shape for t in lucid.ones(size).chunk(chunks)]
        assert ours == [tuple(t.shape) for t in torch.ones(size).chunk(chunks)]


def test_device_names_map_to_jax_devices():
    cpu = jax.devices("cpu")[0]
    assert repr(lucid.device("cpu")) == repr(torch.device("cpu")) == "device(type='cpu')"
    assert repr(lucid.device("cuda:1")) == repr(torch.device("cuda:1"))
    assert str(lucid.device("cuda", 0)) == str(torch.device("cuda", 0)) == "cuda:0"
    assert lucid.device("cuda").type == "cuda" and lucid.device("gpu").platform == "gpu"
    assert lucid.device("cuda:0") == lucid.device("gpu:0") == "gpu"
    assert lucid.device("cpu").jax_device == cpu
    x = lucid.ones(2, device=lucid.device("cpu"))
    assert x.device == lucid.device("cpu") == cpu == x.device
    assert x.device.type == torch.ones(2).device.type == "cpu"
    assert x.to(lucid.device("cpu")) is x and x.to("cpu") is x
    assert len({lucid.device("cpu"), lucid.device("cpu:0")}) == 1
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda, gpu, tpu device type at "
                                           "start of device string: foo"):
        lucid.device("foo")
    with pytest.raises(RuntimeError, match="Invalid device string: 'cuda:x'"):
        lucid.device("cuda:x")
    with pytest.raises(RuntimeError, match="type \\(string\\) must not include an index"):
        lucid.device("cuda:0", 1)
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        lucid.device("cuda", -1)


@pytest.mark.parametrize("first, second", [("float32", "float64"), ("float32", "int64"),
                                           ("float32", "float16"), ("bfloat16", "float16")])
def test_allclose_refuses_mixed_dtypes_as_torch(first, second):
    theirs = (torch.ones(2, dtype=getattr(torch, first)),
              torch.ones(2, dtype=getattr(torch, second)))
    with pytest.raises(RuntimeError) as expected:
        torch.allclose(*theirs)
    with enable_x64(True):  # lucid makes 64-bit tensors only in JAX's 64-bit mode
        ours = (lucid.ones(2, dtype=getattr(lucid, first)),
                lucid.ones(2, dtype=getattr(lucid, second)))
        with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
            lucid.allclose(*ours)
