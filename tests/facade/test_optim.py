"""lucid.optim against torch.optim: 100 steps of each variant, groups, skipping, state dicts."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import torch

import lucid

STEPS = 100
VARIANTS = {
    "sgd": ("SGD", dict(lr=0.05)),
    "sgd_momentum_wd": ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_dampening_maximize": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3,
                                           maximize=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_l2_betas": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_amsgrad_maximize": ("AdamW", dict(lr=0.01, weight_decay=0.05, amsgrad=True,
                                             maximize=True)),
}


def quartic(lib, params, targets):
    """A loss with changing curvature, so the optimisers' state matters."""
    return sum(((p - t) ** 4).sum() + (p * p).sum() * 0.1 for p, t in zip(params, targets,
                                                                       strict=True))


def run(lib, name, options, data, targets, steps=STEPS):
    params = [lib.nn.Parameter(lib.tensor(d)) for d in data]
    opt = getattr(lib.optim, name)(params, **options)
    targets = [lib.tensor(t) for t in targets]
    for _ in range(steps):
        opt.zero_grad()
        loss = quartic(lib, params, targets)
        (-loss if options.get("maximize") else loss).backward()   # maximize climbs -loss
        opt.step()
    return params, opt


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hundred_steps_match_torch(variant, rng):
    name, options = VARIANTS[variant]
    data = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    targets = [rng.standard_normal(d.shape).astype(np.float32) for d in data]
    ours, opt = run(lucid, name, options, data, targets)
    theirs, ref = run(torch, name, options, data, targets)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=2e-6, atol=2e-6)
    ours_state, their_state = opt.state_dict(), ref.state_dict()
    assert list(ours_state["state"]) == list(their_state["state"])   # SGD's is empty
    for i, entry in their_state["state"].items():
        assert list(ours_state["state"][i]) == list(entry)            # PyTorch's key order
        for key, value in entry.items():
            np.testing.assert_allclose(ours_state["state"][i][key].numpy(), value.numpy(),
                                       rtol=2e-5, atol=2e-6, err_msg=key)
    assert ours_state["param_groups"][0]["params"] == [0, 1]


def test_steady_stateless_steps_trace_nothing(monkeypatch):
    """SGD without momentum stores no state, yet its later steps reuse the first one's
    tracing: no ``jax.eval_shape`` (the initial state's shapes) after the first."""
    params = [lucid.nn.Parameter(lucid.ones(i + 1)) for i in range(3)]
    opt = lucid.optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = lucid.ones(p.shape)
    opt.step()
    calls = []
    eval_shape = jax.eval_shape
    monkeypatch.setattr(jax, "eval_shape", lambda *a, **k: calls.append(a) or eval_shape(*a, **k))
    for _ in range(3):
        opt.step()
    assert calls == []
    assert opt.state_dict()["state"] == {}


@pytest.mark.parametrize("name, options", [
    ("SGD", {}), ("SGD", dict(momentum=0.9)), ("Adam", {}), ("AdamW", dict(weight_decay=0.0)),
    ("Adam", dict(weight_decay=0.1)), ("SGD", dict(weight_decay=0.1))])
def test_an_infinite_parameter_stays_infinite_like_torch(name, options):
    """A zero weight decay is skipped (no ``0 * inf``), as PyTorch does."""
    results = []
    for lib in (lucid, torch):
        w = lib.nn.Parameter(lib.tensor([float("inf"), 1.0]))
        opt = getattr(lib.optim, name)([w], lr=0.1, **options)
        w.grad = lib.ones(2)
        opt.step()
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_a_parameter_without_a_gradient_is_skipped_entirely():
    used, unused = (lucid.nn.Parameter(lucid.ones(2)) for _ in range(2))
    opt = lucid.optim.AdamW([used, unused], lr=0.1, weight_decay=0.5)
    (used * 3).sum().backward()
    opt.step()
    assert unused.tolist() == [1.0, 1.0] and unused not in opt.state
    assert opt.state[used]["step"].item() == 1.0


@pytest.mark.parametrize("variant", ["sgd_dampening_maximize", "adam_amsgrad"])
def test_a_parameter_that_starts_late_starts_like_torch(variant, rng):
    """One group, one parameter without a gradient at first: its first buffer (or step count)
    starts when its gradient arrives, while the other's continues."""
    name, options = VARIANTS[variant]
    data = [rng.standard_normal(3).astype(np.float32) for _ in range(2)]
    results = []
    for lib in (lucid, torch):
        a, b = (lib.nn.Parameter(lib.tensor(d)) for d in data)
        opt = getattr(lib.optim, name)([a, b], **options)
        for i in range(4):
            opt.zero_grad()
            loss = (a * a * a).sum() + ((b * b).sum() if i >= 2 else 0)
            loss.backward()
            opt.step()
        results.append([np.asarray(p.detach().numpy() if lib is torch else p.numpy())
                        for p in (a, b)])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("variant", ["adam", "adam_amsgrad", "adamw"])
def test_bfloat16_parameters_follow_torch(variant, rng):
    """The bias corrections are computed in float32, as PyTorch's Python floats: in bfloat16,
    ``0.999`` rounds to 1 and ``1 - b2 ** t`` to 0."""
    name, options = VARIANTS[variant]
    data = rng.standard_normal(50).astype(np.float32)
    results = []
    for lib in (lucid, torch):
        w = lib.nn.Parameter(lib.tensor(data).to(lib.bfloat16))
        opt = getattr(lib.optim, name)([w], **options)
        for _ in range(30):
            opt.zero_grad()
            ((w.float() - 0.3) ** 4).sum().backward()
            opt.step()
        results.append(np.asarray((w.detach() if lib is torch else w).float().numpy()))
    np.testing.assert_allclose(*results, atol=0.04)   # a few bfloat16 steps near 1


