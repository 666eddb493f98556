"""lucid.nn layers, activations, losses and functional ops against torch: values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_check import check

import lucid
import lucid.nn as nn
import lucid.nn.functional as F


def copy_weights(ours, theirs):
    """Give ``ours`` the torch module's parameters (through load_state_dict)."""
    ours.load_state_dict(theirs.state_dict())


CONVS = {
    "conv1d": (lambda lib: lib.nn.Conv1d(3, 4, 3, padding=2, dilation=2), (2, 3, 9)),
    "conv1d_unbatched": (lambda lib: lib.nn.Conv1d(3, 4, 2, stride=2), (3, 9)),
    "conv2d_reflect": (lambda lib: lib.nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect",
                                                 groups=2), (2, 4, 7, 6)),
    "conv2d_same": (lambda lib: lib.nn.Conv2d(3, 2, (3, 2), padding="same", bias=False),
                    (2, 3, 5, 6)),
    "conv2d_replicate": (lambda lib: lib.nn.Conv2d(3, 2, 3, padding=(1, 2),
                                                   padding_mode="replicate"), (1, 3, 5, 5)),
    "conv2d_circular_stride": (lambda lib: lib.nn.Conv2d(2, 3, 3, 2, 1,
                                                         padding_mode="circular"), (2, 2, 7, 7)),
    "conv3d": (lambda lib: lib.nn.Conv3d(2, 3, 2, padding="valid"), (2, 2, 4, 5, 3)),
    "linear": (lambda lib: lib.nn.Linear(5, 3), (4, 2, 5)),
    "linear_no_bias": (lambda lib: lib.nn.Linear(5, 3, bias=False), (4, 5)),
}


@pytest.mark.parametrize("case", CONVS)
def test_linear_and_convolutions_match_torch(case, rng):
    make, shape = CONVS[case]
    theirs, ours = make(torch), make(lucid)
    assert repr(ours) == repr(theirs)
    copy_weights(ours, theirs)
    check(ours, theirs, rng.standard_normal(shape).astype(np.float32), rng)


ACTIVATIONS = {
    "ReLU": lambda lib: lib.nn.ReLU(),
    "LeakyReLU": lambda lib: lib.nn.LeakyReLU(0.2),
    "Tanh": lambda lib: lib.nn.Tanh(),
    "Sigmoid": lambda lib: lib.nn.Sigmoid(),
    "Identity": lambda lib: lib.nn.Identity(),
    "Flatten": lambda lib: lib.nn.Flatten(),
    "Sequential": lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.LeakyReLU(),
                                                lib.nn.Linear(3, 2)),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_and_sequential_match_torch(name, rng):
    theirs, ours = ACTIVATIONS[name](torch), ACTIVATIONS[name](lucid)
    assert repr(ours) == repr(theirs)
    copy_weights(ours, theirs)
    check(ours, theirs, rng.standard_normal((3, 4)).astype(np.float32), rng)


def test_in_place_activations_write_into_their_input_like_torch():
    x = lucid.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x) is x and x.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    y = lucid.tensor([-1.0, 2.0])
    F.leaky_relu(y, 0.5, inplace=True)
    assert y.tolist() == [-0.5, 2.0]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(name, reduction, rng):
    a, b = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2))
    xs, xt = lucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = getattr(F, name)(xs, lucid.tensor(b), reduction=reduction)
    ref = getattr(torch.nn.functional, name)(xt, torch.tensor(b), reduction=reduction)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6)
    cotangent = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-6)


CROSS_ENTROPY = {
    "plain": dict(),
    "weight": dict(weight=True),
    "ignore_index": dict(ignore_index=1),
    "smoothing": dict(label_smoothing=0.2, weight=True, ignore_index=2),
    "sum": dict(reduction="sum"),
    "none": dict(reduction="none", ignore_index=0),
    "probabilities": dict(probabilities=True, label_smoothing=0.1, weight=True),
    "spatial": dict(shape=(2, 4, 3, 3)),
    "unbatched": dict(shape=(4,)),
}


@pytest.mark.parametrize("case", CROSS_ENTROPY)
def test_cross_entropy_matches_torch(case, rng):
    options = dict(CROSS_ENTROPY[case])
    shape = options.pop("shape", (6, 4))
    logits = rng.standard_normal(shape).astype(np.float32) * 2
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    if options.pop("probabilities", False):
        target = rng.dirichlet(np.ones(4), target_shape).astype(np.float32)
    else:
        target = rng.integers(0, 4, target_shape)
    weight = rng.uniform(0.5, 2, 4).astype(np.float32) if options.pop("weight", False) else None
    xs, xt = lucid.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out = nn.CrossEntropyLoss(None if weight is None else lucid.tensor(weight), **options)(
        xs, lucid.tensor(target))
    ref = torch.nn.CrossEntropyLoss(None if weight is None else torch.tensor(weight),
                                    **options)(xt, torch.tensor(target))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    cotangent = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_torch(mode, rng):
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    xs, xt = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kwargs = dict(value=1.5) if mode == "constant" else {}
    out = F.pad(xs, (1, 2, 2, 0), mode=mode, **kwargs)
    ref = torch.nn.functional.pad(xt, (1, 2, 2, 0), mode=mode, **kwargs)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    cotangent = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-6)



