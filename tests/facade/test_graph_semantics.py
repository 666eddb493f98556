"""PyTorch's graph and gradient semantics: a freed graph, retain_graph, autograd.grad,
graph-less ``.grad``/``.data``, and ``nn.utils`` gradient clipping, each beside torch 2.13."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import lucid
import lucid.nn.utils

FREED = "Trying to backward through the graph a second time"


def normed(lib, x, w, b, cot):
    """A loss with a random cotangent on an affine instance norm (never ``sum`` of it)."""
    return (lib.nn.functional.instance_norm(x, weight=w, bias=b) * cot).sum()


def pair(rng, *shape):
    value = rng.standard_normal(shape).astype(np.float32)
    return lucid.tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)


def test_second_backward_raises_torchs_error_and_retain_graph_accumulates(rng):
    cot = rng.standard_normal((2, 3, 7)).astype(np.float32)
    (x, tx), (w, tw), (b, tb) = pair(rng, 2, 3, 7), pair(rng, 3), pair(rng, 3)
    loss = normed(lucid, x, w, b, lucid.tensor(cot))
    tloss = normed(torch, tx, tw, tb, torch.tensor(cot))
    loss.backward(retain_graph=True)
    tloss.backward(retain_graph=True)
    loss.backward()
    tloss.backward()
    for mine, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)
    grads = [p.grad.numpy().copy() for p in (x, w, b)]
    with pytest.raises(RuntimeError) as theirs:
        tloss.backward()
    with pytest.raises(RuntimeError, match=FREED) as mine:
        loss.backward()
    assert str(mine.value) == str(theirs.value)
    for p, before in zip((x, w, b), grads, strict=True):   # the refused call changed nothing
        np.testing.assert_array_equal(p.grad.numpy(), before)


@pytest.mark.parametrize(("loss", "raises"), [
    (lambda x: (x * 2).sum(), True), (lambda x: (x * x).sum(), True),
    (lambda x: (x + 1).sum(), False), (lambda x: x.reshape(3, 1).sum(), False)],
    ids=["mul_scalar", "mul", "add", "reshape"])
def test_only_graphs_that_saved_values_refuse_a_second_backward_as_torchs(loss, raises):
    grads = []
    for lib in (lucid, torch):
        x = lib.ones(3, requires_grad=True)
        y = loss(x)
        y.backward()
        if raises:
            with pytest.raises(RuntimeError, match=FREED):
                y.backward()
        else:
            y.backward()                           # nothing saved, nothing freed: accumulates
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]


def test_a_shared_subgraph_freed_by_one_backward_refuses_the_next(rng):
    (x, tx) = pair(rng, 4)
    for leaf in (x, tx):
        h = leaf.exp()
        h.sum().backward()
        with pytest.raises(RuntimeError, match=FREED):
            (h * 2).sum().backward()
    h = x.exp()                                   # a new forward builds a new graph
    (h * 2).sum().backward()


def test_autograd_grad_matches_torch_and_leaves_grad_alone(rng):
    (x, tx), (w, tw), (b, tb) = pair(rng, 2, 3, 5), pair(rng, 3), pair(rng, 3)
    cot = rng.standard_normal((2, 3, 5)).astype(np.float32)
    y = lucid.nn.functional.instance_norm(x, weight=w, bias=b)
    ty = torch.nn.functional.instance_norm(tx, weight=tw, bias=tb)
    z, tz = (y * y).sum(), (ty * ty).sum()
    mine = lucid.autograd.grad([y, z], [x, w, y], grad_outputs=[cot, None], retain_graph=True)
    theirs = torch.autograd.grad([ty, tz], [tx, tw, ty], grad_outputs=[torch.tensor(cot), None],
                                 retain_graph=True)
    for m, t in zip(mine, theirs, strict=True):
        assert isinstance(m, lucid.Tensor) and not m.requires_grad
        np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-5, atol=1e-5)
    assert x.grad is None and w.grad is None
    (gb,) = lucid.autograd.grad(z, b)                      # retained above; freed now
    np.testing.assert_allclose(gb.numpy(), torch.autograd.grad(tz, tb)[0].numpy(), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(RuntimeError, match=FREED):
        lucid.autograd.grad(z, b)


def test_autograd_grad_errors_are_torchs(rng):
    (a, ta), (b, tb) = pair(rng, 2), pair(rng, 2)
    plain, tplain = lucid.ones(2), torch.ones(2)
    for args, targs in (([a, b], [ta, tb]), ([plain], [tplain])):
        with pytest.raises(RuntimeError) as theirs:
            torch.autograd.grad((ta * 2).sum(), targs)
        with pytest.raises(RuntimeError) as mine:
            lucid.autograd.grad((a * 2).sum(), args)
        assert str(mine.value) == str(theirs.value)
    unused = lucid.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert unused[0].tolist() == [2.0, 2.0] and unused[1] is None
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        lucid.autograd.grad(plain.sum(), [a])
    with pytest.raises(RuntimeError, match="one grad_output per output: got 2 grad_outputs"):
        lucid.autograd.grad((a * 2).sum(), [a], grad_outputs=[None, None])
    with pytest.raises(NotImplementedError, match="create_graph=True .* is not supported"):
        lucid.autograd.grad((a * 2).sum(), [a], create_graph=True)
    with pytest.raises(NotImplementedError, match="create_graph=True .* is not supported"):
        (a * 2).sum().backward(create_graph=True)


def test_grad_and_data_are_graphless_tensors_like_torchs(rng):
    value = rng.standard_normal((3, 4)).astype(np.float32)
    cot = rng.standard_normal((3, 4)).astype(np.float32)
    results = []
    for lib in (lucid, torch):
        p = lib.nn.Parameter(lib.tensor(value))
        (p * p * lib.tensor(cot)).sum().backward()
        held = p.grad
        assert isinstance(held, lib.Tensor) and not held.requires_grad
        norm = p.grad.norm() + p.grad.norm(p=1, dim=0).sum()
        p.grad.mul_(0.5)
        assert held is p.grad                      # scaled in place, the same object
        results.append((float(norm), np.asarray(p.grad).copy()))
        with lib.no_grad():
            p.data.fill_(0)
        assert not p.data.requires_grad and p.requires_grad and p.is_leaf
        p.data.copy_(lib.tensor(value) * 2)       # grad on: still no gradient recorded
        results.append(p.detach().numpy().copy())
        (p * lib.tensor(cot)).sum().backward()     # only this call adds to the gradient
        results.append(p.grad.numpy().copy())
        p.grad.zero_()
        results.append(p.grad.numpy().copy())
    half = len(results) // 2
    for mine, theirs in zip(results[:half], results[half:], strict=True):
        if isinstance(mine, tuple):
            assert mine[0] == pytest.approx(theirs[0], rel=1e-6)
            mine, theirs = mine[1], theirs[1]
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)


def test_data_assignment_and_grad_assignment_accept_arrays():
    p = lucid.nn.Parameter(lucid.zeros(2))
    p.grad = np.array([1.0, 2.0], np.float32)
    assert isinstance(p.grad, lucid.Tensor) and p.grad.tolist() == [1.0, 2.0]
    p.grad = lucid.tensor([3.0, 4.0], requires_grad=True) * 1
    assert not p.grad.requires_grad and p.grad.tolist() == [3.0, 4.0]
    p.data = lucid.tensor([5.0, 6.0])
    assert p.tolist() == [5.0, 6.0] and p.requires_grad


@pytest.mark.parametrize("bad", [np.zeros(3, np.float32), np.zeros(2, np.int32)],
                         ids=["size", "dtype"])
def test_assigning_a_mismatched_grad_raises_torchs_error_and_keeps_the_old_one(bad):
    p, tp = lucid.nn.Parameter(lucid.ones(2)), torch.nn.Parameter(torch.ones(2))
    p.grad, tp.grad = lucid.ones(2), torch.ones(2)
    with pytest.raises(RuntimeError) as theirs:
        tp.grad = torch.tensor(bad)
    prefix = str(theirs.value).split(" to a tensor")[0].replace("'int'", "'Int'")
    with pytest.raises(RuntimeError, match=prefix.replace("[", r"\[").replace("]", r"\]")):
        p.grad = bad
    assert p.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(rng, norm_type, max_norm):
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    totals, clipped = [], []
    for lib, clip in ((lucid, lucid.nn.utils.clip_grad_norm_),
                      (torch, torch.nn.utils.clip_grad_norm_)):
        params = [lib.nn.Parameter(lib.zeros(*s)) for s in shapes]
        params.append(lib.nn.Parameter(lib.zeros(2)))          # no grad: skipped
        for p, g in zip(params, grads, strict=False):
            p.grad = lib.tensor(g)
        totals.append(float(clip(params, max_norm, norm_type=norm_type)))
        clipped.append([p.grad.numpy() for p in params[:3]])
        assert params[3].grad is None
    assert totals[0] == pytest.approx(totals[1], rel=1e-6)
    for mine, theirs in zip(*clipped, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_non_finite_is_torchs():
    results = []
    for lib, clip in ((lucid, lucid.nn.utils.clip_grad_norm_),
                      (torch, torch.nn.utils.clip_grad_norm_)):
        p = lib.nn.Parameter(lib.zeros(3))
        p.grad = lib.tensor([float("nan"), 1.0, 1.0])
        with pytest.raises(RuntimeError) as error:
            clip([p], 1.0, error_if_nonfinite=True)
        results.append((str(error.value), p.grad.numpy().copy()))
        q = lib.nn.Parameter(lib.zeros(3))
        q.grad = lib.ones(3)
        results.append((float(clip(q, float("nan"))), q.grad.numpy().copy()))  # torch: NaN
        results.append((float(clip([], 1.0)), None))
    assert "is non-finite, so it cannot be clipped" in results[0][0]
    for (m, mg), (t, tg) in zip(results[:3], results[3:], strict=True):
        assert m == t or (m != m and t != t)  # noqa: PLR0124  (NaN equals NaN here)
        if mg is not None:
            np.testing.assert_array_equal(mg, tg)  # unchanged by the refusal; NaN after nan


def test_clip_grad_value_matches_torch(rng):
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in ((3, 4), (5,))]
    out = []
    for lib in (lucid, torch):
        params = [lib.nn.Parameter(lib.tensor(g)) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = lib.tensor(g)
        assert lib.nn.utils.clip_grad_value_(params, 1.5) is None
        out.append([p.grad.numpy() for p in params])
    for mine, theirs in zip(*out, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_autograd_grad_needs_grad_outputs_for_a_non_scalar_output():
    for lib in (torch, lucid):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
            lib.autograd.grad(x * 2, x)


@pytest.mark.parametrize("as_array", [np.asarray, lambda a: a], ids=["numpy", "tensor"])
def test_autograd_grad_takes_one_array_as_the_grad_output(as_array):
    ours = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    theirs = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    cotangent = np.array([0.5, -1.0, 2.0], np.float32)
    [g] = lucid.autograd.grad(ours * ours, ours, as_array(lucid.tensor(cotangent)))
    [h] = torch.autograd.grad(theirs * theirs, theirs, torch.tensor(cotangent))
    np.testing.assert_allclose(np.asarray(g), h.numpy())


def test_backward_accumulates_into_the_existing_grad_tensor():
    """A reference to ``p.grad`` taken before the second backward sees the sum, as in torch."""
    for lib in (torch, lucid):
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        (p * 3).sum().backward()
        held = p.grad
        (p * 2).sum().backward()
        assert held is p.grad
        np.testing.assert_allclose(np.asarray(held), [5.0, 5.0])


def _inputs_case(lib, x, w, b, cot):
    """A non-leaf ``h`` on the path, so ``inputs`` can name one."""
    h = x * 2.0
    return h, normed(lib, h, w, b, cot)


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
@pytest.mark.parametrize("names, bare", [(("x",), True), (("x",), False), (("w", "b"), False),
                                         (("h",), True), (("h", "w"), False)])
def test_backward_inputs_accumulates_only_into_them_like_torch(rng, names, bare):
    cot = rng.standard_normal((2, 3, 7)).astype(np.float32)
    (x, tx), (w, tw), (b, tb) = pair(rng, 2, 3, 7), pair(rng, 3), pair(rng, 3)
    h, loss = _inputs_case(lucid, x, w, b, lucid.tensor(cot))
    th, tloss = _inputs_case(torch, tx, tw, tb, torch.tensor(cot))
    ours = {"x": x, "w": w, "b": b, "h": h}
    theirs = {"x": tx, "w": tw, "b": tb, "h": th}
    for _ in range(2):  # the second pass accumulates into the first's .grad
        loss.backward(inputs=ours[names[0]] if bare else [ours[n] for n in names],
                      retain_graph=True)
        tloss.backward(inputs=theirs[names[0]] if bare else [theirs[n] for n in names],
                       retain_graph=True)
    for name in ours:
        if theirs[name].grad is None:
            assert ours[name].grad is None, name
        else:
            np.testing.assert_allclose(ours[name].grad.numpy(), theirs[name].grad.numpy(),
                                       rtol=1e-5, atol=1e-5)


def test_backward_inputs_counts_a_tensor_listed_twice_once_like_torch(rng):
    (x, tx) = pair(rng, 3)
    (x * x).sum().backward(inputs=[x, x])
    (tx * tx).sum().backward(inputs=[tx, tx])
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_backward_inputs_leaves_an_unused_tensor_alone_like_torch(rng):
    (x, tx), (unused, tunused) = pair(rng, 3), pair(rng, 2)
    (x * x).sum().backward(inputs=[x, unused])
    (tx * tx).sum().backward(inputs=[tx, tunused])
    assert unused.grad is None and tunused.grad is None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("inputs, message", [
    ([], "`inputs` argument to `backward()` cannot be empty."),
    ("constant", "can't retain_grad on Tensor that has requires_grad=False"),
])
def test_backward_inputs_errors_are_torchs(rng, inputs, message):
    (x, tx) = pair(rng, 3)
    for lib, leaf in ((lucid, x), (torch, tx)):
        chosen = [lib.ones(3)] if inputs == "constant" else inputs
        loss = (leaf * leaf).sum()
        with pytest.raises(RuntimeError, match=re.escape(message)):
            loss.backward(inputs=chosen)
    assert x.grad is None
