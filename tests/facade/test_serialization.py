"""lucid.save / lucid.load: npz, no pickle, nested checkpoints, refusals."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn


def test_a_model_and_optimiser_checkpoint_round_trips(tmp_path):
    model = nn.Sequential(nn.Conv1d(3, 2, 1), nn.InstanceNorm1d(2, affine=True,
                                                                 track_running_stats=True))
    opt = lucid.optim.Adam(model.parameters(), lr=0.01)
    model(lucid.randn(2, 3, 5)).backward(lucid.randn(2, 2, 5))
    opt.step()
    path = tmp_path / "checkpoint.pt"
    lucid.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3,
                "loss": float("nan"), "tag": None, "shape": (2, 3)}, path)
    assert path.exists()                       # written under the given name, no suffix added
    loaded = lucid.load(path)
    assert isinstance(loaded["model"], OrderedDict) and list(loaded["model"]) == list(
        model.state_dict())
    assert loaded["epoch"] == 3 and np.isnan(loaded["loss"]) and loaded["tag"] is None
    assert loaded["shape"] == (2, 3) and list(loaded["optim"]["state"]) == [0, 1, 2, 3]
    fresh = nn.Sequential(nn.Conv1d(3, 2, 1), nn.InstanceNorm1d(2, affine=True,
                                                                 track_running_stats=True))
    fresh.load_state_dict(loaded["model"])
    for (name, a), (_, b) in zip(fresh.state_dict().items(), model.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype
    fresh_opt = lucid.optim.Adam(fresh.parameters())
    fresh_opt.load_state_dict(loaded["optim"])
    assert fresh_opt.param_groups[0]["lr"] == 0.01
    assert not any(t.requires_grad for t in loaded["model"].values())


def test_dtypes_survive_including_bfloat16_and_plain_arrays():
    buffer = io.BytesIO()
    values = {"bf16": lucid.ones(3, dtype=lucid.bfloat16), "i32": lucid.tensor([1, 2]),
              "array": np.arange(3, dtype=np.float16), "jax": jnp.ones(2), "flag": True}
    lucid.save(values, buffer)
    buffer.seek(0)
    loaded = lucid.load(buffer)
    assert loaded["bf16"].dtype == jnp.bfloat16 and loaded["bf16"].tolist() == [1.0] * 3
    assert loaded["i32"].dtype == jnp.int32
    assert isinstance(loaded["array"], jnp.ndarray) and loaded["array"].dtype == jnp.float16
    assert loaded["flag"] is True


def test_torch_state_dicts_are_saved_and_load_into_torch_again(tmp_path):
    reference = torch.nn.Conv2d(2, 3, 3)
    lucid.save(reference.state_dict(), tmp_path / "conv.npz")
    loaded = lucid.load(tmp_path / "conv.npz")
    clone = torch.nn.Conv2d(2, 3, 3)
    clone.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in loaded.items()})
    assert torch.equal(clone.weight, reference.weight)


def test_files_not_written_by_save_are_refused_and_nothing_runs(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    pickled = tmp_path / "evil.pt"
    pickled.write_bytes(pickle.dumps({"w": Boom()}))
    torch_file = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, torch_file)
    other = tmp_path / "other.npz"
    np.savez(other, w=np.ones(2))
    forged = tmp_path / "forged.npz"
    np.savez(forged, __lucid__=np.array('{"format": "something else"}'))
    for path, reason in [(pickled, ""), (torch_file, ""), (other, "has no '__lucid__' entry"),
                         (forged, "its header is not lucid.save's")]:
        with pytest.raises(ValueError, match="is not a checkpoint written by lucid.save.*"
                           + reason):
            lucid.load(path)
    with zipfile.ZipFile(tmp_path / "objects.npz", "w") as archive, \
            archive.open("__lucid__.npy", "w") as entry:
        np.lib.format.write_array(entry, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Object arrays cannot be loaded"):
        lucid.load(tmp_path / "objects.npz")


def test_a_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "future.npz"
    np.savez(path, __lucid__=np.array('{"format": "lucid.save", "version": 99, "object": {}}'))
    with pytest.raises(ValueError, match="format version 99 is not 1"):
        lucid.load(path)


def test_unsupported_objects_are_refused_on_save():
    with pytest.raises(TypeError, match="lucid.save cannot store 'set'"):
        lucid.save({"s": {1, 2}}, io.BytesIO())
    with pytest.raises(TypeError, match="lucid.save cannot store object arrays"):
        lucid.save(np.array([None]), io.BytesIO())
