"""Eager facade costs: one ``InstanceNorm2d`` call, and one training step of the example net.

``training_step_times()`` times one step (zero_grad, forward, cross entropy, backward,
SGD-with-momentum step) of ``examples/train_imperative.py``'s net under lucid and torch, and
the same step written as one jitted JAX function (the floor the facade is measured against).
The first step is timed in a fresh process each (``--first-step BACKEND [--cache DIR]``), the
jitted functional step's too (``--first-step jitted``: its compile time is the floor for any
design that compiles the step); with ``lucid.enable_compilation_cache(DIR)`` a second process
loads the compiled kernels.

``facade_overhead()`` times, interleaved so that machine noise hits both alike, one eager
facade call ``norm(x)`` (a ``lucid.Tensor`` in, a ``lucid.Tensor`` out) and one call of
``jax.jit(lucid_jax.instance_norm)`` on the same ``(2, 8, 16, 16)`` array, each until its
result is ready, and returns the medians. Run ``python benchmarks/facade.py`` to print them.
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import optax

import lucid
import lucid.nn as nn
import lucid_jax


def _time(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def facade_overhead(shape: tuple[int, ...] = (2, 8, 16, 16), rounds: int = 50,
                    repeats: int = 100, affine: bool = False) -> dict[str, float]:
    """Median seconds per call of the eager facade and of the jitted core, and their ratio.

    With ``affine=True`` the module has parameters that require grad, so each facade call
    also records its pullback on the tape (the core is then given the same weight and bias).
    """
    norm = nn.InstanceNorm2d(shape[1], affine=affine)
    x = lucid.randn(*shape)
    core = jax.jit(lucid_jax.instance_norm)
    weight = None if norm.weight is None else jnp.asarray(norm.weight)
    bias = None if norm.bias is None else jnp.asarray(norm.bias)

    def facade_call():
        jnp.asarray(norm(x)).block_until_ready()

    def core_call():
        core(jnp.asarray(x), None, None, weight, bias).block_until_ready()

    facade_call(), core_call()  # compile
    facade, jitted = [], []
    for _ in range(rounds):
        facade.append(_time(facade_call, repeats))
        jitted.append(_time(core_call, repeats))
    facade_s, core_s = statistics.median(facade), statistics.median(jitted)
    return {"facade_s": facade_s, "jitted_core_s": core_s, "ratio": facade_s / core_s}


EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _setup(backend: str):
    """The example's model, data and a step function under ``backend``."""
    sys.path.insert(0, str(EXAMPLE))
    example = importlib.import_module("train_imperative")
    lib = importlib.import_module(backend)
    model = example.build(lib)
    model.load_state_dict({k: lib.tensor(v) for k, v in example.initial_state(model).items()})
    images, labels = example.data()
    x, y = lib.tensor(images), lib.tensor(labels)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()
    return example, model, images, labels, step


def _functional_step(example, lucid_model, images, labels):
    """The same step as one jitted function of (params, momentum buffers, data)."""
    params = {k: jnp.asarray(v) for k, v in lucid_model.state_dict().items()
              if "running" not in k and "num_batches" not in k}

    def forward(p, x):
        conv = dict(dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = jax.lax.conv_general_dilated(x, p["0.weight"], (1, 1), ((1, 1), (1, 1)), **conv)
        h = jax.nn.relu(lucid_jax.instance_norm(h, weight=p["1.weight"], bias=p["1.bias"]))
        h = jnp.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
        h = jax.lax.conv_general_dilated(h, p["3.weight"], (1, 1), "VALID", **conv)
        h = lucid_jax.instance_norm(h, weight=p["4.weight"], bias=p["4.bias"])
        h = jax.nn.leaky_relu(h, 0.1).reshape(h.shape[0], -1)
        return h @ p["7.weight"].T + p["7.bias"]

    def loss(p, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(forward(p, x), y).mean()

    transform = optax.sgd(0.01, momentum=0.9)

    @jax.jit
    def step(p, state, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        updates, state = transform.update(grads, state, p)
        return optax.apply_updates(p, updates), state, value

    state = transform.init(params)
    x, y = jnp.asarray(images), jnp.asarray(labels)

    def run() -> float:
        nonlocal params, state
        params, state, value = step(params, state, x, y)
        return float(value)
    return run


def first_step_seconds(backend: str, cache: str | None = None) -> float:
    """Seconds of the first step in a fresh process (compilation included)."""
    command = [sys.executable, __file__, "--first-step", backend]
    command += ["--cache", cache] if cache else []
    return float(subprocess.run(command, check=True, capture_output=True,
                                text=True).stdout.split()[-1])


def training_step_times(steps: int = 30) -> dict[str, float]:
    """Median steady-state seconds per step: lucid, torch, and the jitted functional step."""
    example, model, images, labels, lucid_step = _setup("lucid")
    torch_step = _setup("torch")[-1]
    functional_step = _functional_step(example, model, images, labels)
    times: dict[str, list[float]] = {"lucid": [], "torch": [], "jitted functional": []}
    for fn in (lucid_step, torch_step, functional_step):
        fn()  # compile / warm up
    for _ in range(steps):
        for name, fn in (("lucid", lucid_step), ("torch", torch_step),
                         ("jitted functional", functional_step)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-step", choices=["lucid", "torch", "jitted"])
    parser.add_argument("--cache", help="persistent compilation cache directory (lucid)")
    args = parser.parse_args()
    if args.first_step:
        if args.cache:
            lucid.enable_compilation_cache(args.cache)
        if args.first_step == "jitted":
            example, model, images, labels, _ = _setup("lucid")
            step = _functional_step(example, model, images, labels)
        else:
            step = _setup(args.first_step)[-1]
        start = time.perf_counter()
        step()
        print(time.perf_counter() - start)
        return
    for affine in (False, True):
        result = facade_overhead(affine=affine)
        print(f"InstanceNorm2d(8, affine={affine}) on (2, 8, 16, 16): "
              f"facade {result['facade_s'] * 1e6:.1f} us, "
              f"jitted core {result['jitted_core_s'] * 1e6:.1f} us, "
              f"ratio {result['ratio']:.2f}")
    with tempfile.TemporaryDirectory() as cache:
        first = {"torch": first_step_seconds("torch"), "lucid": first_step_seconds("lucid"),
                 "jitted functional": first_step_seconds("jitted"),
                 "lucid, cache filled": (first_step_seconds("lucid", cache),
                                         first_step_seconds("lucid", cache))[1]}
    for name, seconds in first.items():
        print(f"first training step, {name}: {seconds * 1e3:.0f} ms")
    steady = training_step_times()
    for name, seconds in steady.items():
        print(f"steady training step, {name}: {seconds * 1e3:.2f} ms")
    print(f"lucid / jitted functional: {steady['lucid'] / steady['jitted functional']:.2f}, "
          f"lucid / torch: {steady['lucid'] / steady['torch']:.2f}")


if __name__ == "__main__":
    main()
