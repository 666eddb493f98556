"""Tensor methods a training script needs, against torch: values and gradients."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lucid
import lucid_jax

UNARY = {
    "clone": lambda t: t.clone(),
    "view": lambda t: t.view(4, 6),
    "reshape": lambda t: t.reshape(-1),
    "transpose": lambda t: t.transpose(0, 2),
    "permute": lambda t: t.permute(2, 0, 1),
    "unsqueeze": lambda t: t.unsqueeze(-1),
    "squeeze": lambda t: t[:, :1].squeeze(1),
    "squeeze_all": lambda t: t[:1].squeeze(),
    "flatten": lambda t: t.flatten(1),
    "sqrt": lambda t: (t * t + 1).sqrt(),
    "exp": lambda t: t.exp(),
    "log": lambda t: (t * t + 1).log(),
    "abs": lambda t: t.abs(),
    "__abs__": lambda t: abs(t),
    "max": lambda t: t.max(),
    "min": lambda t: t.min(),
    "max_dim": lambda t: t.max(dim=1)[0],
    "min_dim_keepdim": lambda t: t.min(dim=-1, keepdim=True).values,
    "var": lambda t: t.var(),
    "var_dim": lambda t: t.var(dim=(0, 2), keepdim=True),
    "var_biased": lambda t: t.var(1, unbiased=False),
    "std_dim": lambda t: t.std(dim=2),
    "std_correction": lambda t: t.std(dim=0, correction=0),
    "matmul": lambda t: t @ t.transpose(1, 2),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "relu": lambda t: t.relu(),
    "clamp": lambda t: t.clamp(min=-0.5, max=0.5),
    "T": lambda t: t.reshape(4, 6).T,
}


@pytest.mark.parametrize("op", UNARY)
def test_methods_match_torch_values_and_gradients(op, rng):
    data = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ours = lucid.tensor(data, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    out, ref = UNARY[op](ours), UNARY[op](theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    cotangent = rng.standard_normal(ref.shape).astype(np.float32)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_max_with_dim_returns_values_and_indices_like_torch(rng):
    data = rng.standard_normal((3, 5)).astype(np.float32)
    values, indices = lucid.tensor(data).max(dim=1)
    ref = torch.tensor(data).max(dim=1)
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
    np.testing.assert_array_equal(values.numpy(), ref.values.numpy())


def test_size_dim_numel_device_and_dtype_conversions():
    x = lucid.zeros(2, 3)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.dim() == 2 and x.numel() == 6
    assert x.device == next(iter(jnp.asarray(x).devices()))
    assert x.to(lucid.float16).dtype == jnp.float16 and x.half().dtype == jnp.float16
    assert x.float() is x and x.to("cpu") is x and x.to(lucid.float32) is x
    w = lucid.tensor([1.0, 2.0], requires_grad=True)
    w.to(lucid.bfloat16).float().sum().backward()       # a cast stays on the tape
    assert w.grad.tolist() == [1.0, 1.0]


def test_double_needs_x64_like_every_float64_request():
    with pytest.raises(ValueError, match="dtype float64 needs JAX's 64-bit mode"):
        lucid.zeros(2).double()


def test_format_numpy_as_tensor_and_the_core_read_tensors():
    loss = lucid.tensor(0.123456)
    assert f"{loss:.3f}" == f"{torch.tensor(0.123456):.3f}" == "0.123"
    assert f"{lucid.ones(2)}" == str(lucid.ones(2))
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{lucid.ones(2):.3f}"
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.asarray(lucid.tensor(data)).dtype == np.float32
    np.testing.assert_array_equal(torch.as_tensor(lucid.tensor(data)).numpy(), data)
    assert torch.as_tensor(lucid.tensor(2.5)).item() == 2.5
    x = lucid.randn(2, 3, 8)
    np.testing.assert_array_equal(jnp.asarray(x), x.numpy())  # __jax_array__: JAX's conversion
    np.testing.assert_array_equal(lucid_jax.instance_norm(x),  # the core reads a Tensor as is
                                  lucid.nn.functional.instance_norm(x))
    mean, var = lucid_jax.instance_moments(x)
    np.testing.assert_array_equal(mean, lucid_jax.instance_moments(jnp.asarray(x))[0])


def test_clamp_without_bounds_and_bad_dims_raise_like_torch():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        lucid.ones(2).clamp()
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                       r"of \[-2, 1\], but got 2\)"):
        lucid.ones(2, 3).transpose(0, 2)
    with pytest.raises(TypeError, match="var\\(\\)/std\\(\\) take unbiased or correction"):
        lucid.ones(3).var(unbiased=True, correction=1)
