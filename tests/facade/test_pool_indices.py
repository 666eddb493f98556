"""``max_pool2d``/``MaxPool2d`` (with and without ``return_indices``), ``max_unpool2d`` and
``MaxUnpool2d`` against torch 2.13: values, exact indices, gradients under random cotangents
(ties, NaN, padding, dilation, ceil mode, unbatched), round trips and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _torch_check import check

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid_jax._compat import enable_x64

SETTINGS = {
    "plain": ((2, 3, 6, 8), {"kernel_size": 2}),
    "stride_padding": ((2, 3, 7, 8), {"kernel_size": 3, "stride": 2, "padding": 1}),
    "overlapping": ((1, 2, 6, 7), {"kernel_size": 3, "stride": 1}),
    "rectangular": ((2, 2, 7, 9), {"kernel_size": (2, 3), "stride": (1, 2),
                                   "padding": (1, 0)}),
    "dilated": ((2, 2, 9, 8), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2}),
    "dilated_ceil": ((3, 7, 8), {"kernel_size": (2, 3), "stride": (1, 2),
                                 "dilation": (2, 1), "ceil_mode": True}),
    "ceil_padding": ((2, 2, 9, 9), {"kernel_size": 3, "stride": 2, "padding": 1,
                                    "ceil_mode": True}),
    "ceil_stride_gt_kernel": ((1, 2, 10, 11), {"kernel_size": 2, "stride": 3,
                                               "ceil_mode": True}),
    "unbatched": ((3, 5, 5), {"kernel_size": 2, "ceil_mode": True}),
}


def _input(shape, kind, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "ties":
        x[:] = 1.5
    elif kind == "rounded":  # many ties between neighbours, not whole windows
        x = np.round(x).astype(np.float32)
    elif kind == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    elif kind == "minus_inf":
        x[rng.random(shape) < 0.7] = -np.inf
    return x


def _pool_both(x, settings, rng, pool_module):
    """Pools ``x`` with lucid and torch, checks values and indices, returns the graphs."""
    xs, xt = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if pool_module:
        values, indices = nn.MaxPool2d(**settings, return_indices=True)(xs)
        ref, ref_indices = torch.nn.MaxPool2d(**settings, return_indices=True)(xt)
    else:
        values, indices = F.max_pool2d(xs, **settings, return_indices=True)
        ref, ref_indices = TF.max_pool2d(xt, **settings, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())
    assert indices.dtype == np.int32  # JAX's default integer with x64 off, as argmax
    np.testing.assert_array_equal(values.numpy(), ref.detach().numpy())
    return xs, xt, values, indices, ref, ref_indices


@pytest.mark.parametrize("with_indices", [True, False])
@pytest.mark.parametrize("kind", ["random", "ties", "rounded", "nan", "minus_inf"])
@pytest.mark.parametrize("name", SETTINGS)
def test_max_pool2d_values_indices_and_gradients(name, kind, with_indices, rng):
    shape, settings = SETTINGS[name]
    x = _input(shape, kind, rng)
    if with_indices:
        xs, xt, values, _, ref, _ = _pool_both(x, settings, rng, pool_module=name == "plain")
    else:
        xs, xt = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        values, ref = F.max_pool2d(xs, **settings), TF.max_pool2d(xt, **settings)
        np.testing.assert_array_equal(values.numpy(), ref.detach().numpy())
    cotangent = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    values.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(np.asarray(xs.grad), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in SETTINGS if "dilat" not in n])  # unpool: none
def test_max_unpool2d_round_trip_values_and_gradients(name, rng):
    shape, settings = SETTINGS[name]
    x = _input(shape, "rounded", rng)
    xs, xt, values, indices, ref, ref_indices = _pool_both(x, settings, rng, False)
    unpool_settings = {k: settings[k] for k in ("kernel_size", "stride", "padding")
                       if k in settings}
    size = x.shape[-2:]
    if name == "unbatched":
        out = nn.MaxUnpool2d(**unpool_settings)(values, indices, output_size=size)
        ref_out = torch.nn.MaxUnpool2d(**unpool_settings)(ref, ref_indices, output_size=size)
    else:
        out = F.max_unpool2d(values, indices, **unpool_settings, output_size=xs.shape)
        ref_out = TF.max_unpool2d(ref, ref_indices, **unpool_settings,
                                  output_size=xt.shape)
    np.testing.assert_array_equal(out.numpy(), ref_out.detach().numpy())
    cotangent = rng.standard_normal(tuple(ref_out.shape)).astype(np.float32)
    out.backward(cotangent)
    ref_out.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(np.asarray(xs.grad), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_unpool2d_default_size_and_input_gradient(rng):
    x = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    indices = np.stack([np.arange(12)[rng.permutation(12)] * 2 for _ in range(6)])
    indices = indices.reshape(2, 3, 3, 4)
    settings = {"kernel_size": 2, "stride": (1, 2), "padding": (0, 1)}

    def ours(t):
        return F.max_unpool2d(t, lucid.tensor(indices.astype(np.int32)), **settings)

    assert ours(lucid.tensor(x)).shape == (2, 3, 4, 6)
    check(ours, lambda t: TF.max_unpool2d(t, torch.tensor(indices), **settings), x, rng,
          rtol=0, atol=0)


def test_max_unpool2d_repeated_indices_gather_for_every_input(rng):
    x = np.array([[[[1.0, 1.0], [1.0, 2.0]]]], np.float32)  # the same winner twice, as overlap
    indices = np.array([[[[4, 4], [4, 8]]]])
    check(lambda t: F.max_unpool2d(t, lucid.tensor(indices.astype(np.int32)), 2, 1),
          lambda t: TF.max_unpool2d(t, torch.tensor(indices), 2, 1), x, rng, rtol=0, atol=0)


def test_indices_are_int64_with_x64_and_unpool_takes_them(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    ref, ref_indices = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    with enable_x64(True):
        values, indices = F.max_pool2d(lucid.tensor(x), 3, 2, 1, return_indices=True)
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())
        out = F.max_unpool2d(values, indices, 3, 2, 1, output_size=(6, 6))
    ref_out = TF.max_unpool2d(ref, ref_indices, 3, 2, 1, output_size=(6, 6))
    np.testing.assert_array_equal(out.numpy(), ref_out.numpy())


def test_max_unpool2d_module_repr():
    assert repr(nn.MaxUnpool2d(2)) == repr(torch.nn.MaxUnpool2d(2))
    assert repr(nn.MaxUnpool2d((2, 3), 1, (1, 0))) == repr(torch.nn.MaxUnpool2d((2, 3), 1,
                                                                                 (1, 0)))


def _raises_like_torch(call, match):
    """``call(F, x, indices)`` raises the same type and message under torch and lucid."""
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    values, indices = TF.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(Exception, match=match) as theirs:
        call(TF, values, indices)
    with pytest.raises(theirs.type, match=match):
        call(F, lucid.tensor(values.numpy()), lucid.tensor(indices.numpy().astype(np.int32)))


@pytest.mark.parametrize(("call", "match"), [
    (lambda f, v, i: f.max_unpool2d(v, i, 2, output_size=(7, 7)),
     r'^invalid output_size "\(7, 7\)" \(dim 0 must be between 2 and 6\)$'),
    (lambda f, v, i: f.max_unpool2d(v, i, 1, output_size=[2, 3]),
     r'^invalid output_size "\[2, 3\]" \(dim 1 must be between 1 and 3\)$'),
    (lambda f, v, i: f.max_unpool2d(v, i, 2, output_size=(4,)),
     r"^output_size should be a sequence containing 2 or 4 elements, but it has a length "
     r"of '1'$"),
    (lambda f, v, i: f.max_unpool2d(v, i, 2, padding=3),
     r"^max_unpooling: output_size must contain non-negative spatial dimensions, but got "
     r"output_size\[0\]=-2$"),
    (lambda f, v, i: f.max_unpool2d(v, i, 2, output_size=(3, 3)),
     r"^Found an invalid max index: 1[35] \(output volumes are of size 3x3\)$"),
    (lambda f, v, i: f.max_unpool2d(v, i * 0 - 1, 2),
     r"^Found an invalid max index: -1 \(output volumes are of size 4x4\)$"),
    (lambda f, v, i: f.max_unpool2d(v, i.reshape(1, 1, 4), 2),
     r"^Expected shape of indices to be same as that of the input tensor \(\[1, 1, 2, 2\]\) "
     r"but got indices tensor with shape: \[1, 1, 4\]$"),
    (lambda f, v, i: f.max_unpool2d(v, i.float(), 2),
     r"^elements in indices should be type int64 but got: Float$"),
    (lambda f, v, i: f.max_unpool2d(v[0, 0], i[0, 0], 2),
     r"^Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 "
     r"dimensions\.$"),
])
def test_max_unpool2d_errors_match_torch(call, match):
    _raises_like_torch(call, match)


def test_max_pool2d_indices_errors_match_torch():
    for shape in ((1, 1, 1, 4, 4), (4, 4)):
        with pytest.raises(RuntimeError, match=r"non-empty 3D or 4D \(batch mode\) tensor "
                                               r"expected for input"):
            F.max_pool2d(lucid.ones(*shape), 2, return_indices=True)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel "
                                           "size, but got pad=2, kernel_size=3 and "
                                           "dilation=1"):
        nn.MaxPool2d(3, padding=2, return_indices=True)(lucid.ones(1, 1, 4, 4))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8])
def test_integer_inputs_pool_as_torch(dtype, rng):
    """No ``-inf`` fill: padding is masked out, so an all-negative int8 window keeps its max."""
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (2, 3, 7, 8), endpoint=True).astype(dtype)
    x[0, 0, :2, :2] = [[-5, -1], [-3, -2]] if info.min < 0 else [[5, 9], [7, 8]]
    values, indices = F.max_pool2d(lucid.tensor(x), 3, 2, 1, return_indices=True)
    ref, ref_indices = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(values.numpy(), ref.numpy())
    np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())


def test_an_empty_batch_pools_to_an_empty_batch():
    out = F.max_pool2d(lucid.zeros(0, 3, 4, 4), 2)
    assert out.shape == tuple(TF.max_pool2d(torch.zeros(0, 3, 4, 4), 2).shape) == (0, 3, 2, 2)


def test_a_window_larger_than_the_input_is_refused_as_torch():
    message = (r"Given input size: \(2x3x3\). Calculated output size: \(2x0x0\). "
               r"Output size is too small")
    for pool in (F.max_pool2d, TF.max_pool2d):
        lib = lucid if pool is F.max_pool2d else torch
        with pytest.raises(RuntimeError, match=message):
            pool(lib.zeros(1, 2, 3, 3), 2, dilation=3)


def test_a_global_window_matches_torch(rng):
    """One gather of all windows: a 16x16 window is the same program as a 2x2 one."""
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    check(lambda t: F.max_pool2d(t, 16), lambda t: TF.max_pool2d(t, 16), x, rng,
          rtol=0, atol=0)