CROPS = [(-1, 2, 0, -2), (2, -1, -1, 1), (-2, -2, 1, 1), (0, 0, -1, 3), (-1, 3, 2, -2)]


@pytest.mark.parametrize("pad", CROPS)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_negative_pad_crops_as_torch(mode, pad, rng):
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    xs, xt = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.pad(xs, pad, mode=mode)
    ref = torch.nn.functional.pad(xt, pad, mode=mode)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    cotangent = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_zero_pad_2d_crops_with_negative_padding():
    x = np.arange(20, dtype=np.float32).reshape(1, 1, 4, 5)
    out = nn.ZeroPad2d((-1, 1, 0, -2))(lucid.tensor(x))
    ref = torch.nn.ZeroPad2d((-1, 1, 0, -2))(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("pad", [(-3, -3), (-7, 1), (2, -7)])
def test_cropping_below_zero_is_refused(pad):
    with pytest.raises(RuntimeError, match="resulted in a negative output size"):
        F.pad(lucid.ones(1, 1, 5), pad)
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.ones(1, 1, 5), pad)


@pytest.mark.parametrize("pad", [(0, 6), (-2, 4)])
def test_circular_pad_wider_than_the_axis_is_refused(pad):
    """PyTorch refuses wrapping more than once; where cropping first leaves fewer elements
    than the pad, its result reads memory it is writing, so that is refused too."""
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(lucid.ones(1, 1, 5), pad, mode="circular")
    if pad[0] >= 0:
        with pytest.raises(RuntimeError, match="wrapping around more than once"):
            torch.nn.functional.pad(torch.ones(1, 1, 5), pad, mode="circular")

ERRORS = [
    (lambda lib: lib.nn.Conv2d(3, 4, 3, groups=2), ValueError,
     "in_channels must be divisible by groups"),
    (lambda lib: lib.nn.Conv2d(4, 3, 3, groups=2), ValueError,
     "out_channels must be divisible by groups"),
    (lambda lib: lib.nn.Conv2d(4, 4, 3, groups=0), ValueError,
     "groups must be a positive integer"),
    (lambda lib: lib.nn.Conv2d(3, 4, 3, padding_mode="mirror"), ValueError,
     "padding_mode must be one of .*'circular'.*, but got padding_mode='mirror'"),
    (lambda lib: lib.nn.Conv2d(3, 4, 3, padding="full"), ValueError,
     "Invalid padding string 'full', should be one of"),
    (lambda lib: lib.nn.Conv2d(3, 4, 3, 2, padding="same"), ValueError,
     "padding='same' is not supported for strided convolutions"),
    (lambda lib: lib.nn.Conv2d(3, 4, 3)(lib.ones(3, 5)), RuntimeError,
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: "
     r"\[3, 5\]"),
    (lambda lib: lib.nn.functional.pad(lib.ones(2, 2), (1, 2, 3)), RuntimeError,
     "Padding length must be divisible by 2"),
    (lambda lib: lib.nn.functional.pad(lib.ones(2), (1, 1, 1, 1)), RuntimeError,
     "Padding length should be less than or equal to two times the input dimension but got "
     "padding length 4 and input of dimension 1"),
    (lambda lib: lib.nn.MSELoss(reduction="avg")(lib.ones(2), lib.ones(2)), ValueError,
     "avg is not a valid value for reduction"),
    (lambda lib: lib.nn.functional.cross_entropy(
        lib.ones(2, 3), lib.zeros(2, dtype=lib.int32), label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_match_torch(index):
    build, kind, message = ERRORS[index]
    for lib in (torch, lucid):
        with pytest.raises(kind, match=message):
            build(lib)


def test_our_own_errors():
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode 'mirror'"):
        F.pad(lucid.ones(2, 2), (1, 1), mode="mirror")
    with pytest.warns(UserWarning, match=r"Using a target size \(\(1,\)\) that is different "
                      r"to the input size \(\(2,\)\). This will likely lead to incorrect"):
        assert F.mse_loss(lucid.ones(2), lucid.zeros(1)).item() == 1.0
