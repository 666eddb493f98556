"""Whole-model conversion, layer by layer against PyTorch: every supported layer type gives
PyTorch's output after ``torch_to_nnx`` / ``torch_to_linen``, and comes back exactly (a
``strict=True`` load of equal tensors). The full generator is in ``test_porting_doc.py``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import lucid_jax.linen
import lucid_jax.nnx
from lucid_jax import interop

TOL = {"rtol": 1e-5, "atol": 1e-5}


class TorchParent(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


class NNXParent(nnx.Module):
    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        return self.layer(x)


class LinenParent(fnn.Module):
    layer: Any

    def __call__(self, x, **kwargs):
        return self.layer(x, **kwargs)


@dataclass
class Case:
    name: str
    torch_layer: Any
    nnx_layer: Any            # a function of nnx.Rngs
    linen_layer: Any
    shape: tuple              # PyTorch's input shape
    channels_first: bool = True
    running_stats: bool = False  # train and eval differ; Linen takes use_running_average
    # Flax's BatchNorm updates running_var with the biased batch variance, PyTorch's with the
    # unbiased one: the weights convert exactly, but the updates differ by n / (n - 1)
    unbiased_update: bool = True


def _tp(kernel, padding=0, output_padding=0, dilation=1):
    return interop.conv_transpose_padding(kernel, padding, output_padding, dilation)


CASES = [
    Case("conv1d", lambda: torch.nn.Conv1d(3, 4, 3, stride=2, padding=1),
         lambda r: nnx.Conv(3, 4, (3,), strides=2, padding=((1, 1),), rngs=r),
         lambda: fnn.Conv(4, (3,), strides=2, padding=((1, 1),)), (2, 3, 9)),
    Case("conv2d_groups", lambda: torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                                 groups=2),
         lambda r: nnx.Conv(4, 6, (3, 2), strides=(2, 1), padding=((1, 1), (0, 0)),
                            feature_group_count=2, rngs=r),
         lambda: fnn.Conv(6, (3, 2), strides=(2, 1), padding=((1, 1), (0, 0)),
                          feature_group_count=2), (2, 4, 7, 6)),
    Case("conv3d_no_bias", lambda: torch.nn.Conv3d(2, 3, 3, padding=1, bias=False),
         lambda r: nnx.Conv(2, 3, (3, 3, 3), padding=((1, 1),) * 3, use_bias=False, rngs=r),
         lambda: fnn.Conv(3, (3, 3, 3), padding=((1, 1),) * 3, use_bias=False),
         (2, 2, 4, 5, 3)),
    Case("conv_transpose1d", lambda: torch.nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1,
                                                              output_padding=1),
         lambda r: nnx.ConvTranspose(3, 4, (3,), strides=2, padding=_tp((3,), 1, 1), rngs=r),
         lambda: fnn.ConvTranspose(4, (3,), strides=(2,), padding=_tp((3,), 1, 1)), (2, 3, 5)),
    Case("conv_transpose2d", lambda: torch.nn.ConvTranspose2d(4, 3, (3, 4), stride=2,
                                                              padding=(1, 2),
                                                              output_padding=(1, 0)),
         lambda r: nnx.ConvTranspose(4, 3, (3, 4), strides=2,
                                     padding=_tp((3, 4), (1, 2), (1, 0)), rngs=r),
         lambda: fnn.ConvTranspose(3, (3, 4), strides=(2, 2),
                                   padding=_tp((3, 4), (1, 2), (1, 0))), (2, 4, 5, 6)),
    Case("conv_transpose2d_transpose_kernel",
         lambda: torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
         lambda r: nnx.ConvTranspose(4, 3, (3, 3), strides=2, padding=_tp((3, 3), 1, 1),
                                     transpose_kernel=True, rngs=r),
         lambda: fnn.ConvTranspose(3, (3, 3), strides=(2, 2), padding=_tp((3, 3), 1, 1),
                                   transpose_kernel=True), (2, 4, 5, 5)),
    Case("conv_transpose2d_dilated",
         lambda: torch.nn.ConvTranspose2d(3, 3, 3, stride=2, padding=2, dilation=2),
         lambda r: nnx.ConvTranspose(3, 3, (3, 3), strides=2, kernel_dilation=2,
                                     padding=_tp((3, 3), 2, 0, 2), rngs=r),
         lambda: fnn.ConvTranspose(3, (3, 3), strides=(2, 2), kernel_dilation=(2, 2),
                                   padding=_tp((3, 3), 2, 0, 2)), (2, 3, 4, 5)),
    Case("conv_transpose3d", lambda: torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1,
                                                              output_padding=1),
         lambda r: nnx.ConvTranspose(2, 3, (3, 3, 3), strides=2,
                                     padding=_tp((3, 3, 3), 1, 1), rngs=r),
         lambda: fnn.ConvTranspose(3, (3, 3, 3), strides=(2, 2, 2),
                                   padding=_tp((3, 3, 3), 1, 1)), (2, 2, 3, 4, 3)),
    Case("linear", lambda: torch.nn.Linear(5, 3),
         lambda r: nnx.Linear(5, 3, rngs=r), lambda: fnn.Dense(3), (4, 5),
         channels_first=False),
    Case("instance_norm1d",
         lambda: torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
         lambda r: lucid_jax.nnx.InstanceNorm(3, epsilon=1e-5, track_running_stats=True,
                                              momentum=0.9, rngs=r),
         lambda: lucid_jax.linen.InstanceNorm(epsilon=1e-5, track_running_stats=True,
                                              momentum=0.9), (2, 3, 7), running_stats=True),
    Case("instance_norm3d_stats_only",
         lambda: torch.nn.InstanceNorm3d(2, track_running_stats=True, momentum=0.3),
         lambda r: lucid_jax.nnx.InstanceNorm(2, epsilon=1e-5, track_running_stats=True,
                                              use_scale=False, use_bias=False,
                                              momentum=interop.flax_momentum(0.3), rngs=r),
         lambda: lucid_jax.linen.InstanceNorm(epsilon=1e-5, track_running_stats=True,
                                              use_scale=False, use_bias=False,
                                              momentum=interop.flax_momentum(0.3)),
         (2, 2, 3, 4, 3), running_stats=True),
    Case("batch_norm2d", lambda: torch.nn.BatchNorm2d(4),
         lambda r: nnx.BatchNorm(4, momentum=0.9, epsilon=1e-5, rngs=r),
         lambda: fnn.BatchNorm(momentum=0.9, epsilon=1e-5), (3, 4, 5, 5), running_stats=True,
         unbiased_update=False),
    Case("group_norm", lambda: torch.nn.GroupNorm(2, 4),
         lambda r: nnx.GroupNorm(4, num_groups=2, epsilon=1e-5, rngs=r),
         lambda: fnn.GroupNorm(num_groups=2, epsilon=1e-5), (2, 4, 5, 6)),
    Case("layer_norm", lambda: torch.nn.LayerNorm(4),
         lambda r: nnx.LayerNorm(4, epsilon=1e-5, rngs=r),
         lambda: fnn.LayerNorm(epsilon=1e-5), (2, 5, 4), channels_first=False),
]


def _trained_torch(case: Case, rng) -> TorchParent:
    """The torch model with random (non-initial) parameters and, if any, running stats."""
    torch.manual_seed(0)
    model = TorchParent(case.torch_layer())
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.normal(0.3, 0.5, tuple(p.shape)).astype(np.float32)))
    model.train()
    for _ in range(2):
        model(_torch_input(case, rng))
    return model


def _torch_input(case: Case, rng):
    x = rng.normal(1.0, 2.0, case.shape).astype(np.float32)
    return torch.from_numpy(x)


def _flax_input(case: Case, x):
    return jnp.asarray(interop.to_channels_last(x.numpy()) if case.channels_first
                       else x.numpy())


def _torch_output(case: Case, y):
    return np.asarray(interop.to_channels_first(y) if case.channels_first else y)


def _counts(state_dict) -> dict:
    """BatchNorm's batch counters (Flax keeps none), keyed by layer, for the way back."""
    return {k.rpartition(".")[0]: int(v) for k, v in state_dict.items()
            if k.endswith("num_batches_tracked")}


