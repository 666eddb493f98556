"""Side-by-side timings: lucid-jax against PyTorch (CPU), flax.linen.InstanceNorm and a floor.

For each input shape, every implementation is timed in the same process, interleaved round
by round (so machine noise hits all of them alike), and the median per call is reported:

* ``lucid-jax`` - ``jax.jit(lucid_jax.instance_norm)`` (NCHW, the layout PyTorch uses);
* ``flax`` - ``jax.jit`` of ``flax.linen.InstanceNorm(feature_axes=1)`` with its default fast
  variance ``E[x^2] - E[x]^2`` (wrong by ~1e3 at offsets of 1e4 in float32);
* ``flax 2-pass`` - the same with ``use_fast_variance=False``, Flax's accurate mode;
* ``torch`` - ``torch.nn.functional.instance_norm`` (eager; PyTorch's own fused kernel);
* ``floor`` - ``jax.jit(lambda x: x * a + b)``: one read and one write of the input, the
  least any normalisation must cost.

"fwd" is the forward pass; "fwd+bwd" the forward and the gradient of the input under a random
cotangent. Ratios are times divided by lucid-jax's (> 1: lucid-jax is faster) and by the floor.
Benchmarks print numbers; they assert nothing.

    python benchmarks/run.py [--rounds 15] [--markdown benchmarks/RESULTS.md] [--readme]

``--readme`` also replaces the table between the benchmark markers in README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F

import lucid_jax

sys.path.insert(0, os.path.dirname(__file__))
SHAPES = [(8, 32, 64, 64), (16, 64, 32, 32), (4, 16, 16, 32, 32), (32, 128, 256),
          (2, 8, 16, 16)]


def _ready(value):
    return jax.block_until_ready(value)


def implementations(shape):
    """name -> (forward thunk, forward+backward thunk) on the same random data."""
    rng = np.random.default_rng(0)
    x_np = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    g_np = rng.standard_normal(shape).astype(np.float32)
    x, g = jnp.asarray(x_np), jnp.asarray(g_np)
    x_t, g_t = torch.from_numpy(x_np), torch.from_numpy(g_np)

    ours = jax.jit(lucid_jax.instance_norm)
    ours_grad = jax.jit(lambda x, g: jax.vjp(lucid_jax.instance_norm, x)[1](g)[0])
    def flax_pair(fast_variance: bool):
        module = flax_nn.InstanceNorm(use_bias=False, use_scale=False, feature_axes=1,
                                      use_fast_variance=fast_variance)
        forward = jax.jit(lambda x: module.apply({}, x))
        grad = jax.jit(lambda x, g: jax.vjp(lambda x: module.apply({}, x), x)[1](g)[0])
        return lambda: _ready(forward(x)), lambda: _ready(grad(x, g))

    floor = jax.jit(lambda x: x * 0.5 + 1.0)
    floor_grad = jax.jit(lambda x, g: jax.vjp(lambda x: x * 0.5 + 1.0, x)[1](g)[0])

    def torch_grad():
        leaf = x_t.clone().requires_grad_()
        torch.autograd.grad(F.instance_norm(leaf), leaf, g_t)

    return {
        "lucid-jax": (lambda: _ready(ours(x)), lambda: _ready(ours_grad(x, g))),
        "flax": flax_pair(fast_variance=True),
        "flax 2-pass": flax_pair(fast_variance=False),
        "torch": (lambda: F.instance_norm(x_t), torch_grad),
        "floor": (lambda: _ready(floor(x)), lambda: _ready(floor_grad(x, g))),
    }


def time_interleaved(thunks: dict, rounds: int, min_seconds: float = 0.02) -> dict:
    """Median seconds per call of each thunk over ``rounds`` interleaved rounds."""
    repeats = {}
    for name, thunk in thunks.items():
        thunk()  # compile / warm up
        start = time.perf_counter()
        thunk()
        once = max(time.perf_counter() - start, 1e-6)
        repeats[name] = max(1, int(min_seconds / once))
    samples = {name: [] for name in thunks}
    for _ in range(rounds):
        for name, thunk in thunks.items():
            start = time.perf_counter()
            for _ in range(repeats[name]):
                thunk()
            samples[name].append((time.perf_counter() - start) / repeats[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def run(rounds: int) -> list[dict]:
    rows = []
    for shape in SHAPES:
        impls = implementations(shape)
        for mode, index in (("fwd", 0), ("fwd+bwd", 1)):
            times = time_interleaved({n: pair[index] for n, pair in impls.items()}, rounds)
            rows.append({"shape": shape, "mode": mode, **times})
            print(_row(rows[-1]), flush=True)
    return rows


HEADER = ("| shape | pass | lucid-jax ms | flax ms | flax 2-pass ms | torch ms | floor ms "
          "| flax / ours | flax 2-pass / ours | torch / ours | ours / floor |")
COLUMNS = 11


def _row(r: dict) -> str:
    ours = r["lucid-jax"]
    times = " | ".join(f"{r[k] * 1e3:.3f}" for k in ("lucid-jax", "flax", "flax 2-pass",
                                                       "torch", "floor"))
    ratios = " | ".join(f"{r[k] / ours:.2f}" for k in ("flax", "flax 2-pass", "torch"))
    return f"| {r['shape']} | {r['mode']} | {times} | {ratios} | {ours / r['floor']:.2f} |"


ACCURACY_SHAPE = (4, 8, 16, 16)


def accuracy_rows() -> list[str]:
    """Max |error| against the float64 reference for float32 inputs at growing offsets.

    Every implementation uses eps = 1e-6 (Flax's default) so that only the algorithm differs.
    """
    from lucid_jax import reference

    eps = 1e-6

    def flax(fast_variance):
        module = flax_nn.InstanceNorm(use_bias=False, use_scale=False, feature_axes=1,
                                      epsilon=eps, use_fast_variance=fast_variance)
        return lambda x: module.apply({}, x)

    candidates = {
        "lucid-jax": lambda x: lucid_jax.instance_norm(x, eps=eps),
        "flax": flax(True),
        "flax 2-pass": flax(False),
        "torch": lambda x: F.instance_norm(torch.from_numpy(x), eps=eps).numpy(),
    }
    lines = ["| offset | " + " | ".join(candidates) + " |", "|---" * (len(candidates) + 1) + "|"]
    rng = np.random.default_rng(0)
    for offset in (0.0, 1e3, 1e4, 1e5):
        x = (rng.standard_normal(ACCURACY_SHAPE) + offset).astype(np.float32)
        expected = reference.instance_norm(x, eps=eps)
        errors = [np.abs(np.asarray(fn(x), np.float64) - expected).max()
                  for fn in candidates.values()]
        lines.append(f"| {offset:g} | " + " | ".join(f"{e:.1e}" for e in errors) + " |")
    return lines


def facade_rows() -> list[str]:
    from facade import facade_overhead

    lines = []
    for affine in (False, True):
        result = facade_overhead(affine=affine)
        lines.append(f"| lucid.nn.InstanceNorm2d(8, affine={affine}) eager, (2, 8, 16, 16) | "
                     f"{result['facade_s'] * 1e6:.1f} us | {result['jitted_core_s'] * 1e6:.1f} us"
                     f" | {result['ratio']:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--readme", action="store_true",
                        help="also put the tables into README.md between its benchmark markers")
    args = parser.parse_args()
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
               f"({jax.default_backend()}), torch {torch.__version__} "
               f"({torch.get_num_threads()} threads), flax {flax_nn.__name__ and _flax_version()}")
    print(machine)
    accuracy = [f"Max error against the float64 reference, float32 input {ACCURACY_SHAPE}, "
                "unit variance:", "", *accuracy_rows()]
    print("\n".join(accuracy) + "\n")
    print(HEADER)
    print("|" + "---|" * COLUMNS)
    rows = run(args.rounds)
    facade = ["| call | facade | jitted core | facade / core |", "|---|---|---|---|",
              *facade_rows()]
    print("\n".join(facade))
    report = (f"Machine: {machine}. Median of {args.rounds} interleaved rounds.\n\n"
              + "\n".join([HEADER, "|" + "---|" * COLUMNS, *(_row(r) for r in rows)])
              + "\n\n" + "\n".join(facade) + "\n\n" + "\n".join(accuracy) + "\n")
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(report)
    if args.readme:
        _replace_readme_table(report)


def _replace_readme_table(report: str) -> None:
    readme = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    with open(readme) as f:
        text = f.read()
    start, end = "<!-- benchmark-table -->\n", "<!-- /benchmark-table -->"
    before, rest = text.split(start)
    _, after = rest.split(end)
    with open(readme, "w") as f:
        f.write(before + start + report + end + after)


def _flax_version() -> str:
    import flax

    return flax.__version__


if __name__ == "__main__":
    main()
