"""Every ValueError (and TypeError) of ``lucid_jax.interop`` that the single-layer and
whole-model converters raise, one test per message: no interop function returns an empty
result for a non-empty input, and none raises a bare KeyError. (Momentum and the first
single-layer messages are in ``test_flax_errors.py``.)"""

from __future__ import annotations

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


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm1 = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
        self.norm2 = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True)


class NNXNet(nnx.Module):
    def __init__(self):
        self.conv = nnx.Conv(3, 4, (3, 3), rngs=nnx.Rngs(0))
        self.norm1 = lucid_jax.nnx.InstanceNorm(4, track_running_stats=True, rngs=nnx.Rngs(0))
        self.norm2 = lucid_jax.nnx.InstanceNorm(4, track_running_stats=True, rngs=nnx.Rngs(0))


class LinenNet(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        x = fnn.Conv(4, (3, 3), name="conv")(x)
        for name in ("norm1", "norm2"):
            x = lucid_jax.linen.InstanceNorm(track_running_stats=True, name=name)(
                x, use_running_average=False)
        return x


SD = TorchNet().state_dict()
X = jax.ShapeDtypeStruct((1, 6, 6, 3), jnp.float32)


def _linen_variables():
    return LinenNet().init(jax.random.key(0), jnp.zeros(X.shape))


def _snapshot(model):
    return jax.tree.map(np.array, nnx.state(model))


# ------------------------------------------------------------- single layer: the cases

def test_prefix_typo_lists_the_prefixes_there_are():
    with pytest.raises(ValueError, match=r"no state_dict key starts with prefix='norm3\.'; "
                                         r"nearest: 'norm2\.'; the state_dict's layer prefixes "
                                         r"are \['conv\.', 'norm1\.', 'norm2\.'\]"):
        interop.state_dict_to_linen(SD, prefix="norm3.")


def test_whole_model_state_dict_hints_prefix():
    with pytest.raises(ValueError, match=r"the state_dict holds a whole model's state \(keys "
                                         r"such as \['conv\.weight', .*\]\), not one "
                                         r"InstanceNorm layer's: pass prefix= one of its "
                                         r"normalisation layers \['norm1\.', 'norm2\.'\] "
                                         r".*interop\.torch_to_nnx"):
        interop.state_dict_to_linen(SD)


def test_a_prefix_holding_several_layers_hints_the_layers_under_it():
    sd = torch.nn.Sequential(TorchNet()).state_dict()
    with pytest.raises(ValueError, match=r"the state_dict under prefix='0\.' holds a whole "
                                         r"model's state .* \['0\.norm1\.', '0\.norm2\.'\]"):
        interop.load_state_dict_into_nnx(lucid_jax.nnx.InstanceNorm(4, rngs=nnx.Rngs(0)), sd,
                                         prefix="0.")


def test_whole_nnx_model_hints_the_submodule():
    model = NNXNet()
    before = _snapshot(model)
    match = (r"NNXNet is a whole model, not one InstanceNorm layer: its normalisation layers "
             r"are \['model\.norm1', 'model\.norm2'\]; pass one of them \(e\.g\. model\.norm1\)"
             r", or convert the whole model with interop\.nnx_to_torch")
    with pytest.raises(ValueError, match=match):
        interop.nnx_to_state_dict(model)
    with pytest.raises(ValueError, match=match):
        interop.load_state_dict_into_nnx(model, SD, prefix="norm1.")
    jax.tree.map(np.testing.assert_array_equal, _snapshot(model), before)


def test_whole_linen_tree_names_its_layers():
    """Was a bare KeyError: 'mean'."""
    with pytest.raises(ValueError, match=r"the variables hold a whole model's tree \(submodules "
                                         r"\['conv', 'norm1', 'norm2'\]\), not one "
                                         r"InstanceNorm layer's; its normalisation layers are "
                                         r"\['norm1', 'norm2'\]: pass one, e\.g\. "
                                         r"\{'params': variables\['params'\]\['norm1'\]"):
        interop.linen_to_state_dict(_linen_variables())


# ------------------------------------------------------------------- single layer: the rest

def test_empty_state_dict():
    for convert in (interop.state_dict_to_linen,
                    lambda sd: interop.torch_to_nnx(sd, NNXNet())):
        with pytest.raises(ValueError, match=r"the state_dict is empty: there is nothing to "
                                             r"convert"):
            convert({})


def test_prefix_must_be_a_string():
    with pytest.raises(ValueError, match=r"prefix must be a str such as 'norm1\.', got 1"):
        interop.state_dict_to_linen(SD, prefix=1)


def test_only_a_counter_is_nothing_to_convert():
    with pytest.raises(ValueError, match=r"the state_dict under prefix='n\.' holds only "
                                         r"\['n\.num_batches_tracked'\]: no weight, bias"):
        interop.state_dict_to_linen({"n.num_batches_tracked": np.array(0)}, prefix="n.")


def test_linen_variables_must_be_a_mapping():
    with pytest.raises(ValueError, match=r"expected Linen variables \(a dict of collections\), "
                                         r"got list"):
        interop.linen_to_state_dict([1.0])


def test_linen_variables_without_collections():
    with pytest.raises(ValueError, match=r"expected Linen variables \{'params': \.\.\., "
                                         r"'batch_stats': \.\.\.\}, got the keys \['bias', "
                                         r"'scale'\]; wrap one layer's parameters"):
        interop.linen_to_state_dict({"scale": np.ones(3), "bias": np.zeros(3)})


def test_linen_variables_of_another_layer_type():
    with pytest.raises(ValueError, match=r"unexpected InstanceNorm variables "
                                         r"params/\['kernel'\]; expected params to hold scale "
                                         r"and bias"):
        interop.linen_to_state_dict({"params": {"kernel": np.ones((3, 3))}})


def test_empty_linen_variables():
    with pytest.raises(ValueError, match=r"the variables hold no scale, bias, mean or var: "
                                         r"nothing to convert"):
        interop.linen_to_state_dict({"params": {}})


def test_linen_half_of_the_running_statistics():
    with pytest.raises(ValueError, match=r"batch_stats holds 'mean' but not 'var'"):
        interop.linen_to_state_dict({"batch_stats": {"mean": np.zeros(3)}})


def test_one_layer_num_batches_tracked_must_be_an_int():
    """Before the whole-model converters, a non-int was a TypeError from NumPy; a float was
    truncated."""
    variables = interop.state_dict_to_linen(SD, prefix="norm1.")
    module = lucid_jax.nnx.InstanceNorm(4, track_running_stats=True, rngs=nnx.Rngs(0))
    converters = (lambda n: interop.linen_to_state_dict(variables, num_batches_tracked=n),
                  lambda n: interop.nnx_to_state_dict(module, num_batches_tracked=n))
    for convert in converters:
        for count, kind in (({"": 3}, "dict"), (2.5, "float"), ("3", "str"),
                            (np.array(3.0), "ndarray"), (None, "NoneType")):
            with pytest.raises(TypeError, match=rf"^num_batches_tracked must be an int, got "
                                                rf"{kind}$"):
                convert(count)
        for count in (7, np.int64(7), np.array(7), torch.tensor(7), jnp.array(7)):
            assert convert(count)["num_batches_tracked"] == 7


def test_nnx_layer_must_be_a_module():
    with pytest.raises(ValueError, match=r"expected an NNX InstanceNorm module, got dict"):
        interop.nnx_to_state_dict({"scale": np.ones(3)})


def test_nnx_module_without_norm_variables():
    with pytest.raises(ValueError, match=r"Conv holds \['kernel'\]: it is not a normalisation "
                                         r"layer \(scale, bias, mean, var\); convert a whole "
                                         r"model with interop\.nnx_to_torch"):
        interop.nnx_to_state_dict(nnx.Conv(3, 4, (3,), rngs=nnx.Rngs(0)))


def test_nnx_module_without_any_variables():
    with pytest.raises(ValueError, match=r"Sequential holds no scale, bias, mean or var: it is "
                                         r"not a normalisation layer"):
        interop.nnx_to_state_dict(nnx.Sequential(nnx.relu))


def test_nnx_half_of_the_running_statistics():
    layer = lucid_jax.nnx.InstanceNorm(3, track_running_stats=True, rngs=nnx.Rngs(0))
    layer.var = None
    with pytest.raises(ValueError, match=r"InstanceNorm holds 'mean' but not the other running "
                                         r"statistic"):
        interop.nnx_to_state_dict(layer)


# -------------------------------------------------------------------------------- whole models

def test_unmatched_keys_on_both_sides_name_the_nearest_and_the_shapes():
    sd = {("norm1.wieght" if k == "norm1.weight" else k): v for k, v in SD.items()}
    sd["extra.bias"] = torch.zeros(2)
    model = NNXNet()
    before = _snapshot(model)
    with pytest.raises(ValueError) as info:
        interop.torch_to_nnx(sd, model)
    message = str(info.value)
    assert "2 state_dict key(s) match no Flax variable:" in message
    assert ("'norm1.wieght' (4,); nearest: 'norm1.weight' (for model.norm1.scale, expects (4,))"
            in message)
    assert "'extra.bias' (2,)" in message
    assert "1 Flax variable(s) have no state_dict key:" in message
    assert ("model.norm1.scale (4,) <- 'norm1.weight' (4,); nearest: 'norm1.wieght' (4,)"
            in message)
    assert "rename=" in message and "strict=False" in message
    jax.tree.map(np.testing.assert_array_equal, _snapshot(model), before)  # nothing written


def test_shape_mismatch_names_the_layer_and_both_shapes_and_writes_nothing():
    sd = dict(SD, **{"conv.weight": torch.zeros(4, 3, 5, 5), "norm2.bias": torch.zeros(5)})
    model = NNXNet()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"shape mismatch between the state_dict and the Flax "
                                         r"model:\n  layer conv \(Conv\): state_dict "
                                         r"'conv\.weight' has shape \(4, 3, 5, 5\), "
                                         r"model\.conv\.kernel needs \(4, 3, 3, 3\) \(Flax shape "
                                         r"\(3, 3, 3, 4\)\)\n  layer norm2 \(InstanceNorm\)"):
        interop.torch_to_nnx(sd, model)
    jax.tree.map(np.testing.assert_array_equal, _snapshot(model), before)


