"""Tensors never share memory with the NumPy (or torch) arrays they were made from.

On CPU, ``jnp.asarray`` wraps an aligned NumPy buffer without copying on every JAX up to at
least 0.7 (memory that torch owns is always aligned), so a tensor made from ``t.numpy()``
changed when ``t`` was trained afterwards. ``torch.tensor`` copies; so does every way into
``lucid``. Each case writes to the source after the conversion and checks that the lucid side
kept the old values, beside torch where torch copies too.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn


def _torch_owned():
    """A NumPy view of memory that torch owns (aligned), and the torch tensor behind it."""
    source = torch.zeros(3, 2, 3, 3)
    return source, source.numpy()


def _plain():
    array = np.zeros((3, 2, 3, 3), np.float32)
    return array, array


SOURCES = {"torch-owned": _torch_owned, "numpy": _plain}


def test_the_jax_here_can_alias_torch_memory_or_the_tests_below_are_vacuous():
    """The control: on JAX versions whose ``jnp.asarray`` shares aligned NumPy memory (every
    JAX up to at least 0.7 on CPU, the floor included), a raw conversion sees the later
    write, so the tests below can fail there. Newer JAX copies; then this is skipped."""
    import jax.numpy as jnp

    owner, array = _torch_owned()
    raw = jnp.asarray(array)
    _write(owner)
    if float(raw.sum()) == 0:
        pytest.skip("this JAX copies NumPy input itself; the floor run has the aliasing one")
    assert float(raw.sum()) == 5 * array.size


def _write(owner):
    if isinstance(owner, torch.Tensor):
        owner.add_(5)
    else:
        owner += 5


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("make", [lucid.tensor, lucid.Tensor, lucid.from_numpy,
                                  lambda a: nn.Parameter(lucid.tensor(a))],
                         ids=["tensor", "Tensor", "from_numpy", "Parameter"])
def test_constructors_copy(source, make):
    owner, array = SOURCES[source]()
    held = make(array)
    reference = torch.tensor(array)  # torch.tensor copies
    _write(owner)
    np.testing.assert_array_equal(np.asarray(held), 0)
    np.testing.assert_array_equal(reference.numpy(), 0)


@pytest.mark.parametrize("source", SOURCES)
def test_assigning_data_copies(source):
    owner, array = SOURCES[source]()
    held = lucid.ones(3, 2, 3, 3)
    held.data = array
    _write(owner)
    np.testing.assert_array_equal(np.asarray(held), 0)


@pytest.mark.parametrize("as_numpy", [True, False], ids=["numpy values", "torch values"])
def test_loading_a_torch_state_dict_copies(as_numpy):
    """The script from the issue: load torch's weights, then train torch; lucid must keep them."""
    torch.manual_seed(0)
    source = torch.nn.Conv2d(2, 3, 3)
    model = nn.Conv2d(2, 3, 3)
    state = {k: v.detach().numpy() if as_numpy else v for k, v in source.state_dict().items()}
    model.load_state_dict(state)
    loaded = {k: np.array(v) for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in source.parameters():
            p.add_(5)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), loaded[key], err_msg=key)


def test_loading_optimizer_state_copies():
    model = nn.Linear(3, 2)
    optimizer = lucid.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    buffers = {i: torch.zeros(tuple(p.shape)).numpy() for i, p in enumerate(model.parameters())}
    state = optimizer.state_dict()
    state["state"] = {i: {"momentum_buffer": b} for i, b in buffers.items()}
    optimizer.load_state_dict(state)
    for buffer in buffers.values():
        buffer += 5
    for i in buffers:
        held = optimizer.state_dict()["state"][i]["momentum_buffer"]
        np.testing.assert_array_equal(np.asarray(held), 0, err_msg=str(i))


def test_loaded_tensors_do_not_change_when_the_source_changes():
    buffer = io.BytesIO()
    lucid.save({"w": lucid.zeros(4)}, buffer)
    buffer.seek(0)
    loaded = lucid.load(buffer)["w"]
    buffer.seek(0)
    lucid.save({"w": lucid.ones(4)}, buffer)
    np.testing.assert_array_equal(np.asarray(loaded), 0)
