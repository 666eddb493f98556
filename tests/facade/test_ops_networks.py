"""The layers image-to-image networks need, against torch 2.13: values, gradients under a
random cotangent, running statistics, reprs and errors (issue 18, item 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_check import check

import lucid
import lucid.nn as nn
import lucid.nn.functional as F

MODULES = {
    "conv_transpose1d": (lambda T: T.nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1,
                                                        output_padding=1, groups=2),
                         (2, 4, 7)),
    "conv_transpose1d_unbatched": (lambda T: T.nn.ConvTranspose1d(3, 2, 2, bias=False),
                                   (3, 5)),
    "conv_transpose2d": (lambda T: T.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1,
                                                        output_padding=1), (2, 3, 5, 6)),
    "conv_transpose2d_dilated": (lambda T: T.nn.ConvTranspose2d(4, 6, (3, 2), stride=(3, 1),
                                                                padding=(2, 0),
                                                                output_padding=(1, 0),
                                                                groups=2, dilation=2),
                                 (2, 4, 4, 5)),
    "conv_transpose2d_4x4": (lambda T: T.nn.ConvTranspose2d(4, 2, 4, 2, 1, bias=False),
                             (1, 4, 3, 3)),
    "conv_transpose3d": (lambda T: T.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1,
                                                        output_padding=(1, 0, 1)),
                         (1, 2, 3, 4, 3)),
    "reflection_pad": (lambda T: T.nn.ReflectionPad2d((1, 2, 0, 3)), (2, 3, 5, 6)),
    "replication_pad": (lambda T: T.nn.ReplicationPad2d(2), (2, 3, 4, 4)),
    "zero_pad": (lambda T: T.nn.ZeroPad2d((1, 0, 2, 3)), (2, 3, 4, 4)),
    "max_pool": (lambda T: T.nn.MaxPool2d(2), (2, 3, 6, 8)),
    "max_pool_padded": (lambda T: T.nn.MaxPool2d(3, 2, 1), (2, 3, 7, 6)),
    "max_pool_ceil_dilated": (lambda T: T.nn.MaxPool2d((3, 2), (2, 1), dilation=(1, 2),
                                                       ceil_mode=True), (2, 2, 8, 7)),
    "max_pool_unbatched": (lambda T: T.nn.MaxPool2d(2, ceil_mode=True), (3, 5, 5)),
    "avg_pool": (lambda T: T.nn.AvgPool2d(2), (2, 3, 6, 8)),
    "avg_pool_padded": (lambda T: T.nn.AvgPool2d(3, 2, 1), (2, 3, 7, 6)),
    "avg_pool_exclude_pad": (lambda T: T.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                             (2, 3, 7, 6)),
    "avg_pool_ceil": (lambda T: T.nn.AvgPool2d(3, 2, 1, ceil_mode=True), (1, 2, 6, 8)),
    "avg_pool_ceil_exclude": (lambda T: T.nn.AvgPool2d((2, 3), 2, (1, 1), ceil_mode=True,
                                                       count_include_pad=False), (1, 2, 6, 7)),
    "avg_pool_divisor": (lambda T: T.nn.AvgPool2d(2, divisor_override=3), (3, 4, 4)),
    "adaptive_avg": (lambda T: T.nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 9)),
    "adaptive_avg_none": (lambda T: T.nn.AdaptiveAvgPool2d((2, None)), (2, 3, 5, 4)),
    "adaptive_avg_1": (lambda T: T.nn.AdaptiveAvgPool2d(1), (3, 5, 6)),
    "upsample_nearest": (lambda T: T.nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    "upsample_nearest_size": (lambda T: T.nn.Upsample(size=(7, 3)), (2, 3, 4, 5)),
    "upsample_nearest_fraction": (lambda T: T.nn.Upsample(scale_factor=1.5), (1, 2, 5, 3)),
    "upsample_bilinear": (lambda T: T.nn.Upsample(scale_factor=2, mode="bilinear"),
                          (2, 3, 4, 5)),
    "upsample_bilinear_corners": (lambda T: T.nn.Upsample(scale_factor=2, mode="bilinear",
                                                          align_corners=True), (2, 3, 4, 5)),
    "upsample_bilinear_size": (lambda T: T.nn.Upsample(size=(3, 8), mode="bilinear"),
                               (1, 2, 5, 5)),
    "upsample_bilinear_odd": (lambda T: T.nn.Upsample(scale_factor=(1.7, 0.6),
                                                      mode="bilinear"), (1, 2, 5, 6)),
    "upsample_linear": (lambda T: T.nn.Upsample(size=9, mode="linear", align_corners=True),
                        (2, 3, 4)),
    "upsample_trilinear": (lambda T: T.nn.Upsample(scale_factor=2, mode="trilinear"),
                           (1, 2, 3, 2, 4)),
    "upsample_nearest_3d": (lambda T: T.nn.Upsample(scale_factor=3), (1, 2, 2, 2, 3)),
    "group_norm": (lambda T: T.nn.GroupNorm(2, 4), (3, 4, 5, 6)),
    "group_norm_plain": (lambda T: T.nn.GroupNorm(3, 6, affine=False), (2, 6, 7)),
    "group_norm_instance": (lambda T: T.nn.GroupNorm(4, 4, eps=1e-3), (2, 4, 3, 3)),
    "leaky_relu_inplace": (lambda T: T.nn.Sequential(T.nn.Conv2d(2, 3, 1),
                                                     T.nn.LeakyReLU(0.2, inplace=True)),
                           (2, 2, 3, 3)),
    "relu_inplace": (lambda T: T.nn.Sequential(T.nn.Conv2d(2, 3, 1), T.nn.ReLU(True)),
                     (2, 2, 3, 3)),
    "dropout_eval": (lambda T: T.nn.Sequential(T.nn.Dropout(0.5), T.nn.Dropout2d()).eval(),
                     (2, 3, 4, 4)),
}


@pytest.mark.parametrize("case", MODULES)
def test_module_matches_torch(case, rng):
    make, shape = MODULES[case]
    theirs, ours = make(torch), make(lucid)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    check(ours, theirs, rng.standard_normal(shape).astype(np.float32), rng)


@pytest.mark.parametrize("kind", ["BatchNorm1d_2d", "BatchNorm1d_3d", "BatchNorm2d",
                                  "BatchNorm2d_cumulative", "BatchNorm2d_untracked"])
def test_batch_norm_matches_torch_in_train_and_eval(kind, rng):
    name, _, variant = kind.partition("_")
    shape = {"BatchNorm1d_2d": (6, 4), "BatchNorm1d_3d": (3, 4, 5)}.get(kind, (3, 4, 5, 6))
    options = {"cumulative": {"momentum": None},
               "untracked": {"track_running_stats": False}}.get(variant, {})
    theirs = getattr(torch.nn, name)(4, **options)
    ours = getattr(nn, name)(4, **options)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.5, 0.5)
    ours.load_state_dict(theirs.state_dict())
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        check(ours, theirs, x, rng)
        ours.zero_grad()
        theirs.zero_grad()
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=key)
    ours.eval()
    theirs.eval()
    check(ours, theirs, rng.standard_normal(shape).astype(np.float32), rng)


@pytest.mark.parametrize("layer", ["BatchNorm2d", "GroupNorm"])
def test_norm_statistics_are_accurate_at_large_offsets(layer, rng):
    """Against float64: an offset of 1e4 leaves the float32 result accurate (no E[x^2]-E[x]^2)."""
    x = (rng.standard_normal((4, 4, 8, 8)) * 0.1 + 1e4).astype(np.float32)
    make = (lambda T: T.nn.BatchNorm2d(4)) if layer == "BatchNorm2d" else (
        lambda T: T.nn.GroupNorm(2, 4))
    expected = make(torch).double()(torch.tensor(x, dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(make(lucid)(lucid.tensor(x)).numpy(), expected, atol=2e-3)


def test_batch_norm_loads_a_checkpoint_without_num_batches_tracked():
    state = {k: v.clone() for k, v in torch.nn.BatchNorm2d(3).state_dict().items()
             if k != "num_batches_tracked"}
    assert not torch.nn.BatchNorm2d(3).load_state_dict(state).missing_keys  # as torch does
    norm = nn.BatchNorm2d(3)
    assert not norm.load_state_dict({k: v.numpy() for k, v in state.items()}).missing_keys


def test_batch_norm_failed_call_changes_nothing():
    norm = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size torch.Size\(\[1, 3\]\)"):
        norm(lucid.ones(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        nn.BatchNorm1d(4)(lucid.ones(2, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        norm(lucid.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(lucid.ones(2, 3, 4))
    assert int(norm.num_batches_tracked.item()) == 0
    assert norm.running_mean.tolist() == [0.0] * 3 and norm.running_var.tolist() == [1.0] * 3


def test_functional_norms_and_their_errors(rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    mean, var = np.zeros(4, np.float32), np.ones(4, np.float32)
    ours_mean, ours_var = lucid.tensor(mean), lucid.tensor(var)
    torch_mean, torch_var = torch.tensor(mean), torch.tensor(var)
    check(lambda t: F.batch_norm(t, ours_mean, ours_var, lucid.tensor(w), lucid.tensor(b),
                                 training=True, momentum=0.3),
          lambda t: torch.nn.functional.batch_norm(t, torch_mean, torch_var, torch.tensor(w),
                                                   torch.tensor(b), training=True,
                                                   momentum=0.3), x, rng)
    np.testing.assert_allclose(ours_mean.numpy(), torch_mean.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours_var.numpy(), torch_var.numpy(), rtol=1e-6)
    check(lambda t: F.group_norm(t, 2, lucid.tensor(w), lucid.tensor(b)),
          lambda t: torch.nn.functional.group_norm(t, 2, torch.tensor(w), torch.tensor(b)),
          x, rng)
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(lucid.ones(2, 3), None, None)
    with pytest.raises(RuntimeError, match="running_var must be defined in evaluation mode"):
        F.batch_norm(lucid.ones(2, 3), lucid.zeros(3), None)
    with pytest.raises(RuntimeError, match=r"Expected number of channels in input to be "
                                           r"divisible by num_groups, but got input of shape "
                                           r"\[2, 3, 4\] and num_groups=2"):
        F.group_norm(lucid.ones(2, 3, 4), 2)
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups "
                                         r"\(3\)"):
        nn.GroupNorm(3, 4)


def test_conv_transpose_output_padding_error():
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride "
                                           "or dilation, but got output_padding_height: 2 "
                                           "output_padding_width: 2 stride_height: 2 "
                                           "stride_width: 2 dilation_height: 1 "
                                           "dilation_width: 1"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)(lucid.ones(1, 2, 4, 4))
    with pytest.raises(RuntimeError, match="but got output_padding_height: 0 "
                                           "output_padding_width: 1 stride_height: 1"):
        nn.ConvTranspose1d(2, 2, 3, output_padding=1)(lucid.ones(1, 2, 4))
    with pytest.raises(RuntimeError, match="output_padding_depth: 2 output_padding_height: 2"):
        F.conv_transpose3d(lucid.ones(1, 2, 4, 4, 4), lucid.ones(2, 2, 3, 3, 3), stride=2,
                           output_padding=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(TypeError, match=r"ConvTranspose2d\(\): argument 'padding' must be an "
                                        r"int or a tuple of ints, but got 'same'"):
        nn.ConvTranspose2d(2, 2, 3, padding="same")
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input "
                                           r"to conv_transpose2d"):
        F.conv_transpose2d(lucid.ones(2, 4, 4, 4, 4), lucid.ones(4, 2, 3, 3))


@pytest.mark.parametrize("output_size", [(8, 8), (7, 8), [1, 3, 7, 7]])
def test_conv_transpose_output_size_matches_torch(output_size, rng):
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    ours.load_state_dict(theirs.state_dict())
    check(lambda x: ours(x, output_size=output_size),
          lambda x: theirs(x, output_size=output_size),
          rng.standard_normal((1, 2, 4, 4)).astype(np.float32), rng)


def test_conv_transpose_output_size_errors():
    for lib in (torch, lucid):
        layer = lib.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
        with pytest.raises(ValueError, match=r"requested an output size of \(9, 9\), but valid "
                                             r"sizes range from \[7, 7\] to \[8, 8\] \(for an "
                                             r"input of torch.Size\(\[4, 4\]\)\)"):
            layer(lib.ones(1, 2, 4, 4), output_size=(9, 9))
        with pytest.raises(ValueError, match=r"ConvTranspose2D: for 4D input, output_size must "
                                             r"have 2 or 4 elements \(got 1\)"):
            layer(lib.ones(1, 2, 4, 4), output_size=(8,))


def test_conv_transpose_init_matches_torch_fan():
    """U(±1/sqrt(fan_in)), fan_in from the weight's axis 1 (out // groups * k), as torch."""
    _ = lucid.manual_seed(0)
    layer = nn.ConvTranspose2d(64, 8, 3, groups=2)
    bound = 1 / np.sqrt(4 * 9)
    assert layer.weight.shape == (64, 4, 3, 3)
    assert bound * 0.95 < np.abs(layer.weight.numpy()).max() <= bound