def test_non_strict_loading_that_matches_nothing():
    with pytest.raises(ValueError, match=r"no state_dict key matches a Flax variable \(state_dict "
                                         r"keys \['other\.weight'\], Flax expects "
                                         r"\['conv\.bias', .*rename="):
        interop.torch_to_nnx({"other.weight": torch.zeros(2)}, NNXNet(), strict=False)


_STATE_DICT_CONVERTERS = {
    "state_dict_to_linen": interop.state_dict_to_linen,
    "load_state_dict_into_nnx": lambda sd: interop.load_state_dict_into_nnx(
        lucid_jax.nnx.InstanceNorm(4, rngs=nnx.Rngs(0)), sd),
    "torch_to_nnx": lambda sd: interop.torch_to_nnx(sd, NNXNet()),
    "torch_to_linen": lambda sd: interop.torch_to_linen(sd, LinenNet(), X),
}


@pytest.mark.parametrize("name", sorted(_STATE_DICT_CONVERTERS))
def test_every_converter_refuses_a_state_dict_that_is_not_a_mapping(name):
    """The one-layer converters said "unexpected InstanceNorm state_dict keys ['1', '2']"."""
    for state_dict, kind in (([1, 2], "list"), (list(SD.values()), "list"), ((), "tuple")):
        with pytest.raises(ValueError, match=rf"expected a state_dict \(a mapping of names to "
                                             rf"arrays\), got {kind}$"):
            _STATE_DICT_CONVERTERS[name](state_dict)