def _assert_same_update(case: Case, after: dict, model):
    """After one training call on each side, the running statistics agree."""
    for k, v in model.state_dict().items():
        if case.unbiased_update or not k.endswith("running_var"):
            np.testing.assert_allclose(after[k], v.numpy(), err_msg=k, **TOL)


def _assert_exact_round_trip(case: Case, want: dict, back: dict):
    fresh = TorchParent(case.torch_layer())
    fresh.load_state_dict(back, strict=True)
    got = fresh.state_dict()
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        assert torch.equal(got[k], v), k


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_nnx_port_matches_torch_and_round_trips(case, rng):
    model = _trained_torch(case, rng)
    want = {k: v.clone() for k, v in model.state_dict().items()}
    ported = interop.torch_to_nnx(want, NNXParent(case.nnx_layer(nnx.Rngs(1))))
    _assert_exact_round_trip(case, want, interop.nnx_to_torch(
        ported, num_batches_tracked=_counts(want), as_torch=True))

    x = _torch_input(case, rng)
    modes = [("eval", False)] + ([("train", True)] if case.running_stats else [])
    for mode, training in modes:
        model.train(training)
        ported.train() if training else ported.eval()
        with torch.no_grad():
            expected = model(x).numpy()
        got = _torch_output(case, ported(_flax_input(case, x)))
        np.testing.assert_allclose(got, expected, err_msg=mode, **TOL)
    if case.running_stats:  # the training call updated both sides' running statistics alike
        after = interop.nnx_to_torch(ported, num_batches_tracked=_counts(model.state_dict()))
        _assert_same_update(case, after, model)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_linen_port_matches_torch_and_round_trips(case, rng):
    model = _trained_torch(case, rng)
    want = {k: v.clone() for k, v in model.state_dict().items()}
    x = _torch_input(case, rng)
    x_flax = _flax_input(case, x)
    linen = LinenParent(case.linen_layer())
    # what model.init takes after the key: BatchNorm needs use_running_average
    init = {"use_running_average": False} if case.running_stats else {}
    variables = interop.torch_to_linen(want, linen, x_flax, **init)
    assert jax.tree.structure(variables) == jax.tree.structure(
        jax.eval_shape(partial(linen.init, **init), jax.random.key(0), x_flax))
    _assert_exact_round_trip(case, want, interop.linen_to_torch(
        variables, linen, x_flax, num_batches_tracked=_counts(want), as_torch=True, **init))

    model.eval()
    with torch.no_grad():
        expected = model(x).numpy()
    kwargs = {"use_running_average": True} if case.running_stats else {}
    got = _torch_output(case, linen.apply(variables, x_flax, **kwargs))
    np.testing.assert_allclose(got, expected, err_msg="eval", **TOL)
    if case.running_stats:
        model.train()
        with torch.no_grad():
            expected = model(x).numpy()
        y, updates = linen.apply(variables, x_flax, use_running_average=False,
                                 mutable=["batch_stats"])
        np.testing.assert_allclose(_torch_output(case, y), expected, err_msg="train", **TOL)
        after = interop.linen_to_torch({**variables, **updates}, linen, x_flax,
                                       num_batches_tracked=_counts(model.state_dict()), **init)
        _assert_same_update(case, after, model)


