"""One training step of each reference network (``examples/networks.py``): lucid, torch, and
the same step as one jitted JAX function.

The jitted step runs the very same lucid modules and ``*_loss`` functions as pure functions:
their parameters and buffers are swapped for traced arrays under ``lucid.no_grad()`` (each
lucid op is a jitted JAX kernel, so the whole forward traces into one program), differentiated
with ``jax.value_and_grad`` and updated by the optax transform of the same optimiser, all in
one ``jax.jit``. It is the floor for the eager facade, which dispatches a kernel per op and
one for the backward pass.

``python benchmarks/networks.py`` prints, for each network: the first step (a fresh process
per backend, compilation included) and the steady step (median of interleaved rounds, each
backend once per round, so machine noise hits them alike). Benchmarks print numbers; no test
asserts a time.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import subprocess
import sys
import time

import jax
import optax

import lucid
from lucid._tensor import Tensor

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("networks", ROOT / "examples" / "networks.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
BACKENDS = ("torch", "lucid", "jitted")


def _run_with(tensors: list, arrays: list, fn):
    """``fn()`` under ``no_grad`` with ``tensors`` holding ``arrays``; its result and the
    arrays the tensors hold afterwards (running statistics move). The tensors are restored."""
    saved = [t._storage.array for t in tensors]
    for tensor, array in zip(tensors, arrays, strict=True):
        tensor._storage.array = array
    try:
        with lucid.no_grad():
            result = fn()
        return result, [t._storage.array for t in tensors]
    finally:
        for tensor, array in zip(tensors, saved, strict=True):
            tensor._storage.array = array


def _pure_loss(loss_fn, models: list):
    """``(params, buffers, *inputs) -> (loss, new buffers)`` for the lucid ``models``."""
    params = [p for m in models for p in m.parameters()]
    buffers = [b for m in models for b in m.buffers()]

    def loss(p, b, *inputs):
        value, arrays = _run_with(params + buffers, list(p) + list(b),
                                  lambda: loss_fn(*(Tensor._wrap(x) for x in inputs))._data)
        return value, arrays[len(params):]
    return loss, [p._data for p in params], [b._data for b in buffers]


def _single_model_step(name: str, model, data, transform):
    """The jitted step of a network with one model and one optimiser."""
    loss_fn = getattr(example, f"{name}_loss")
    loss, params, buffers = _pure_loss(lambda x, y: loss_fn(lucid, model, x, y), [model])

    @jax.jit
    def step(p, b, state, x, y):
        (value, b), grads = jax.value_and_grad(loss, has_aux=True)(p, b, x, y)
        updates, state = transform.update(grads, state, p)
        return optax.apply_updates(p, updates), b, state, value

    state = transform.init(params)
    x, y = (jax.numpy.asarray(v) for v in data)

    def run() -> float:
        nonlocal params, buffers, state
        params, buffers, state, value = step(params, buffers, state, x, y)
        return float(value)
    return run


def _pix2pix_step(models, data):
    """pix2pix's two updates, D then G (with D's new parameters), in one jitted function."""
    generator, discriminator = models
    adam = optax.adam(2e-4, b1=0.5, b2=0.999)
    # instance norm without running statistics: the models have no buffers to carry
    g_loss, _, _ = _pure_loss(
        lambda a, b: example.pix2pix_g_loss(lucid, discriminator, a, b, generator(a)),
        [generator, discriminator])
    d_loss, pd, _ = _pure_loss(
        lambda a, b, fake: example.pix2pix_d_loss(lucid, discriminator, a, b, fake),
        [discriminator])
    fake_of, pg, _ = _pure_loss(generator, [generator])

    @jax.jit
    def step(pg, pd, sg, sd, a, b):
        fake, _ = fake_of(pg, [], a)
        (value_d, _), grads = jax.value_and_grad(d_loss, has_aux=True)(pd, [], a, b,
                                                                       jax.lax.stop_gradient(fake))
        updates, sd = adam.update(grads, sd, pd)
        pd = optax.apply_updates(pd, updates)
        (value_g, _), grads = jax.value_and_grad(
            lambda g: g_loss(list(g) + list(pd), [], a, b), has_aux=True)(pg)
        updates, sg = adam.update(grads, sg, pg)
        return optax.apply_updates(pg, updates), pd, sg, sd, value_d, value_g

    sg, sd = adam.init(pg), adam.init(pd)
    a, b = (jax.numpy.asarray(v) for v in data)

    def run() -> tuple[float, float]:
        nonlocal pg, pd, sg, sd
        pg, pd, sg, sd, value_d, value_g = step(pg, pd, sg, sd, a, b)
        return float(value_d), float(value_g)
    return run


def step_function(name: str, backend: str, size: int):
    """One training step of ``name`` under ``backend`` (``torch``, ``lucid`` or ``jitted``)."""
    data = example.make_data(name, size=size)
    if backend == "torch":
        import torch

        torch.manual_seed(0)
        models = example.build(name, torch)
        example.eval_dropout(models)
        return example.make_step(name, torch, models, data)
    _ = lucid.manual_seed(0)  # lucid and jitted start from the same weights
    models = example.build(name, lucid)
    example.eval_dropout(models)
    if backend == "lucid":
        return example.make_step(name, lucid, models, data)
    if name == "pix2pix":
        return _pix2pix_step(models, data)
    transform = {"style_transfer": optax.chain(optax.clip_by_global_norm(0.5), optax.adam(1e-3)),
                 "cyclegan": optax.adam(1e-2),
                 "segmentation": optax.chain(optax.add_decayed_weights(1e-4),
                                             optax.sgd(0.1, momentum=0.9))}[name]
    return _single_model_step(name, models, data, transform)


def first_step_seconds(name: str, backend: str, size: int) -> float:
    """Seconds of the first step in a fresh process (compilation included)."""
    command = [sys.executable, __file__, "--first-step", name, backend, "--size", str(size)]
    return float(subprocess.run(command, check=True, capture_output=True,
                                text=True).stdout.split()[-1])


def steady_step_seconds(name: str, size: int, rounds: int) -> dict[str, float]:
    """Median seconds per step of each backend, interleaved round by round."""
    steps = {backend: step_function(name, backend, size) for backend in BACKENDS}
    for step in steps.values():
        step()
        step()  # compile, warm up
    times: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    for _ in range(rounds):
        for backend, step in steps.items():
            start = time.perf_counter()
            step()  # returns Python floats: the step has finished
            times[backend].append(time.perf_counter() - start)
    return {backend: statistics.median(values) for backend, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-step", nargs=2, metavar=("NETWORK", "BACKEND"))
    parser.add_argument("--size", type=int, default=32, help="image height and width")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--networks", nargs="*", default=list(example.NETWORKS))
    args = parser.parse_args()
    if args.first_step:
        step = step_function(*args.first_step, args.size)
        start = time.perf_counter()
        step()
        print(time.perf_counter() - start)
        return
    print(f"one training step, batch 2, {args.size}x{args.size} images; ms "
          f"(first step: fresh process; steady: median of {args.rounds} interleaved rounds)")
    print("| network | first: torch | first: lucid | first: jitted | steady: torch | "
          "steady: lucid | steady: jitted | lucid / torch | lucid / jitted |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.networks:
        first = {b: first_step_seconds(name, b, args.size) for b in BACKENDS}
        steady = steady_step_seconds(name, args.size, args.rounds)
        cells = [f"{first[b] * 1e3:.0f}" for b in BACKENDS]
        cells += [f"{steady[b] * 1e3:.1f}" for b in BACKENDS]
        cells += [f"{steady['lucid'] / steady['torch']:.2f}",
                  f"{steady['lucid'] / steady['jitted']:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
