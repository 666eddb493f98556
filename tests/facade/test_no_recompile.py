"""Steady training compiles nothing: after the first step at a shape, later steps at that shape
trigger no XLA compilation, counted by JAX's own monitoring event (never by timing)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import lucid

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # jax 0.5.2 to 0.10 at least
_compiles: list[str] = []
_recording = [False]


def _listener(event: str, duration: float, **kwargs: object) -> None:
    if _recording[0] and event == COMPILE_EVENT:
        _compiles.append(event)


jax.monitoring.register_event_duration_secs_listener(_listener)  # a no-op outside a window

OPTIMISERS = {
    "sgd": lambda p: lucid.optim.SGD(p, lr=0.01),
    "sgd_momentum": lambda p: lucid.optim.SGD(p, lr=0.01, momentum=0.9),
    "sgd_dampening_wd": lambda p: lucid.optim.SGD(p, lr=0.01, momentum=0.9, dampening=0.1,
                                                  weight_decay=1e-4),
    "adam": lambda p: lucid.optim.Adam(p, lr=1e-3),
    "adam_amsgrad": lambda p: lucid.optim.Adam(p, lr=1e-3, amsgrad=True),
    "adamw": lambda p: lucid.optim.AdamW(p, lr=1e-3),
}


def compilations(run) -> int:
    """How many XLA compilations ``run()`` triggers."""
    _compiles.clear()
    _recording[0] = True
    try:
        run()
    finally:
        _recording[0] = False
    return len(_compiles)


def test_the_compile_counter_sees_a_compilation():
    """The control: a function never compiled before is counted, so a zero below means
    nothing compiled (not that the event went unseen)."""
    fresh = jax.jit(lambda x: x * 3.25 + 0.125)
    assert compilations(lambda: fresh(np.ones(7, np.float32))) > 0


@pytest.mark.parametrize("backwards", [1, 2], ids=["one_backward", "two_backwards"])
@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_steps_after_the_first_compile_nothing(rng, name, backwards):
    lucid.manual_seed(0)
    model = lucid.nn.Sequential(
        lucid.nn.Conv2d(3, 8, 3, padding=1), lucid.nn.InstanceNorm2d(8, affine=True),
        lucid.nn.ReLU(), lucid.nn.Conv2d(8, 2, 3, padding=1))
    opt = OPTIMISERS[name](model.parameters())

    def batch(size):
        return (lucid.tensor(rng.standard_normal((2, 3, size, size)).astype(np.float32)),
                lucid.tensor(rng.standard_normal((2, 2, size, size)).astype(np.float32)))

    def step(x, target):
        opt.zero_grad()
        for _ in range(backwards):   # gradients accumulated over the calls
            loss = ((model(x) - target) ** 2).mean()
            loss.backward()
        opt.step()
        return loss.item()

    small, large = batch(8), batch(12)
    step(*small)                                          # the first step compiles
    assert compilations(lambda: [step(*small) for _ in range(9)]) == 0
    step(*large)                                          # a new shape may compile, once
    assert compilations(lambda: [step(*large) for _ in range(3)]) == 0
    assert compilations(lambda: step(*small)) == 0        # the first shape is still cached
    assert all(np.isfinite(p.numpy()).all() for p in model.parameters())


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_a_scheduler_step_compiles_nothing(rng, name):
    """The learning rate is a traced hyperparameter of the chain: a scheduler's new value is
    read at the next step without compiling."""
    lucid.manual_seed(0)
    model = lucid.nn.Linear(4, 2)
    opt = OPTIMISERS[name](model.parameters())
    schedule = lucid.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x = lucid.tensor(rng.standard_normal((3, 4)).astype(np.float32))

    def step():
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
        schedule.step()

    step()                                                # the first step compiles
    assert compilations(lambda: [step() for _ in range(3)]) == 0
    assert opt.param_groups[0]["lr"] == OPTIMISERS[name](model.parameters()).defaults["lr"] / 16
