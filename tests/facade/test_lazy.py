"""Lazy InstanceNorm modules before their first call: placeholders, as PyTorch and lucid hold them.

PyTorch's Lazy modules hold ``UninitializedParameter``/``UninitializedBuffer`` objects that
become real tensors in place; its tests (test/nn/test_lazy_modules.py) check the state dict
and the error when an uninitialised module's state is loaded into an initialised one. lucid's
own lazy tests add ``has_uninitialized_parameters()``, ``UninitializedParameterWarning`` and the
case that matters most: an optimiser built before the first call must still train the layer.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import oracle
import pytest
import torch

import lucid
import lucid.nn as nn

SETTINGS = [dict(affine=True, track_running_stats=True), dict(affine=True),
            dict(track_running_stats=True), dict(), dict(affine=True, bias=False)]
IDS = ["affine+stats", "affine", "stats", "neither", "weight-only"]
TORCH_LOAD_ERROR = re.escape(
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes.")


def both(settings):
    """Our Lazy module and PyTorch's, with the same (explicit) settings."""
    full = dict(affine=False, track_running_stats=False) | settings
    return nn.LazyInstanceNorm2d(**full), torch.nn.LazyInstanceNorm2d(**full)


@pytest.mark.parametrize("settings", SETTINGS, ids=IDS)
def test_placeholders_and_state_dict_keys_are_torchs(settings):
    ours, theirs = both(settings)
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params()
    assert ours.has_uninitialized_parameters()  # lucid's: still waiting for num_features
    for name in ("weight", "bias", "running_mean", "running_var"):
        mine, reference = getattr(ours, name), getattr(theirs, name)
        assert (mine is None) == (reference is None), name
        if reference is not None:
            assert type(mine).__name__ == type(reference).__name__, name
            assert mine.shape == (0,) and repr(mine) == f"<{type(mine).__name__}>"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ({k: type(v).__name__ for k, v in ours.state_dict().items()}
            == {k: type(v).__name__ for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("settings", SETTINGS[:3], ids=IDS[:3])
def test_loading_an_uninitialised_state_into_an_initialised_module_is_torchs_error(settings):
    ours, theirs = both(settings)
    target = nn.InstanceNorm2d(4, **settings)
    reference = torch.nn.InstanceNorm2d(4, **settings)
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}
    with pytest.raises(RuntimeError, match=TORCH_LOAD_ERROR):
        reference.load_state_dict(theirs.state_dict())
    with pytest.raises(RuntimeError, match=TORCH_LOAD_ERROR):
        target.load_state_dict(ours.state_dict())
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)


@pytest.mark.parametrize("settings", SETTINGS[:3], ids=IDS[:3])
def test_loading_an_uninitialised_state_into_a_lazy_module_keeps_it_lazy(settings):
    ours, theirs = both(settings)
    other_ours, other_theirs = both(settings)
    assert ours.load_state_dict(other_ours.state_dict()) == ([], [])
    assert theirs.load_state_dict(other_theirs.state_dict()) == ([], [])
    assert type(ours) is nn.LazyInstanceNorm2d
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params() is True


def test_an_optimiser_built_before_the_first_call_trains_the_layer_as_torch_does(rng):
    ours, theirs = both(dict(affine=True, track_running_stats=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nn.UninitializedParameterWarning)
        early = list(ours.parameters())
    optimizer = lucid.optim.SGD(early, lr=0.5, momentum=0.9)
    reference_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.5, momentum=0.9)
    for _ in range(3):
        x_np = (rng.standard_normal((2, 4, 5, 3)) * 2 + 1).astype(np.float32)
        cotangent = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
        for module, opt, lib in ((ours, optimizer, lucid), (theirs, reference_optimizer, torch)):
            opt.zero_grad()
            (module(lib.tensor(x_np)) * lib.tensor(cotangent)).sum().backward()
            opt.step()
    assert [id(p) for p in early] == [id(p) for p in ours.parameters()]
    assert not ours.has_uninitialized_parameters()
    for name, value in theirs.state_dict().items():
        oracle.assert_close(ours.state_dict()[name].numpy(), value.numpy(), err_msg=name)
    assert not np.allclose(ours.weight.numpy(), 1.0)  # it did learn


def test_listing_placeholders_warns_and_internal_walks_do_not():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LazyInstanceNorm2d(affine=True))
    with pytest.warns(nn.UninitializedParameterWarning,
                      match=r"1\.weight, 1\.bias: uninitialized .* reading nothing"):
        params = list(model.parameters())
    assert len(params) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", nn.UninitializedParameterWarning)
        model.zero_grad()
        model.requires_grad_(False).requires_grad_(True)
        model.state_dict()
        model(lucid.randn(2, 3, 6, 6))
        list(model.parameters())  # materialised: no warning any more
        list(nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4)).parameters())


def test_has_uninitialized_parameters_sees_through_a_container():
    lazy = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LazyInstanceNorm2d())
    assert lazy.has_uninitialized_parameters()
    assert not lazy.has_uninitialized_parameters(recurse=False)
    eager = nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4))
    assert not eager.has_uninitialized_parameters()
    lazy(lucid.randn(2, 3, 6, 6))
    assert not lazy.has_uninitialized_parameters()


def test_using_a_placeholder_raises_instead_of_computing_on_nothing():
    lazy = nn.LazyInstanceNorm1d(affine=True, track_running_stats=True)
    message = "Attempted to use an uninitialized parameter"
    for use in (lambda: lazy.weight * 2, lambda: lazy.weight.numpy(), lambda: lazy.bias.sum(),
                lambda: np.asarray(lazy.weight)):
        with pytest.raises(ValueError, match=message):
            use()
    with pytest.raises(ValueError, match="Attempted to use an uninitialized buffer"):
        lazy.running_mean + 1
    with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
        lucid.save(lazy.state_dict(), io.BytesIO())


def test_dtype_set_before_the_first_call_is_kept():
    lazy = nn.LazyInstanceNorm1d(affine=True, track_running_stats=True).half()
    assert lazy.weight.dtype == lazy.running_var.dtype == np.float16
    out = lazy(lucid.randn(2, 3, 8, dtype=lucid.float16))
    assert out.dtype == lazy.weight.dtype == lazy.running_mean.dtype == np.float16


def test_reset_before_the_first_call_does_nothing_and_keeps_the_placeholders():
    lazy = nn.LazyInstanceNorm1d(affine=True, track_running_stats=True)
    weight = lazy.weight
    lazy.reset_parameters()
    lazy.reset_running_stats()
    assert lazy.weight is weight and isinstance(weight, nn.UninitializedParameter)


def test_a_lazy_subclass_that_never_becomes_eager_raises_instead_of_recursing():
    from lucid.nn.lazy import LazyModuleMixin

    class Broken(LazyModuleMixin, nn.Identity):
        cls_to_become = nn.Identity

        def initialize_parameters(self, input):
            return lambda: None          # forgets _materialize: the class stays lazy

    with pytest.raises(RuntimeError, match="Broken.initialize_parameters did not make"):
        Broken()(lucid.ones(2))