def test_functional_interpolate_and_pooling_match_torch(rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    tf = torch.nn.functional
    cases = [(lambda t, f: f.interpolate(t, scale_factor=0.5, mode="bilinear")),
             (lambda t, f: f.interpolate(t, size=(4, 11), mode="nearest")),
             (lambda t, f: f.interpolate(t, scale_factor=1.3, mode="bilinear",
                                         recompute_scale_factor=True)),
             (lambda t, f: f.avg_pool2d(t, 3, 1, 1)),
             (lambda t, f: f.max_pool2d(t, 2, 1)),
             (lambda t, f: f.adaptive_avg_pool2d(t, 4))]
    for case in cases:
        check(lambda t, case=case: case(t, F), lambda t, case=case: case(t, tf), x, rng)


def test_resampling_and_pooling_errors():
    x = lucid.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=8, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        nn.Upsample()(x)
    with pytest.raises(ValueError, match="align_corners option can only be set with the "
                                         "interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D "
                                                  "input"):
        F.interpolate(lucid.ones(1, 1, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match=r"\(got bicubicx\)"):
        F.interpolate(x, scale_factor=2, mode="bicubicx")
    with pytest.raises(ValueError, match=r"Input and output must have the same number of "
                                         r"spatial dimensions, but got input with spatial "
                                         r"dimensions of \[4, 4\] and output size of \(2, 3, 4\)"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(ValueError, match=r"Input and scale_factor must have the same number of "
                                         r"spatial dimensions"):
        F.interpolate(x, scale_factor=(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D \(batch mode\) tensor with "
                                           r"optional 0 dim batch size for input, but got:"
                                           r"\[1, 1, 1, 4, 4\]"):
        F.avg_pool2d(lucid.ones(1, 1, 1, 4, 4), 2)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got -3\)"):
        F.avg_pool2d(lucid.ones(4, 4), 2)
    for shape in ((1, 1, 1, 4, 4), (4, 4)):
        with pytest.raises(RuntimeError, match=r"non-empty 3D or 4D \(batch mode\) tensor "
                                               r"expected for input"):
            nn.MaxPool2d(2)(lucid.ones(*shape))
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel "
                                           "size, but got pad=2, kernel_size=3 and "
                                           "dilation=1"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d\(\): Expected 3D or 4D "
                                           r"tensor, but got \[4, 4\]"):
        F.adaptive_avg_pool2d(lucid.ones(4, 4), 2)


def test_padding_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        nn.ZeroPad2d((1, 2, 3))(lucid.ones(1, 1, 3, 3))
    with pytest.raises(RuntimeError, match=r"Argument #4: Padding size should be less than "
                                           r"the corresponding input dimension, but got: "
                                           r"padding \(3, 3\) at dimension 3 of input "
                                           r"\[1, 1, 3, 3\]"):
        nn.ReflectionPad2d(3)(lucid.ones(1, 1, 3, 3))


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("channels", [False, True])
def test_dropout_scales_survivors_and_seeds(p, channels):
    layer = nn.Dropout2d(p) if channels else nn.Dropout(p)
    x = lucid.ones(4, 64, 8, 8, requires_grad=True)
    _ = lucid.manual_seed(3)
    y = layer(x)
    values = y.numpy()
    kept = values != 0
    if channels:  # whole channels are kept or dropped
        assert (kept.all(axis=(2, 3)) | (~kept).all(axis=(2, 3))).all()
    if p < 1:
        np.testing.assert_allclose(values[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(kept.mean() - (1 - p)) < 0.05
    cotangent = np.random.default_rng(0).standard_normal(values.shape).astype(np.float32)
    y.backward(cotangent)
    np.testing.assert_allclose(np.asarray(x.grad), cotangent * values, rtol=1e-6)
    _ = lucid.manual_seed(3)
    np.testing.assert_array_equal(layer(x).numpy(), values)  # the same seed, the same mask
    if 0 < p < 1:  # another seed, or the next draw, is another mask
        assert not np.array_equal(layer(x).numpy(), values)
        _ = lucid.manual_seed(4)
        assert not np.array_equal(layer(x).numpy(), values)
    np.testing.assert_array_equal(layer.eval()(x).numpy(), x.numpy())


def test_dropout_inplace_and_errors():
    x = lucid.ones(100, requires_grad=True) * 1
    assert F.dropout(x, 0.5, inplace=True) is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}
    for make in (lambda: nn.Dropout(-0.1), lambda: F.dropout(lucid.ones(3), -0.1)):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                             "but got -0.1"):
            make()
    with pytest.raises(RuntimeError, match="dropout2d expects a 3-D"):
        F.dropout2d(lucid.ones(2, 3), 0.5)


LOSSES = {
    "bce_logits": lambda f, a, t, w: f.binary_cross_entropy_with_logits(a, t),
    "bce_logits_weighted": lambda f, a, t, w: f.binary_cross_entropy_with_logits(
        a, t, weight=w, pos_weight=w[0, 0], reduction="sum"),
    "bce_logits_none": lambda f, a, t, w: f.binary_cross_entropy_with_logits(
        a * 30, t, reduction="none"),
    "bce": lambda f, a, t, w: f.binary_cross_entropy(f.sigmoid(a), t),
    "bce_weighted_none": lambda f, a, t, w: f.binary_cross_entropy(f.sigmoid(a), t, w,
                                                                   reduction="none"),
    "smooth_l1": lambda f, a, t, w: f.smooth_l1_loss(a, t),
    "smooth_l1_beta": lambda f, a, t, w: f.smooth_l1_loss(a, t, reduction="sum", beta=0.5),
    "smooth_l1_zero_beta": lambda f, a, t, w: f.smooth_l1_loss(a, t, reduction="none",
                                                               beta=0.0),
}


@pytest.mark.parametrize("case", LOSSES)
def test_losses_match_torch(case, rng):
    a = (rng.standard_normal((2, 3, 4, 5)) * 2).astype(np.float32)
    t = rng.random((2, 3, 4, 5)).astype(np.float32)
    w = rng.random((1, 3, 4, 5)).astype(np.float32) + 0.5
    loss = LOSSES[case]
    check(lambda x: loss(F, x, lucid.tensor(t), lucid.tensor(w)),
          lambda x: loss(torch.nn.functional, x, torch.tensor(t), torch.tensor(w)), a, rng,
          rtol=1e-5, atol=1e-6)


def test_loss_modules_and_errors(rng):
    a, t = rng.standard_normal((4, 3)).astype(np.float32), rng.random((4, 3)).astype(np.float32)
    for name, kwargs in [("BCEWithLogitsLoss", {"pos_weight": np.float32([1.0, 2.0, 0.5])}),
                         ("SmoothL1Loss", {"beta": 0.3})]:
        ours = getattr(nn, name)(**{k: lucid.tensor(v) if isinstance(v, np.ndarray) else v
                                    for k, v in kwargs.items()})
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray)
                                            else v for k, v in kwargs.items()})
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(lucid.tensor(a), lucid.tensor(t)).item(),
                                   theirs(torch.tensor(a), torch.tensor(t)).item(), rtol=1e-6)
    np.testing.assert_allclose(
        nn.BCELoss()(lucid.tensor(t), lucid.tensor(t > 0.5).float()).item(),
        torch.nn.BCELoss()(torch.tensor(t), torch.tensor(t > 0.5).float()).item(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Target size \(torch.Size\(\[2\]\)\) must be the "
                                         r"same as input size \(torch.Size\(\[3\]\)\)"):
        F.binary_cross_entropy_with_logits(lucid.ones(3), lucid.ones(2))
    with pytest.raises(ValueError, match=r"Using a target size \(torch.Size\(\[2\]\)\) that is "
                                         r"different to the input size"):
        F.binary_cross_entropy(lucid.ones(3) * 0.5, lucid.ones(2))
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values "
                                           "for beta."):
        F.smooth_l1_loss(lucid.ones(3), lucid.ones(3), beta=-1)
    with pytest.raises(ValueError, match="elementwise is not a valid value for reduction"):
        F.binary_cross_entropy(lucid.ones(3) * 0.5, lucid.ones(3), reduction="elementwise")


