"""In-place operations, the tape under mutation, storage sharing, and thread-local grad mode."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import lucid


def pair(array, requires_grad=False):
    array = np.asarray(array, np.float32)
    return (lucid.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


INPLACE = {
    "iadd": lambda t, o: t.__iadd__(o),
    "isub": lambda t, o: t.__isub__(o),
    "imul": lambda t, o: t.__imul__(o),
    "itruediv": lambda t, o: t.__itruediv__(o),
    "add_": lambda t, o: t.add_(o, alpha=-0.5),
    "sub_": lambda t, o: t.sub_(o, alpha=2.0),
    "mul_": lambda t, o: t.mul_(o),
    "div_": lambda t, o: t.div_(o),
    "copy_": lambda t, o: t.copy_(o),
    "clamp_": lambda t, o: t.clamp_(-0.3, 0.4),
    "fill_": lambda t, o: t.fill_(2.5),
    "zero_": lambda t, o: t.zero_(),
}


@pytest.mark.parametrize("op", INPLACE)
def test_in_place_ops_mutate_the_same_tensor_like_torch(op, rng):
    ours, theirs = pair(rng.standard_normal((3, 4)))
    other = rng.standard_normal((1, 4)).astype(np.float32) + 2
    version = ours._version
    result = INPLACE[op](ours, lucid.tensor(other))
    INPLACE[op](theirs, torch.tensor(other))
    assert result is ours and ours._version == version + 1
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_the_tutorial_update_under_no_grad_changes_the_parameter(rng):
    w = lucid.nn.Parameter(lucid.tensor(rng.standard_normal(3).astype(np.float32)))
    before = w.numpy().copy()
    (w * w).sum().backward()
    params = [w]
    for p in params:
        with lucid.no_grad():
            p -= 0.1 * p.grad
    assert params[0] is w and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.numpy(), before * 0.8, rtol=1e-6)


def test_in_place_on_a_leaf_that_requires_grad_raises_torchs_error_and_changes_nothing():
    ours, theirs = pair([1.0, 2.0], requires_grad=True)
    message = "a leaf Variable that requires grad is being used in an in-place operation."
    with pytest.raises(RuntimeError, match=message):
        theirs.add_(1)
    with pytest.raises(RuntimeError, match=message):
        ours.add_(1)
    assert ours.tolist() == [1.0, 2.0] and ours._version == 0


def test_shape_and_dtype_errors_match_torch():
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                       r"broadcast shape \[2, 3\]"):
        lucid.zeros(3).add_(lucid.ones(2, 3))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                       "output type Int"):
        lucid.tensor([1, 2], dtype=lucid.int32).mul_(1.5)


def test_in_place_on_a_non_leaf_records_like_torch(rng):
    data = rng.standard_normal(4).astype(np.float32)
    other = rng.standard_normal(4).astype(np.float32)
    cotangent = rng.standard_normal(4).astype(np.float32)
    grads = []
    for lib in (lucid, torch):
        w = lib.tensor(data, requires_grad=True)
        b = lib.tensor(other, requires_grad=True)
        h = w * 2
        h += b * w            # the non-leaf h adopts the new node
        h.mul_(3)
        h[1:3] = b[:2] * 5    # setitem is in place too
        h.backward(lib.tensor(cotangent))
        grads.append((np.asarray(w.grad), np.asarray(b.grad)))
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_accumulating_into_a_fresh_tensor_makes_a_non_leaf():
    w = lucid.tensor([1.0, 2.0], requires_grad=True)
    x = lucid.zeros(2)
    x += w * 3
    assert x.requires_grad and not x.is_leaf
    x.backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_the_tape_holds_immutable_values_so_mutation_after_use_cannot_corrupt_gradients(rng):
    """PyTorch raises its version-counter error here; the recorded JAX values never change,
    so lucid returns the gradient at the values the forward pass used."""
    data = rng.standard_normal(3).astype(np.float32)
    w = lucid.tensor(data, requires_grad=True)
    y = w * 1.0
    z = y * y                  # saves y's value for backward
    with lucid.no_grad():
        y.mul_(100.0)          # mutates y after it was used
    z.backward()
    np.testing.assert_allclose(w.grad, 2 * data, rtol=1e-6)
    reference = torch.tensor(data, requires_grad=True)
    ry = reference * 1.0
    rz = ry * ry
    with torch.no_grad():
        ry.mul_(100.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        rz.sum().backward()


def test_earlier_graphs_reach_the_old_node_after_an_in_place_change():
    w = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    z = y * 3
    y.add_(w)                  # y is now w * 2 + w; z still depends on the old y
    z.backward()
    assert w.grad.tolist() == [6.0, 6.0]


def test_detach_shares_storage_like_torch():
    ours, theirs = pair([1.0, 2.0], requires_grad=True)
    ours.detach().zero_()
    theirs.detach().zero_()
    assert ours.tolist() == theirs.tolist() == [0.0, 0.0]
    assert ours.requires_grad and ours._version == 1


def test_indexing_returns_a_copy_so_in_place_on_it_does_not_write_through():
    x = lucid.zeros(2, 2)
    x[0].add_(1)               # PyTorch's view would write through; lucid's index is a copy
    assert x.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    x[0] = 1.0
    assert x.tolist() == [[1.0, 1.0], [0.0, 0.0]]


def test_grad_mode_is_thread_local():
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def no_grad_thread():
        with lucid.no_grad():
            inside.set()
            outside.wait(10)
            seen["no_grad thread"] = lucid.is_grad_enabled()

    def other_thread():
        inside.wait(10)
        w = lucid.tensor([1.0], requires_grad=True)
        seen["other thread"] = (w * 2).requires_grad
        outside.set()

    threads = [threading.Thread(target=no_grad_thread), threading.Thread(target=other_thread)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"no_grad thread": False, "other thread": True}
    assert lucid.is_grad_enabled()


def test_set_grad_enabled_enable_grad_and_restoring_the_previous_mode():
    w = lucid.tensor([1.0], requires_grad=True)
    with lucid.no_grad():
        with lucid.enable_grad():
            assert (w * 2).requires_grad
        assert not lucid.is_grad_enabled()
        with lucid.set_grad_enabled(True):
            assert lucid.is_grad_enabled()
        assert not lucid.is_grad_enabled()
    lucid.set_grad_enabled(False)
    try:
        assert not (w * 2).requires_grad
    finally:
        lucid.set_grad_enabled(True)
    assert (w * 2).requires_grad


def test_decorators_cover_functions_and_every_step_of_a_generator():
    @lucid.no_grad()
    def steps():
        for _ in range(2):
            yield lucid.is_grad_enabled()

    @lucid.set_grad_enabled(False)
    def off():
        return lucid.is_grad_enabled()

    assert lucid.is_grad_enabled()          # decorating changed nothing
    generator = steps()
    assert next(generator) is False and lucid.is_grad_enabled()
    assert next(generator) is False and lucid.is_grad_enabled()
    assert off() is False and lucid.is_grad_enabled()


def test_requires_grad_flags_of_non_leaves_cannot_be_cleared():
    y = lucid.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        y.requires_grad_(False)
    assert y.requires_grad_(True) is y
