"""Loading keeps the model's dtypes, as torch's ``copy_`` does, and every NumPy/PyTorch input
is copied (JAX < 0.10 on CPU would alias an aligned NumPy buffer), beside torch 2.13."""

from __future__ import annotations

import io

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lucid

TORCH_DTYPES = {np.dtype(jnp.float16): torch.float16, np.dtype(jnp.bfloat16): torch.bfloat16,
                np.dtype(jnp.float32): torch.float32, np.dtype(jnp.int32): torch.int32}


def pair_of_linears(dtype):
    torch.manual_seed(0)
    reference = torch.nn.Linear(3, 2).to(TORCH_DTYPES[np.dtype(dtype)])
    model = lucid.nn.Linear(3, 2).to(dtype)
    return model, reference


@pytest.mark.parametrize(("model_dtype", "checkpoint_dtype"), [
    (jnp.float32, torch.float16), (jnp.bfloat16, torch.float32), (jnp.float32, torch.int64),
    (jnp.float32, torch.bfloat16), (jnp.float16, torch.float32)])
def test_load_state_dict_casts_to_the_models_dtype_like_torch(model_dtype, checkpoint_dtype):
    model, reference = pair_of_linears(model_dtype)
    generator = torch.Generator().manual_seed(1)
    checkpoint = {"weight": torch.randn(2, 3, generator=generator) * 5,
                  "bias": torch.randn(2, generator=generator) * 5}
    checkpoint = {k: v.to(checkpoint_dtype) for k, v in checkpoint.items()}
    reference.load_state_dict(checkpoint)
    weight = model.weight
    model.load_state_dict(checkpoint)
    assert model.weight is weight                          # the same Parameter, for optimisers
    for name in ("weight", "bias"):
        mine, theirs = getattr(model, name), getattr(reference, name)
        assert TORCH_DTYPES[mine.dtype] == theirs.dtype == TORCH_DTYPES[np.dtype(model_dtype)]
        np.testing.assert_array_equal(np.asarray(mine, np.float32),
                                      theirs.detach().float().numpy())


def test_a_float_checkpoint_truncates_into_an_int_buffer_like_torch():
    values = torch.tensor([1.5, -2.7, 3.9])
    reference, model = torch.nn.Module(), lucid.nn.Module()
    reference.register_buffer("count", torch.zeros(3, dtype=torch.int32))
    model.register_buffer("count", lucid.zeros(3, dtype=lucid.int32))
    reference.load_state_dict({"count": values})
    model.load_state_dict({"count": values})
    assert model.count.dtype == jnp.int32
    assert model.count.tolist() == reference.count.tolist() == [1, -2, 3]


def test_lucid_load_then_load_state_dict_keeps_the_models_dtype(tmp_path):
    half = lucid.nn.Linear(3, 2).half()
    lucid.save(half.state_dict(), tmp_path / "half.npz")
    model = lucid.nn.Linear(3, 2)
    model.load_state_dict(lucid.load(tmp_path / "half.npz"))
    assert model.weight.dtype == model.bias.dtype == jnp.float32
    np.testing.assert_array_equal(model.weight.numpy(), np.asarray(half.weight, np.float32))


def test_a_failed_load_changes_nothing_like_torch():
    model, reference = pair_of_linears(jnp.float32)
    bad = {"weight": torch.ones(2, 3, dtype=torch.float16), "bias": torch.ones(3)}
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(RuntimeError) as theirs:
        reference.load_state_dict(bad)
    with pytest.raises(RuntimeError, match="size mismatch for bias") as mine:
        model.load_state_dict(bad)
    prefix = "\tsize mismatch for bias: copying a param with shape "
    assert str(theirs.value).splitlines()[1].startswith(prefix)
    assert str(mine.value).splitlines()[1].startswith(prefix)
    for p, old in zip(model.parameters(), before, strict=True):
        assert p.dtype == jnp.float32
        np.testing.assert_array_equal(p.numpy(), old)


