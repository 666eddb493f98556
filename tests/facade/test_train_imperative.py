"""The example training script gives PyTorch's losses under ``import lucid as torch``."""

from __future__ import annotations

import ast
import importlib.util
import pathlib

import numpy as np
import torch

import lucid

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("train_imperative",
                                              ROOT / "examples" / "train_imperative.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)


def trained(lib):
    model = example.build(lib)
    model.load_state_dict({k: lib.tensor(v) for k, v in example.initial_state(model).items()})
    images, labels = example.data()
    x, y = lib.tensor(images), lib.tensor(labels)
    return model, x, example.train(lib, model, x, y, log=lambda line: None)


def test_loss_curves_and_final_state_dicts_agree_with_torch(tmp_path):
    ours, x, our_losses = trained(lucid)
    theirs, _, their_losses = trained(torch)
    assert len(our_losses) == len(their_losses) == 2 * example.STEPS
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-4)
    assert their_losses[-1] < their_losses[0] / 10           # it does learn
    their_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), their_state[name].numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)
    # eval, save, load into a fresh model: identical outputs
    assert example.save_and_reload(lucid, ours, x, tmp_path / "model.npz")
    fresh = example.build(lucid)
    fresh.load_state_dict(lucid.load(tmp_path / "model.npz"))
    fresh.eval()
    np.testing.assert_array_equal(fresh(x).numpy(), ours(x).numpy())
    with torch.no_grad():
        theirs.eval()
        np.testing.assert_allclose(ours(x).numpy(), theirs(torch.tensor(x.numpy())).numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_the_script_runs_from_its_command_line(tmp_path, capsys):
    losses = example.main(["--backend", "lucid", "--save", str(tmp_path / "m.npz")])
    out = capsys.readouterr().out
    assert "adam step 19" in out and "reloaded model gives the same outputs: True" in out
    assert f"{losses[0]:.4f}" in out.splitlines()[0]


def test_lucid_jax_never_imports_lucid():
    for path in (ROOT / "lucid_jax").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "lucid" or n.startswith("lucid.") for n in names), path