def test_param_groups_take_their_own_hyperparameters_like_torch(rng):
    data = [rng.standard_normal(3).astype(np.float32) for _ in range(2)]
    results = []
    for lib in (lucid, torch):
        a, b = (lib.nn.Parameter(lib.tensor(d)) for d in data)
        opt = lib.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.5)
        for _ in range(3):
            opt.zero_grad()
            ((a * a).sum() + (b * b * b).sum()).backward()
            opt.step()
        opt.param_groups[0]["lr"] = 0.01       # a scheduler's write is read at the next step
        opt.zero_grad()
        ((a * a).sum() + (b * b * b).sum()).backward()
        opt.step()
        results.append([np.asarray(p.detach().numpy() if lib is torch else p.numpy())
                        for p in (a, b)])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_state_dict_round_trips_between_lucid_and_torch(rng):
    data = [rng.standard_normal((2, 3)).astype(np.float32)]
    targets = [np.zeros((2, 3), np.float32)]
    ours, opt = run(lucid, "Adam", dict(lr=0.01), data, targets, steps=5)
    theirs, ref = run(torch, "Adam", dict(lr=0.01), data, targets, steps=5)
    fresh_params = [lucid.nn.Parameter(lucid.tensor(p.detach().numpy())) for p in theirs]
    fresh = lucid.optim.Adam(fresh_params, lr=0.5)
    fresh.load_state_dict(ref.state_dict())          # torch's tensors and extra group keys
    assert fresh.param_groups[0]["lr"] == 0.01 and fresh.param_groups[0]["params"][0] is \
        fresh_params[0]
    for _ in range(5):
        for o, params, targets_ in ((fresh, fresh_params, [lucid.zeros(2, 3)]),
                                    (ref, theirs, [torch.zeros(2, 3)])):
            o.zero_grad()
            quartic(torch if o is ref else lucid, params, targets_).backward()
            o.step()
    np.testing.assert_allclose(fresh_params[0].numpy(), theirs[0].detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert fresh.state[fresh_params[0]]["step"].dtype == np.float32


def test_bad_state_dicts_raise_and_change_nothing():
    w = lucid.nn.Parameter(lucid.ones(2))
    opt = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
    before = opt.state_dict()
    cases = [
        ({"state": {}, "param_groups": []}, "different number of parameter groups"),
        ({"state": {}, "param_groups": [{**before["param_groups"][0], "params": [0, 1]}]},
         "doesn't match the size of optimizer's group"),
        ({"state": {7: {"momentum_buffer": np.ones(2)}}, "param_groups":
          before["param_groups"]}, r"state for parameter indices \[7\]"),
    ]
    for state_dict, message in cases:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(state_dict)
        assert opt.state_dict() == before


CONSTRUCTION_ERRORS = [
    (lambda lib, p: lib.optim.SGD(p, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda lib, p: lib.optim.SGD(p, momentum=-0.5), ValueError,
     "Invalid momentum value: -0.5"),
    (lambda lib, p: lib.optim.SGD(p, weight_decay=-1), ValueError,
     "Invalid weight_decay value: -1"),
    (lambda lib, p: lib.optim.SGD(p, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda lib, p: lib.optim.Adam(p, eps=-1), ValueError, "Invalid epsilon value: -1"),
    (lambda lib, p: lib.optim.Adam(p, betas=(1.0, 0.9)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda lib, p: lib.optim.AdamW(p, betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1: -0.1"),
    (lambda lib, p: lib.optim.Adam(p, weight_decay=-1), ValueError,
     "Invalid weight_decay value: -1"),
    (lambda lib, p: lib.optim.SGD([], lr=0.1), ValueError,
     "optimizer got an empty parameter list"),
    (lambda lib, p: lib.optim.SGD([{"params": set(p)}]), TypeError,
     "ordering of tensors in sets"),
    (lambda lib, p: lib.optim.SGD(p[0]), TypeError,
     "params argument given to the optimizer should be an iterable of Tensors or dicts"),
    (lambda lib, p: lib.optim.SGD([1.0]), TypeError,
     "optimizer can only optimize Tensors, but one of the params is float"),
    (lambda lib, p: lib.optim.SGD([p[0] * 2]), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda lib, p: lib.optim.SGD([{"params": p}, {"params": p}]), ValueError,
     "some parameters appear in more than one parameter group"),
]


@pytest.mark.parametrize("index", range(len(CONSTRUCTION_ERRORS)))
def test_construction_errors_match_torch(index):
    build, kind, message = CONSTRUCTION_ERRORS[index]
    for lib in (torch, lucid):
        params = [lib.nn.Parameter(lib.ones(2))]
        with pytest.raises(kind, match=message):
            build(lib, params)


def test_closure_runs_with_grad_and_returns_the_loss():
    w = lucid.nn.Parameter(lucid.tensor([2.0]))
    opt = lucid.optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with lucid.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == 1.0
    assert "SGD (" in repr(opt) and "lr: 0.25" in repr(opt)
