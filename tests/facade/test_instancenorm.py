"""lucid.nn.InstanceNorm1d/2d/3d against torch 2.13 and the float64 oracle, case by case."""

from __future__ import annotations

import re
import warnings

import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch

import lucid
import lucid.nn as nn
from lucid import _autograd
from lucid_jax._compat import enable_x64

CLASSES = {1: (nn.InstanceNorm1d, torch.nn.InstanceNorm1d),
           2: (nn.InstanceNorm2d, torch.nn.InstanceNorm2d),
           3: (nn.InstanceNorm3d, torch.nn.InstanceNorm3d)}
SPATIAL = {1: (7,), 2: (5, 3), 3: (3, 4, 5)}  # odd sizes; something is always reduced


def modules(rank, channels=3, **settings):
    ours, theirs = CLASSES[rank]
    return ours(channels, **settings), theirs(channels, **settings)


def randomise_affine(module, reference, rng):
    """Non-trivial weight and bias, the same in both modules."""
    if module.affine:
        for name in ("weight", "bias"):
            value = rng.standard_normal(module.num_features).astype(np.float32)
            getattr(module, name).data = value
            getattr(reference, name).data = torch.tensor(value)


def assert_same_state(module, reference, dtype=np.float32):
    for name, value in reference.state_dict().items():
        oracle.assert_close(module.state_dict()[name], value.numpy(), dtype, err_msg=name)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("batched", [True, False])