def adam_pair(dtype):
    torch.manual_seed(0)
    values = torch.randn(4, 3)
    param = lucid.nn.Parameter(lucid.tensor(values.numpy()).to(dtype))
    reference = torch.nn.Parameter(values.to(TORCH_DTYPES[np.dtype(dtype)]))
    return (lucid.optim.Adam([param], lr=0.1), param), (torch.optim.Adam([reference], lr=0.1),
                                                        reference)


@pytest.mark.parametrize(("param_dtype", "state_dtype"), [
    (jnp.float32, torch.float16), (jnp.bfloat16, torch.float32)])
def test_optimizer_load_casts_state_to_the_param_dtype_like_torch(param_dtype, state_dtype):
    source = torch.nn.Parameter(torch.randn(4, 3))
    source_opt = torch.optim.Adam([source], lr=0.1)
    for _ in range(2):
        source_opt.zero_grad()
        (source ** 3).sum().backward()
        source_opt.step()
    saved = source_opt.state_dict()
    saved["state"][0] = {k: v if k == "step" else v.to(state_dtype)
                         for k, v in saved["state"][0].items()}
    (opt, param), (reference_opt, reference) = adam_pair(param_dtype)
    reference_opt.load_state_dict(saved)
    opt.load_state_dict(saved)
    mine, theirs = opt.state[param], reference_opt.state[reference]
    assert mine["step"].dtype == jnp.float32 and theirs["step"].dtype == torch.float32
    for name in ("exp_avg", "exp_avg_sq"):
        assert TORCH_DTYPES[mine[name].dtype] == theirs[name].dtype == reference.dtype
        np.testing.assert_array_equal(np.asarray(mine[name], np.float32),
                                      theirs[name].float().numpy())


def sources():
    """A torch-owned buffer (aligned) seen through ``.numpy()``, and plain NumPy arrays."""
    owned = torch.zeros(3, 2, 3, 3)
    return [(owned.numpy(), lambda: owned.add_(5)),
            (np.zeros((3, 2, 3, 3), np.float32), None),
            (np.zeros((64, 64), np.float32), None)]


@pytest.mark.parametrize("make", [lucid.tensor, lucid.Tensor, lucid.from_numpy,
                                  lambda a: lucid.tensor(a, requires_grad=True),
                                  lambda a: lucid.tensor(torch.from_numpy(a))],
                         ids=["tensor", "Tensor", "from_numpy", "requires_grad", "torch"])
def test_conversions_copy_numpy_and_torch_memory(make):
    for array, mutate in sources():
        converted = make(array)
        if mutate is None:
            array += 5
        else:
            mutate()
        assert float(np.abs(np.asarray(converted)).max()) == 0.0


def test_load_state_dict_copies_its_sources():
    model = lucid.nn.Linear(3, 2)
    owned = torch.zeros(2, 3)
    bias = np.zeros(2, np.float32)
    model.load_state_dict({"weight": owned, "bias": bias})
    owned.add_(5)
    bias += 5
    assert model.weight.tolist() == [[0.0] * 3] * 2 and model.bias.tolist() == [0.0, 0.0]


def test_optimizer_and_lucid_load_copy_their_sources():
    param = lucid.nn.Parameter(lucid.zeros(2, 3))
    opt = lucid.optim.SGD([param], lr=0.1, momentum=0.9)
    buffer = torch.zeros(2, 3)
    opt.load_state_dict({"state": {0: {"momentum_buffer": buffer.numpy()}},
                         "param_groups": [{**opt.state_dict()["param_groups"][0]}]})
    buffer.add_(5)
    assert opt.state[param]["momentum_buffer"].tolist() == [[0.0] * 3] * 2
    stream = io.BytesIO()
    lucid.save({"w": lucid.zeros(2, 2), "a": np.zeros(3, np.float32)}, stream)
    stream.seek(0)
    loaded = lucid.load(stream)
    assert loaded["w"].tolist() == [[0.0, 0.0]] * 2 and loaded["a"].tolist() == [0.0] * 3