@pytest.mark.parametrize("target", [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], ids=["agree", "opposite"])
def test_binary_cross_entropy_gradient_at_saturated_probabilities_is_torchs(target):
    """Probabilities of exactly 0 or 1 (a float32 sigmoid saturates there) keep PyTorch's
    finite gradients for input and target, not the NaN of 0 * inf."""
    x = np.array([1.0, 0.0, 0.5], np.float32)
    t = np.array(target, np.float32)
    ours_x, ours_t = lucid.tensor(x, requires_grad=True), lucid.tensor(t, requires_grad=True)
    torch_x, torch_t = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    loss = F.binary_cross_entropy(ours_x, ours_t)
    reference = torch.nn.functional.binary_cross_entropy(torch_x, torch_t)
    loss.backward()
    reference.backward()
    np.testing.assert_allclose(float(loss), float(reference), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ours_x.grad), torch_x.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(ours_t.grad), torch_t.grad.numpy(), rtol=1e-5)


def test_avg_pool_divisor_override_zero_is_torchs_error():
    for lib in (torch, lucid):
        with pytest.raises(RuntimeError, match="divisor must be not zero"):
            lib.nn.functional.avg_pool2d(lib.ones(1, 1, 4, 4), 2, divisor_override=0)


@pytest.mark.parametrize("shape", [(2, 3), (1, 1, 2, 2, 2, 2)])
def test_interpolate_refuses_ranks_torch_refuses(shape):
    message = rf"Only 3D, 4D and 5D input Tensors supported \(got {len(shape)}D\)"
    for lib in (torch, lucid):
        with pytest.raises(NotImplementedError, match=message):
            lib.nn.functional.interpolate(lib.ones(*shape), scale_factor=2)


def test_batch_norm_needs_both_running_statistics_or_neither():
    for lib in (torch, lucid):
        mean = lib.zeros(3)
        with pytest.raises(ValueError, match="must either both be None or neither be None"):
            lib.nn.functional.batch_norm(lib.ones(2, 3), mean, None, training=True)
        np.testing.assert_array_equal(np.asarray(mean), 0)
