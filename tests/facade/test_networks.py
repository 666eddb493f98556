"""The four reference networks of ``examples/networks.py`` train under lucid with torch's
losses, from the same source and the same initial weights (issue 18, item 3)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import pathlib

import numpy as np
import pytest
import torch

import lucid

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("networks", ROOT / "examples" / "networks.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)

STEPS = 4
# A convolution's bias right before an instance norm has a zero gradient, so Adam moves it by
# the rounding noise of that zero (in torch as in lucid). No training-mode output depends on
# it, but the running means do: these networks' final states are compared by their weights
# and running variances, and their outputs in training mode.
NOISY_BIASES = ("style_transfer", "cyclegan")


def outputs(name, models, x):
    """The first model's output (pix2pix: the generator's), as NumPy."""
    out = example.as_list(models)[0](x)
    return out.detach().numpy() if isinstance(out, torch.Tensor) else out.numpy()


@pytest.mark.parametrize("name", example.NETWORKS)
def test_network_trains_with_torchs_losses(name):
    data = example.make_data(name, size=16)
    torch.manual_seed(0)
    theirs = example.build(name, torch)
    ours = example.build(name, lucid)
    example.copy_weights(theirs, ours)
    example.eval_dropout(theirs)
    example.eval_dropout(ours)
    their_losses = example.train(name, torch, theirs, data, STEPS)
    our_losses = example.train(name, lucid, ours, data, STEPS)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-4)
    objective = np.asarray(their_losses).reshape(STEPS, -1)[:, -1]  # pix2pix: the G loss
    assert objective[-1] < objective[0]  # it learns
    for mine, reference in zip(example.as_list(ours), example.as_list(theirs), strict=True):
        their_state = reference.state_dict()
        for key, value in mine.state_dict().items():
            if name in NOISY_BIASES and not key.endswith(("weight", "running_var")):
                continue
            np.testing.assert_allclose(value.numpy(), their_state[key].numpy(), rtol=2e-3,
                                       atol=2e-4, err_msg=f"{name}: {key}")
    x = data[0]
    np.testing.assert_allclose(outputs(name, ours, lucid.tensor(x)),
                               outputs(name, theirs, torch.tensor(x)), rtol=2e-3, atol=2e-3)
    if name not in NOISY_BIASES:  # eval mode: the running statistics normalise
        for model in (*example.as_list(ours), *example.as_list(theirs)):
            model.eval()
        np.testing.assert_allclose(outputs(name, ours, lucid.tensor(x)),
                                   outputs(name, theirs, torch.tensor(x)), rtol=2e-3,
                                   atol=2e-3)


def test_pix2pix_dropout_is_active_in_training():
    """Without the comparison's eval(), the generator's Dropout draws a mask per call."""
    generator, _ = example.build("pix2pix", lucid)
    x = lucid.tensor(example.make_data("pix2pix")[0])
    _ = lucid.manual_seed(1)
    first = generator(x).numpy()
    assert not np.allclose(first, generator(x).numpy())
    _ = lucid.manual_seed(1)
    np.testing.assert_array_equal(generator(x).numpy(), first)
    generator.eval()
    np.testing.assert_array_equal(generator(x).numpy(), generator(x).numpy())


def test_networks_are_written_against_T_only():
    """The builders and loops name no framework: everything comes through their ``T``."""
    for name in example.NETWORKS:
        functions = [getattr(example, f"build_{name}"), getattr(example, f"{name}_step")]
        functions += [getattr(example, f) for f in dir(example) if f.startswith(name)
                      and f.endswith("_loss")]
        for function in functions:
            tree = ast.parse(inspect.getsource(function))
            names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            assert not names & {"torch", "lucid", "jax", "jnp", "np"}, function.__name__