def test_training_steps_then_eval_match_torch_and_oracle(rank, affine, momentum, batched, rng):
    module, reference = modules(rank, affine=affine, track_running_stats=True, momentum=momentum)
    randomise_affine(module, reference, rng)
    shape = ((2,) if batched else ()) + (3, *SPATIAL[rank])
    for _ in range(3):  # gradients and running statistics accumulate over the steps
        x_np = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
        cotangent = rng.standard_normal(shape).astype(np.float32)
        x, tx = lucid.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        out, expected = module(x), reference(tx)
        out.backward(cotangent)
        expected.backward(torch.tensor(cotangent))
        assert out.shape == shape
        oracle.assert_close(out.numpy(), expected.detach().numpy())
        batch_x = x_np if batched else x_np[None]
        weight = None if not affine else module.weight.numpy()
        bias = None if not affine else module.bias.numpy()
        want = oracle.instance_norm(batch_x, weight=weight, bias=bias)
        oracle.assert_close(out.numpy(), want if batched else want[0])
        oracle.assert_close(x.grad, tx.grad.numpy())
    if affine:
        oracle.assert_close(module.weight.grad, reference.weight.grad.numpy())
        oracle.assert_close(module.bias.grad, reference.bias.grad.numpy())
    assert_same_state(module, reference)

    module.eval(), reference.eval()
    before = module.state_dict()
    x_np = rng.standard_normal(shape).astype(np.float32)
    out = module(lucid.tensor(x_np))
    oracle.assert_close(out.numpy(), reference(torch.tensor(x_np)).detach().numpy())
    for name, value in before.items():  # eval never writes
        np.testing.assert_array_equal(module.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("affine", [False, True])
def test_without_running_stats_eval_still_uses_input_stats(rank, affine, rng):
    module, reference = modules(rank, affine=affine)
    randomise_affine(module, reference, rng)
    module.eval(), reference.eval()
    x_np = rng.standard_normal((4, 3, *SPATIAL[rank])).astype(np.float32)
    cotangent = rng.standard_normal(x_np.shape).astype(np.float32)
    x, tx = lucid.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, expected = module(x), reference(tx)
    out.backward(cotangent)
    expected.backward(torch.tensor(cotangent))
    oracle.assert_close(out.numpy(), expected.detach().numpy())
    oracle.assert_close(x.grad, tx.grad.numpy())
    assert module.running_mean is None and module.running_var is None
    assert module.num_batches_tracked is None


def test_momentum_none_freezes_and_num_batches_tracked_stays_zero(rng):
    module, reference = modules(2, track_running_stats=True, momentum=None)
    module(lucid.tensor(rng.standard_normal((2, 3, 4, 4)) + 5))
    np.testing.assert_array_equal(module.running_mean, np.zeros(3))
    np.testing.assert_array_equal(module.running_var, np.ones(3))
    assert module.num_batches_tracked.item() == 0 == reference.num_batches_tracked.item()


def test_eval_with_running_stats_accepts_a_single_spatial_element(rng):
    module, reference = modules(2, track_running_stats=True)
    module.running_mean.data = np.array([1.0, 2.0, 3.0], np.float32)
    reference.running_mean.data = torch.tensor([1.0, 2.0, 3.0])
    x_np = rng.standard_normal((2, 3, 1, 1)).astype(np.float32)
    out = module.eval()(lucid.tensor(x_np))
    oracle.assert_close(out.numpy(), reference.eval()(torch.tensor(x_np)).numpy())


def test_attributes_defaults_and_dtype():
    module = nn.InstanceNorm3d(4, dtype=lucid.float16)
    assert (module.num_features, module.eps, module.momentum) == (4, 1e-5, 0.1)
    assert not module.affine and not module.track_running_stats and module.training
    assert module.weight is None and module.bias is None and list(module.parameters()) == []
    tracked = nn.InstanceNorm1d(4, affine=True, track_running_stats=True, dtype=lucid.float16)
    assert tracked.weight.dtype == tracked.running_var.dtype == lucid.float16
    assert isinstance(tracked.weight, nn.Parameter) and tracked.weight.requires_grad
    assert not tracked.running_mean.requires_grad
    np.testing.assert_array_equal(tracked.running_var, np.ones(4))


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_repr_and_state_dict_keys_match_torch(affine, track, bias):
    module, reference = modules(2, 16, affine=affine, track_running_stats=track, bias=bias)
    assert repr(module) == repr(reference)
    assert list(module.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in module.named_buffers()] == [n for n, _ in reference.named_buffers()]
    assert [n for n, _ in module.named_parameters()] == [
        n for n, _ in reference.named_parameters()]


def test_reset_running_stats_and_parameters_like_torch(rng):
    module, reference = modules(2, affine=True, track_running_stats=True)
    x_np = rng.standard_normal((2, 3, 4, 4)).astype(np.float32) + 2
    module(lucid.tensor(x_np)), reference(torch.tensor(x_np))
    module.weight.data = module.weight.data * 3
    reference.weight.data *= 3
    module.reset_running_stats(), reference.reset_running_stats()
    assert_same_state(module, reference)
    assert module.weight.tolist() == [3.0] * 3
    module.reset_parameters(), reference.reset_parameters()
    assert_same_state(module, reference)
    assert module.weight.requires_grad and module.weight.is_leaf


@pytest.mark.parametrize("source", ["torch", "numpy", "jax", "lucid"])
def test_load_state_dict_from_every_array_kind(source, rng):
    module, reference = modules(2, affine=True, track_running_stats=True)
    randomise_affine(module, reference, rng)  # reference now differs from a fresh module
    reference(torch.randn(2, 3, 4, 4))
    convert = {"torch": lambda t: t, "numpy": lambda t: t.numpy(),
               "jax": lambda t: jnp.asarray(t.numpy()), "lucid": lambda t: lucid.tensor(t)}[source]
    fresh = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    weight = fresh.weight
    result = fresh.load_state_dict({k: convert(v) for k, v in reference.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert fresh.weight is weight  # loaded in place
    assert_same_state(fresh, reference)
    assert fresh.running_mean.dtype == lucid.float32


def test_torch_loads_our_state_dict(rng):
    module = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    module(lucid.tensor(rng.standard_normal((2, 3, 5)) * 2 + 1))
    reference = torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    reference.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in
                               module.state_dict().items()})
    assert_same_state(module, reference)


BAD_STATES = {
    "wrong shape": ({"weight": np.ones(4)}, r"size mismatch for weight: copying a param with "
                    r"shape \(4,\) from checkpoint, the shape in current model is \(3,\)"),
    "missing key": ({}, r'Missing key\(s\) in state_dict: "bias"'),
    "unexpected key": ({"extra": np.ones(1)}, r'Unexpected key\(s\) in state_dict: "extra"'),
}


@pytest.mark.parametrize("case", BAD_STATES)
def test_bad_load_state_dict_raises_and_changes_nothing(case):
    module = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    good = {k: np.full(v.shape, 7, np.asarray(v).dtype) for k, v in module.state_dict().items()}
    changes, message = BAD_STATES[case]
    bad = {**good, **changes}
    if case == "missing key":
        del bad["bias"]
    before = module.state_dict()
    with pytest.raises(RuntimeError, match="Error\\(s\\) in loading state_dict for "
                       "InstanceNorm2d:\n\t" + message):
        module.load_state_dict(bad)
    for name, value in before.items():
        np.testing.assert_array_equal(module.state_dict()[name], value, err_msg=name)


def test_non_strict_load_reports_keys_and_loads_the_rest():
    module = nn.InstanceNorm2d(3, affine=True)
    result = module.load_state_dict({"weight": np.full(3, 2.0), "extra": 1}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(module.weight, np.full(3, 2.0))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("ndim_offset", [-1, 2])
def test_wrong_rank_raises_torch_message(rank, ndim_offset):
    ndim = rank + 1 + ndim_offset
    module, reference = modules(rank)
    x = np.ones((2,) * ndim, np.float32)
    message = f"expected {rank + 1}D or {rank + 2}D input \\(got {ndim}D input\\)"
    with pytest.raises(ValueError, match=message):
        reference(torch.tensor(x))
    with pytest.raises(ValueError, match=message):
        module(lucid.tensor(x))


@pytest.mark.parametrize("batched", [True, False])
def test_num_features_mismatch_with_affine_raises(batched):
    module, reference = modules(2, 4, affine=True)
    x = np.ones(((2,) if batched else ()) + (3, 4, 4), np.float32)
    dim = 1 if batched else 0
    message = (f"expected input's size at dim={dim} to match num_features \\(4\\), "
               "but got: 3.")
    for m, tensor in ((reference, torch.tensor), (module, lucid.tensor)):
        with pytest.raises(ValueError, match=message):
            m(tensor(x))


def test_num_features_mismatch_without_affine_warns_like_torch(rng):
    module, reference = modules(2, 4)
    x_np = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    message = ("input's size at dim=1 does not match num_features. You can silence this "
               "warning by not passing in num_features, which is not used because affine=False")
    with pytest.warns(UserWarning, match=message):
        expected = reference(torch.tensor(x_np))
    with pytest.warns(UserWarning, match=message) as record:
        out = module(lucid.tensor(x_np))
    assert record[0].filename == __file__  # points at the caller
    oracle.assert_close(out.numpy(), expected.numpy())


def test_num_features_mismatch_with_running_stats_raises_and_changes_nothing():
    module = nn.InstanceNorm2d(4, track_running_stats=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"running_mean has shape \(4,\), expected \(3,\)"):
            module(lucid.ones(2, 3, 4, 4))
    np.testing.assert_array_equal(module.running_mean, np.zeros(4))


@pytest.mark.parametrize("shape", [(2, 3, 1, 1), (3, 1, 1)])
@pytest.mark.parametrize("track", [False, True])
def test_single_spatial_element_in_training_raises_and_changes_nothing(shape, track):
    module = nn.InstanceNorm2d(3, affine=True, track_running_stats=track)
    before = module.state_dict()
    batched = shape if len(shape) == 4 else (1, *shape)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training, "
                       f"got input size {re.escape(str(batched))}"):
        module(lucid.ones(*shape, requires_grad=True))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        torch.nn.InstanceNorm2d(3)(torch.ones(shape))
    for name, value in before.items():
        np.testing.assert_array_equal(module.state_dict()[name], value, err_msg=name)
    if not track:  # without running statistics eval needs the input's statistics too
        with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
            module.eval()(lucid.ones(*shape))


@pytest.mark.parametrize("momentum", [-1.2, -1.0, 1.5])
def test_any_finite_momentum_updates_like_torch(momentum, rng):
    module, reference = modules(2, affine=True, track_running_stats=True, momentum=momentum)
    for _ in range(2):
        x_np = rng.standard_normal((2, 3, 5, 3)).astype(np.float32) * 2 + 1
        oracle.assert_close(module(lucid.tensor(x_np)).numpy(),
                            reference(torch.tensor(x_np)).detach().numpy())
    assert_same_state(module, reference)


@pytest.mark.parametrize("momentum", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_momentum_raises_before_any_update(momentum):
    module = nn.InstanceNorm1d(3, track_running_stats=True, momentum=momentum)
    with pytest.raises(ValueError, match=r"momentum must be a finite float \(or None to "
                       rf"freeze\), got {momentum}"):
        module(lucid.randn(2, 3, 5) + 3)
    np.testing.assert_array_equal(module.running_mean, np.zeros(3))
    np.testing.assert_array_equal(module.running_var, np.ones(3))


def test_squared_deviations_that_overflow_float32_give_torchs_finite_values(rng):
    module, reference = modules(2, affine=True, track_running_stats=True)
    x_np = (rng.standard_normal((2, 3, 4, 4)) * 1e30 + 1e30).astype(np.float32)
    ours, theirs = lucid.tensor(x_np, requires_grad=True), torch.tensor(x_np)
    out, expected = module(ours), reference(theirs).detach().numpy()
    assert np.isfinite(expected).all() and np.isfinite(out.numpy()).all()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
    out.backward(rng.standard_normal(x_np.shape).astype(np.float32))
    assert np.isfinite(np.asarray(ours.grad)).all()


def test_eps_zero_on_a_constant_instance_gives_zero_like_torch():
    x_np = np.full((2, 3, 4, 4), 7.0, np.float32)
    x_np[1] = np.random.default_rng(0).standard_normal((3, 4, 4))
    expected = torch.nn.functional.instance_norm(torch.tensor(x_np), eps=0.0).numpy()
    out = nn.functional.instance_norm(lucid.tensor(x_np), eps=0.0).numpy()
    assert (out[0] == 0).all() and (expected[0] == 0).all()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    module = nn.InstanceNorm2d(3, eps=0.0)
    np.testing.assert_array_equal(module(lucid.tensor(x_np)).numpy(), out)


@pytest.mark.parametrize("track", [False, True])
def test_an_unused_momentum_is_never_an_error_like_torch(track, rng):
    module, reference = modules(1, track_running_stats=track, momentum=1.5)
    if track:  # eval with running statistics: no update, so momentum is not used
        module.eval(), reference.eval()
    x_np = rng.standard_normal((2, 3, 5)).astype(np.float32)
    oracle.assert_close(module(lucid.tensor(x_np)).numpy(),
                        reference(torch.tensor(x_np)).numpy())
    assert_same_state(module, reference)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_lazy_modules_infer_num_features_and_become_the_eager_class(rank, rng):
    lazy = getattr(nn, f"LazyInstanceNorm{rank}d")(affine=True, track_running_stats=True)
    assert lazy.num_features == 0
    reference = CLASSES[rank][1](5, affine=True, track_running_stats=True)
    x_np = rng.standard_normal((2, 5, *SPATIAL[rank])).astype(np.float32)
    out = lazy(lucid.tensor(x_np))
    assert type(lazy) is CLASSES[rank][0] and lazy.num_features == 5
    oracle.assert_close(out.numpy(), reference(torch.tensor(x_np)).detach().numpy())
    assert_same_state(lazy, reference)
    with pytest.raises(ValueError, match=f"expected {rank + 1}D or {rank + 2}D input"):
        getattr(nn, f"LazyInstanceNorm{rank}d")()(lucid.ones(*(2,) * (rank + 3)))


def test_a_failed_first_call_leaves_the_lazy_module_lazy():
    lazy = nn.LazyInstanceNorm1d(affine=True, track_running_stats=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 spatial element when training"):
        lazy(lucid.randn(2, 3, 1))
    assert type(lazy) is nn.LazyInstanceNorm1d and lazy.num_features == 0
    assert lazy.weight.shape == (0,) and lazy.running_mean.shape == (0,)
    lazy(lucid.randn(2, 4, 5))
    assert type(lazy) is nn.InstanceNorm1d and lazy.weight.shape == (4,)


def test_unbatched_lazy_input_takes_channels_from_dim_0():
    lazy = nn.LazyInstanceNorm2d()
    lazy(lucid.randn(6, 4, 4))
    assert lazy.num_features == 6 and repr(lazy).startswith("InstanceNorm2d(6, ")


def test_plain_arrays_are_accepted_as_input(rng):
    x_np = rng.standard_normal((2, 3, 8)).astype(np.float32)
    out = nn.InstanceNorm1d(3)(x_np)
    assert isinstance(out, lucid.Tensor)
    oracle.assert_close(out.numpy(), oracle.instance_norm(x_np))


def test_repeated_calls_reuse_one_compiled_kernel():
    module = nn.InstanceNorm2d(8, affine=True, track_running_stats=True)
    for _ in range(2):  # the weights' first gradient, then one accumulated onto it
        module(lucid.randn(2, 8, 16, 16, requires_grad=True)).backward(lucid.randn(2, 8, 16, 16))
    kernels = len(_autograd._KERNELS)
    compiled = sum(k._cache_size() for k in _autograd._KERNELS.values())
    backwards = _autograd._backward._cache_size()
    for _ in range(4):
        x = lucid.randn(2, 8, 16, 16, requires_grad=True)
        module(x).backward(lucid.randn(2, 8, 16, 16))
    assert len(_autograd._KERNELS) == kernels
    assert sum(k._cache_size() for k in _autograd._KERNELS.values()) == compiled
    assert _autograd._backward._cache_size() == backwards


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_input_keeps_its_dtype_within_its_tolerance(dtype, rng):
    module = nn.InstanceNorm2d(3, affine=True, track_running_stats=True,
                               dtype=getattr(lucid, dtype))
    x_np = (rng.standard_normal((2, 3, 6, 6)) * 4 + 10).astype(np.float32)
    x = lucid.tensor(x_np, dtype=getattr(lucid, dtype))
    out = module(x)
    assert out.dtype == x.dtype == module.running_mean.dtype
    rounded = np.asarray(x, np.float32)  # the values the module actually saw
    oracle.assert_close(np.asarray(out, np.float32), oracle.instance_norm(rounded), dtype)
    want_mean, _ = oracle.update_running_stats(rounded, np.zeros(3), np.ones(3))
    oracle.assert_close(np.asarray(module.running_mean, np.float32), want_mean, dtype)


def test_load_state_dict_without_num_batches_tracked_keeps_it_like_torch():
    module, reference = modules(2, affine=True, track_running_stats=True)
    full = {k: v.numpy() for k, v in reference.state_dict().items()}
    module.load_state_dict({**full, "num_batches_tracked": np.array(7)})  # a value that
    reference.load_state_dict({**reference.state_dict(),  # "filling in" keeps, not resets
                               "num_batches_tracked": torch.tensor(7)})
    old = {k: v for k, v in full.items() if k != "num_batches_tracked"}
    assert reference.load_state_dict({k: torch.tensor(v) for k, v in old.items()}) == ([], [])
    assert module.load_state_dict(old) == ([], [])
    assert module.load_state_dict(old, strict=False) == ([], [])
    assert module.num_batches_tracked.item() == reference.num_batches_tracked.item() == 7
    assert_same_state(module, reference)


def test_a_current_format_checkpoint_without_num_batches_tracked_is_missing_it_like_torch():
    module, reference = modules(2, track_running_stats=True)
    state = reference.state_dict()  # torch marks it version 2, which has the key
    del state["num_batches_tracked"]
    message = ('Error\\(s\\) in loading state_dict for InstanceNorm2d:\n\t'
               'Missing key\\(s\\) in state_dict: "num_batches_tracked".')
    for m in (reference, module):
        with pytest.raises(RuntimeError, match=message):
            m.load_state_dict(state)


def test_nested_load_without_num_batches_tracked_like_torch():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.InstanceNorm1d(3, track_running_stats=True)

    reference = torch.nn.Sequential()
    reference.add_module("norm", torch.nn.InstanceNorm1d(3, track_running_stats=True))
    state = {"norm.running_mean": np.full(3, 2.0, np.float32),
             "norm.running_var": np.full(3, 3.0, np.float32)}
    holder = Holder()
    assert holder.load_state_dict(state) == ([], [])
    reference.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    assert_same_state(holder, reference)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_a_lazy_module_materialises_from_a_state_dict_like_torch(rank, rng):
    source = CLASSES[rank][1](5, affine=True, track_running_stats=True)
    with torch.no_grad():
        source.weight.normal_(), source.bias.normal_()
    source(torch.randn(2, 5, *SPATIAL[rank]) * 2 + 1)  # non-trivial running statistics
    state = source.state_dict()
    lazy = getattr(nn, f"LazyInstanceNorm{rank}d")(affine=True, track_running_stats=True)
    torch_lazy = getattr(torch.nn, f"LazyInstanceNorm{rank}d")(affine=True,
                                                              track_running_stats=True)
    assert lazy.load_state_dict(state) == torch_lazy.load_state_dict(state) == ([], [])
    assert lazy.weight.shape == tuple(torch_lazy.weight.shape) == (5,)
    assert type(lazy) is CLASSES[rank][0] and lazy.num_features == 5
    assert_same_state(lazy, torch_lazy)
    for mode in (True, False):  # torch's own Lazy module keeps num_features=0 and then fails
        lazy.train(mode), source.train(mode)
        x_np = rng.standard_normal((2, 5, *SPATIAL[rank])).astype(np.float32)
        oracle.assert_close(lazy(lucid.tensor(x_np)).numpy(),
                            source(torch.tensor(x_np)).detach().numpy())
    assert_same_state(lazy, source)


def test_a_lazy_module_takes_num_features_from_running_mean_and_inside_a_parent():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LazyInstanceNorm1d(track_running_stats=True)

    holder = Holder()
    holder.load_state_dict({"norm.running_mean": np.zeros(4), "norm.running_var": np.ones(4)})
    assert type(holder.norm) is nn.InstanceNorm1d and holder.norm.num_features == 4
    assert holder.norm.running_var.shape == (4,)
    nothing_to_learn_from = nn.LazyInstanceNorm2d()
    assert nothing_to_learn_from.load_state_dict({}) == ([], [])
    assert type(nothing_to_learn_from) is nn.LazyInstanceNorm2d


LAZY_FAILURES = {
    "missing keys": ({"weight": np.ones(4)}, 'Missing key\\(s\\) in state_dict: "bias", '
                     '"running_mean", "running_var".'),
    "inconsistent sizes": ({"weight": np.ones(4), "bias": np.zeros(4),
                            "running_mean": np.zeros(3), "running_var": np.ones(4)},
                           "size mismatch for running_mean: copying a param with shape "
                           "\\(3,\\) from checkpoint, the shape in current model is \\(4,\\)."),
    "not one-dimensional": ({"weight": np.ones((2, 2)), "bias": np.zeros(4),
                             "running_mean": np.zeros(4), "running_var": np.ones(4)},
                            "size mismatch for weight: copying a param with shape \\(2, 2\\) "
                            "from checkpoint, the shape in current model is \\(0,\\)."),
}


@pytest.mark.parametrize("case", LAZY_FAILURES)
def test_a_failed_load_leaves_the_lazy_module_lazy_and_unchanged(case):
    lazy = nn.LazyInstanceNorm1d(affine=True, track_running_stats=True)
    before = {name: getattr(lazy, name) for name in
              ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    state, message = LAZY_FAILURES[case]
    with pytest.raises(RuntimeError, match="Error\\(s\\) in loading state_dict for "
                       "LazyInstanceNorm1d:\n\t" + message):
        lazy.load_state_dict(state)
    assert type(lazy) is nn.LazyInstanceNorm1d and lazy.num_features == 0
    assert all(getattr(lazy, name) is value for name, value in before.items())
    assert lazy.weight.shape == (0,)
    lazy(lucid.randn(2, 6, 5))
    assert type(lazy) is nn.InstanceNorm1d and lazy.weight.shape == (6,)


def test_float64_modules_need_x64_and_match_torch_with_it(rng):
    with pytest.raises(ValueError, match="dtype float64 needs JAX's 64-bit mode"):
        nn.InstanceNorm2d(3, dtype=lucid.float64)
    with pytest.raises(ValueError, match="dtype float64 needs JAX's 64-bit mode"):
        nn.LazyInstanceNorm2d(dtype=lucid.float64)
    x_np = rng.standard_normal((2, 3, 5, 4)) * 3 + 1
    with enable_x64(True):
        module = nn.InstanceNorm2d(3, affine=True, track_running_stats=True,
                                   dtype=lucid.float64)
        reference = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True,
                                            dtype=torch.float64)
        assert module.weight.dtype == module.running_mean.dtype == np.float64
        out = module(lucid.tensor(x_np, dtype=lucid.float64))
        assert out.dtype == np.float64
        oracle.assert_close(out.numpy(), reference(torch.tensor(x_np)).detach().numpy(),
                            np.float64)
        assert_same_state(module, reference, np.float64)