def test_num_batches_tracked_is_written_back(rng):
    """BatchNorm counts its batches; Flax does not: the count comes back from the argument."""
    case = next(c for c in CASES if c.name == "batch_norm2d")
    model = _trained_torch(case, rng)
    assert int(model.state_dict()["layer.num_batches_tracked"]) == 2
    ported = interop.torch_to_nnx(model.state_dict(), NNXParent(case.nnx_layer(nnx.Rngs(0))))
    assert int(interop.nnx_to_torch(ported)["layer.num_batches_tracked"]) == 0
    for count in (2, {"layer": 2}):
        back = interop.nnx_to_torch(ported, num_batches_tracked=count, as_torch=True)
        _assert_exact_round_trip(case, model.state_dict(), back)


def test_rename_mapping_and_function_and_non_strict_loading(rng):
    """nnx.Sequential's 'layers.0' is torch.nn.Sequential's '0': a prefix mapping or a function
    says so; strict=False loads what matches and leaves the rest as it was."""
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(),
                                      torch.nn.Linear(3, 2))
    sd = torch_model.state_dict()

    def build():
        return nnx.Sequential(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), nnx.relu,
                              nnx.Linear(3, 2, rngs=nnx.Rngs(0)))

    x = rng.normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    for rename in ({"layers": ""}, lambda path: path.removeprefix("layers.")):
        model = interop.torch_to_nnx(sd, build(), rename=rename)
        np.testing.assert_allclose(model(x), expected, **TOL)
        back = interop.nnx_to_torch(model, rename=rename, as_torch=True)
        assert all(torch.equal(back[k], v) for k, v in sd.items()) and sorted(back) == sorted(sd)

    second = {k: v for k, v in sd.items() if k.startswith("2.")}
    second["extra.weight"] = torch.zeros(3)
    model = build()
    before = np.array(model.layers[0].kernel[...])
    interop.torch_to_nnx(second, model, rename={"layers": ""}, strict=False)
    np.testing.assert_array_equal(model.layers[0].kernel[...], before)
    np.testing.assert_array_equal(model.layers[2].kernel[...], sd["2.weight"].numpy().T)

    linen = fnn.Sequential([fnn.Dense(3), fnn.relu, fnn.Dense(2)])
    variables = interop.torch_to_linen(second, linen, x, rename={"layers_2": "2"},
                                       strict=False)
    assert jax.tree.map(jnp.shape, variables) == {"params": {"layers_2": {"bias": (2,),
                                                                          "kernel": (3, 2)}}}


@pytest.mark.parametrize("kernel, padding, output_padding, dilation, want", [
    ((3, 3), 1, 1, 1, [(1, 2), (1, 2)]),
    (4, 1, 0, 1, [(2, 2)]),
    ((3, 5), (0, 2), (0, 1), (2, 1), [(4, 4), (2, 3)]),
])
def test_conv_transpose_padding(kernel, padding, output_padding, dilation, want):
    assert interop.conv_transpose_padding(kernel, padding, output_padding, dilation) == want