def test_nnx_model_must_be_a_module():
    with pytest.raises(ValueError, match=r"expected an NNX model \(flax\.nnx\.Module\), got "
                                         r"TorchNet"):
        interop.nnx_to_torch(TorchNet())


def test_linen_model_must_be_a_module():
    with pytest.raises(ValueError, match=r"expected a Linen model \(flax\.linen\.Module\), got "
                                         r"NNXNet"):
        interop.torch_to_linen(SD, NNXNet(), X)


def test_model_without_parameters():
    with pytest.raises(ValueError, match=r"the Flax model holds no parameters to convert"):
        interop.nnx_to_torch(nnx.Sequential(nnx.relu))


def test_layer_type_without_a_rule():
    model = nnx.Sequential(nnx.Embed(5, 3, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match=r"no PyTorch conversion for Embed at "
                                         r"model\.layers\[0\] \(variables \['embedding'\]\); "
                                         r"supported: Conv, ConvTranspose, Linear/Dense"):
        interop.nnx_to_torch(model)


def test_rename_that_maps_two_layers_to_one():
    with pytest.raises(ValueError, match=r"model\.norm1\.bias and model\.norm2\.bias both map to "
                                         r"the state_dict key 'norm\.bias'; fix rename"):
        interop.nnx_to_torch(NNXNet(), rename={"norm1": "norm", "norm2": "norm"})


def test_rename_function_must_return_a_string():
    with pytest.raises(ValueError, match=r"rename\('conv'\) returned None; it must return the "
                                         r"PyTorch module path as a str"):
        interop.nnx_to_torch(NNXNet(), rename=lambda path: None)


def test_rename_must_be_a_mapping_or_a_function():
    with pytest.raises(ValueError, match=r"rename must be a mapping of Flax module paths to "
                                         r"PyTorch ones, or a function of the Flax path, got "
                                         r"list"):
        interop.nnx_to_torch(NNXNet(), rename=["conv"])


def test_num_batches_tracked_for_a_layer_without_statistics():
    with pytest.raises(ValueError, match=r"num_batches_tracked names \['conv'\], which are not "
                                         r"layers with running statistics; those are "
                                         r"\['norm1', 'norm2'\]"):
        interop.nnx_to_torch(NNXNet(), num_batches_tracked={"conv": 3})


def test_whole_model_num_batches_tracked_must_be_ints():
    with pytest.raises(TypeError, match=r"num_batches_tracked\['norm1'\] must be an int, got "
                                        r"float"):
        interop.nnx_to_torch(NNXNet(), num_batches_tracked={"norm1": 1.5})
    with pytest.raises(TypeError, match=r"num_batches_tracked must be an int or a mapping of "
                                        r"PyTorch module paths to ints, got str"):
        interop.linen_to_torch(_linen_variables(), LinenNet(), X, num_batches_tracked="3")
    counts = interop.nnx_to_torch(NNXNet(), num_batches_tracked={"norm1": torch.tensor(2)})
    assert (counts["norm1.num_batches_tracked"], counts["norm2.num_batches_tracked"]) == (2, 0)


def test_linen_variables_that_are_not_the_models():
    variables = _linen_variables()
    variables["params"]["norm3"] = variables["params"].pop("norm2")
    with pytest.raises(ValueError, match=r"(?s)the variables do not match the model's \(as "
                                         r"model\.init creates them\):\n.*  not in the model: "
                                         r"params\['norm3'\]\['bias'\] \(4,\); nearest: "
                                         r"\"params\['norm2'\]\['bias'\]\"\n.*  missing: "
                                         r"params\['norm2'\]\['bias'\] \(4,\)"):
        interop.linen_to_torch(variables, LinenNet(), X)


def test_linen_variables_of_the_wrong_shape():
    variables = _linen_variables()
    variables["batch_stats"]["norm1"]["var"] = jnp.ones(5)
    with pytest.raises(ValueError, match=r"shape mismatch between the variables and the "
                                         r"model:\n  batch_stats\['norm1'\]\['var'\]: the "
                                         r"variables hold \(5,\), the model \(4,\) \(layer norm1 "
                                         r"\(InstanceNorm\)\)"):
        interop.linen_to_torch(variables, LinenNet(), X)


def test_linen_to_torch_needs_variables():
    with pytest.raises(ValueError, match=r"expected Linen variables \(a dict of collections\), "
                                         r"got tuple"):
        interop.linen_to_torch((), LinenNet(), X)


def test_conv_transpose_padding_per_axis_length():
    with pytest.raises(ValueError, match=r"padding=\(1, 2, 3\) has 3 entries for a "
                                         r"2-dimensional kernel_size=\(3, 3\)"):
        interop.conv_transpose_padding((3, 3), padding=(1, 2, 3))


def test_conv_transpose_padding_too_large():
    with pytest.raises(ValueError, match=r"padding=3 exceeds dilation \* \(kernel_size - 1\) = "
                                         r"2: no Flax padding gives PyTorch's output"):
        interop.conv_transpose_padding(3, padding=3)
