"""Side-by-side timings: lucid-jax against PyTorch (CPU), flax.linen.InstanceNorm and a floor.

For each case (shape, dtype, layout) and pass, every implementation is timed in the same
process, interleaved round by round (so machine noise hits all of them alike), and the median
per call is reported:

* ``lucid-jax`` - ``jax.jit`` of ``lucid_jax.instance_norm``;
* ``flax`` - ``jax.jit`` of ``flax.linen.InstanceNorm`` with its default fast variance
  ``E[x^2] - E[x]^2`` (wrong by ~1e3 at offsets of 1e4 in float32);
* ``flax 2-pass`` - the same with ``use_fast_variance=False``, Flax's accurate mode;
* ``torch`` - ``torch.nn.functional.instance_norm`` (eager; PyTorch's own kernel), on a
  ``channels_last`` tensor for the channels-last cases;
* ``floor`` - ``jax.jit(lambda x: x * a + b)`` and its input gradient: one read and one write
  of the input (forward), a read of the cotangent and a write of the gradient (backward), the
  least any normalisation must cost.

Passes: "fwd" is the forward pass; "fwd+bwd" the forward and the gradient of the input under a
random cotangent; "train" the forward and the gradients of the input, ``weight`` and ``bias``
(``affine=True``, as models train). Ratios are times divided by lucid-jax's (> 1: lucid-jax is
faster) and lucid-jax's time divided by the floor's. Also measured: the NNX modules in a jitted
SGD train step, the first call (trace and compile) of each jitted function, and the
input-sized residuals each saves for its backward pass. Benchmarks print numbers; they assert
nothing.

    python benchmarks/run.py [--rounds 15] [--only TEXT] [--markdown FILE] [--readme]
                             [--plot FILE]

``--readme`` also replaces the tables between the benchmark markers in README.md; ``--plot``
writes a bar chart of the ratios (needs matplotlib).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import NamedTuple

import flax
import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from flax import nnx

import lucid_jax
import lucid_jax.nnx

sys.path.insert(0, os.path.dirname(__file__))


class Case(NamedTuple):
    shape: tuple[int, ...]  # logical (N, C, *spatial)
    dtype: str = "float32"
    channels_last: bool = False

    @property
    def label(self) -> str:
        extras = [self.dtype] if self.dtype != "float32" else []
        extras += ["channels-last"] if self.channels_last else []
        return str(self.shape) + "".join(f" {e}" for e in extras)

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape))


CASES = [
    Case((2, 8, 16, 16)),
    Case((16, 64, 32, 32)),
    Case((8, 32, 64, 64)),
    Case((4, 16, 16, 32, 32)),
    Case((32, 128, 256)),
    Case((8, 64, 128, 128)),
    Case((2, 16, 64, 64, 64)),
    Case((16, 64, 32, 32), dtype="bfloat16"),
    Case((16, 64, 32, 32), channels_last=True),
    Case((8, 64, 128, 128), channels_last=True),
]
PASSES = ("fwd", "fwd+bwd", "train")
NAMES = ("lucid-jax", "flax", "flax 2-pass", "torch", "floor")


def _ready(value):
    return jax.block_until_ready(value)


def _data(case: Case, seed: int = 0):
    """x (offset 1, scale 2), a cotangent, weight and bias, as NumPy float32 in NC... layout."""
    rng = np.random.default_rng(seed)
    channels = case.shape[1]
    return ((rng.standard_normal(case.shape) * 2 + 1).astype(np.float32),
            rng.standard_normal(case.shape).astype(np.float32),
            (rng.standard_normal(channels) + 1).astype(np.float32),
            rng.standard_normal(channels).astype(np.float32))


def _to_layout(array: np.ndarray, case: Case) -> np.ndarray:
    return np.moveaxis(array, 1, -1) if case.channels_last else array


def implementations(case: Case, pass_: str) -> dict:
    """name -> thunk running ``pass_`` of that implementation on the same random data."""
    x_np, g_np, w_np, b_np = _data(case)
    dtype = jnp.dtype(case.dtype)
    x = jnp.asarray(_to_layout(x_np, case), dtype)
    g = jnp.asarray(_to_layout(g_np, case), dtype)
    w, b = jnp.asarray(w_np), jnp.asarray(b_np)
    axis = -1 if case.channels_last else 1
    affine = pass_ == "train"
    params = (w, b) if affine else (None, None)

    def ours(x, w, b):
        return lucid_jax.instance_norm(x, weight=w, bias=b, channel_axis=axis)

    def flax_fn(fast_variance: bool):
        module = flax_nn.InstanceNorm(feature_axes=axis, epsilon=1e-5, use_scale=affine,
                                      use_bias=affine, use_fast_variance=fast_variance)
        return lambda x, w, b: module.apply({"params": {"scale": w, "bias": b}} if affine
                                            else {}, x)

    def floor_fn(x, w, b):
        return x * 0.5 + 1.0

    def jax_thunk(fn):
        if pass_ == "fwd":
            forward = jax.jit(lambda x: fn(x, *params))
            return lambda: _ready(forward(x))
        if pass_ == "fwd+bwd" or fn is floor_fn:
            grad = jax.jit(lambda x, g: jax.vjp(lambda x: fn(x, *params), x)[1](g)[0])
            return lambda: _ready(grad(x, g))
        def all_grads(x, w, b, g):
            out, pullback = jax.vjp(fn, x, w, b)  # Flax promotes bf16 x with f32 params
            return pullback(g.astype(out.dtype))

        grads = jax.jit(all_grads)
        return lambda: _ready(grads(x, w, b, g))

    memory = torch.channels_last if case.channels_last and len(case.shape) == 4 else \
        torch.contiguous_format
    torch_dtype = getattr(torch, case.dtype)
    x_t = torch.from_numpy(x_np).to(torch_dtype).contiguous(memory_format=memory)
    g_t = torch.from_numpy(g_np).to(torch_dtype).contiguous(memory_format=memory)
    w_t, b_t = torch.from_numpy(w_np), torch.from_numpy(b_np)

    def torch_thunk():
        if pass_ == "fwd":
            return lambda: F.instance_norm(x_t)
        if pass_ == "fwd+bwd":
            def input_grad():
                leaf = x_t.detach().requires_grad_()
                torch.autograd.grad(F.instance_norm(leaf), leaf, g_t)
            return input_grad

        def all_grads():
            leaves = [t.detach().requires_grad_() for t in (x_t, w_t, b_t)]
            torch.autograd.grad(F.instance_norm(leaves[0], weight=leaves[1], bias=leaves[2]),
                                leaves, g_t)
        return all_grads

    return {"lucid-jax": jax_thunk(ours), "flax": jax_thunk(flax_fn(True)),
            "flax 2-pass": jax_thunk(flax_fn(False)), "torch": torch_thunk(),
            "floor": jax_thunk(floor_fn)}


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


class Progress:
    """A one-line progress bar on stderr: cases done, elapsed seconds, the current case."""

    def __init__(self, total: int, width: int = 30):
        self.total, self.done, self.width, self.start = total, 0, width, time.perf_counter()

    def step(self, what: str) -> None:
        self.done += 1
        filled = self.width * self.done // self.total
        elapsed = time.perf_counter() - self.start
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/"
                         f"{self.total} {elapsed:5.0f}s {what:<45.45}")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(cases: list[Case], rounds: int, progress: Progress) -> list[dict]:
    rows = []
    for case in cases:
        for pass_ in PASSES:
            times = time_interleaved(implementations(case, pass_), rounds)
            rows.append({"case": case, "pass": pass_, **times})
            progress.step(f"{case.label} {pass_}")
    return rows


HEADER = ("| case | pass | lucid-jax ms | flax ms | flax 2-pass ms | torch ms | floor ms "
          "| flax / ours | flax 2-pass / ours | torch / ours | ours / floor |")
COLUMNS = 11


def _row(r: dict) -> str:
    ours = r["lucid-jax"]
    times = " | ".join(f"{r[k] * 1e3:.3f}" for k in NAMES)
    ratios = " | ".join(f"{r[k] / ours:.2f}" for k in ("flax", "flax 2-pass", "torch"))
    return f"| {r['case'].label} | {r['pass']} | {times} | {ratios} | {ours / r['floor']:.2f} |"


def nnx_train_step_rows(rounds: int, shape=(16, 32, 32, 64)) -> list[str]:
    """One jitted SGD step of ``lucid_jax.nnx.InstanceNorm`` against ``flax.nnx.InstanceNorm``."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(shape) * 2 + 1, jnp.float32)
    target = jnp.asarray(rng.standard_normal(shape), jnp.float32)

    def thunk(cls):
        model = cls(shape[-1], epsilon=1e-5, rngs=nnx.Rngs(0))

        @nnx.jit
        def step(model, x, target):
            def loss(model):
                return jnp.mean((model(x) - target) ** 2)

            value, grads = nnx.value_and_grad(loss)(model)
            params = nnx.state(model, nnx.Param)
            nnx.update(model, jax.tree.map(lambda p, g: p - 0.1 * g, params, grads))
            return value

        return lambda: _ready(step(model, x, target))

    times = time_interleaved({"ours": thunk(lucid_jax.nnx.InstanceNorm),
                              "flax": thunk(nnx.InstanceNorm)}, rounds)
    return ["| module | input | step ms | flax / ours |", "|---|---|---|---|",
            f"| lucid_jax.nnx.InstanceNorm | {shape} | {times['ours'] * 1e3:.3f} | "
            f"{times['flax'] / times['ours']:.2f} |",
            f"| flax.nnx.InstanceNorm | {shape} | {times['flax'] * 1e3:.3f} | 1.00 |"]


MID_SIZE = Case((16, 64, 32, 32))


def _affine_fns() -> dict:
    """lucid-jax and Flax (default fast variance) as ``f(x, weight, bias)``, channels first."""
    module = flax_nn.InstanceNorm(feature_axes=1, epsilon=1e-5)
    return {
        "lucid-jax": lambda x, w, b: lucid_jax.instance_norm(x, weight=w, bias=b),
        "flax": lambda x, w, b: module.apply({"params": {"scale": w, "bias": b}}, x),
    }


def compile_rows(case: Case = MID_SIZE, repeats: int = 5) -> list[str]:
    """Median first-call time (trace, compile, run) after ``jax.clear_caches()``, interleaved."""
    x, g, w, b = map(jnp.asarray, _data(case))
    fns = _affine_fns()
    samples = {(name, p): [] for name in fns for p in ("fwd", "train")}
    for _ in range(repeats):
        for name, fn in fns.items():
            for pass_, wrapped, args in (
                    ("fwd", lambda fn=fn: jax.jit(fn), (x, w, b)),
                    ("train", lambda fn=fn: jax.jit(
                        lambda x, w, b, g: jax.vjp(fn, x, w, b)[1](g)), (x, w, b, g))):
                jax.clear_caches()
                start = time.perf_counter()
                _ready(wrapped()(*args))
                samples[name, pass_].append(time.perf_counter() - start)
    lines = ["| first call (trace + compile + run) | lucid-jax ms | flax ms | ours / flax |",
             "|---|---|---|---|"]
    for pass_ in ("fwd", "train"):
        ours, theirs = (statistics.median(samples[n, pass_]) for n in fns)
        lines.append(f"| {case.label} {pass_} | {ours * 1e3:.1f} | {theirs * 1e3:.1f} | "
                     f"{ours / theirs:.2f} |")
    return lines


def residual_rows(case: Case = MID_SIZE) -> list[str]:
    """Bytes ``jax.vjp`` keeps for the backward pass of "train", in units of the input's size."""
    x, _, w, b = map(jnp.asarray, _data(case))
    fns = _affine_fns()
    lines = ["| implementation | residuals / input size |", "|---|---|"]
    for name, fn in fns.items():
        _, pullback = jax.vjp(fn, x, w, b)
        size = sum(leaf.nbytes for leaf in jax.tree.leaves(pullback) if hasattr(leaf, "nbytes"))
        lines.append(f"| {name} | {size / x.nbytes:.2f} |")
    return lines


ACCURACY_SHAPE = (4, 8, 16, 16)


def accuracy_rows() -> list[str]:
    """Max |error| against the float64 reference for float32 inputs at growing offsets.

    Every implementation uses eps = 1e-6 (Flax's default) so that only the algorithm differs.
    """
    from lucid_jax import reference

    eps = 1e-6

    def flax_fn(fast_variance):
        module = flax_nn.InstanceNorm(use_bias=False, use_scale=False, feature_axes=1,
                                      epsilon=eps, use_fast_variance=fast_variance)
        return lambda x: module.apply({}, x)

    candidates = {
        "lucid-jax": lambda x: lucid_jax.instance_norm(x, eps=eps),
        "flax": flax_fn(True),
        "flax 2-pass": flax_fn(False),
        "torch": lambda x: F.instance_norm(torch.from_numpy(x), eps=eps).numpy(),
    }
    lines = ["| offset | " + " | ".join(candidates) + " |", "|---" * (len(candidates) + 1) + "|"]
    rng = np.random.default_rng(0)
    for offset in (0.0, 1e3, 1e4, 1e5, 1e6):
        x = (rng.standard_normal(ACCURACY_SHAPE) + offset).astype(np.float32)
        expected = reference.instance_norm(x, eps=eps)
        errors = [np.abs(np.asarray(fn(x), np.float64) - expected).max()
                  for fn in candidates.values()]
        lines.append(f"| {offset:g} | " + " | ".join(f"{e:.1e}" for e in errors) + " |")
    return lines


def facade_rows() -> list[str]:
    from facade import facade_overhead

    lines = ["| call | facade | jitted core | facade / core |", "|---|---|---|---|"]
    for affine in (False, True):
        result = facade_overhead(affine=affine)
        lines.append(f"| lucid.nn.InstanceNorm2d(8, affine={affine}) eager, (2, 8, 16, 16) | "
                     f"{result['facade_s'] * 1e6:.1f} us | {result['jitted_core_s'] * 1e6:.1f} us"
                     f" | {result['ratio']:.2f} |")
    return lines


def plot(rows: list[dict], path: str) -> None:
    """Bar chart: each implementation's time over lucid-jax's, one panel per pass."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = ("flax", "flax 2-pass", "torch", "floor")
    fig, axes = plt.subplots(len(PASSES), 1, figsize=(12, 3.2 * len(PASSES)), sharex=True)
    for ax, pass_ in zip(axes, PASSES, strict=True):
        selected = [r for r in rows if r["pass"] == pass_]
        positions = np.arange(len(selected))
        width = 0.8 / len(others)
        for i, name in enumerate(others):
            ax.bar(positions + (i - (len(others) - 1) / 2) * width,
                   [r[name] / r["lucid-jax"] for r in selected], width, label=name)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("time / lucid-jax's")
        ax.set_title(f"{pass_}: above 1, lucid-jax is faster")
        ax.set_xticks(positions, [r["case"].label for r in selected], rotation=30, ha="right",
                      fontsize=8)
    axes[0].legend(ncol=len(others), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", help="time only the cases whose label contains this text")
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--readme", action="store_true",
                        help="also put the tables into README.md between its benchmark markers")
    parser.add_argument("--plot", help="write a bar chart of the ratios to this file")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only is None or args.only in c.label]
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
               f"({jax.default_backend()}), torch {torch.__version__} "
               f"({torch.get_num_threads()} threads), flax {flax.__version__}")
    print(machine)
    progress = Progress(len(cases) * len(PASSES) + 4)
    accuracy = [f"Max error against the float64 reference, float32 input {ACCURACY_SHAPE}, "
                "unit variance:", "", *accuracy_rows()]
    progress.step("accuracy")
    rows = run(cases, args.rounds, progress)
    timing = [HEADER, "|" + "---|" * COLUMNS, *(_row(r) for r in rows)]
    train_step = nnx_train_step_rows(args.rounds)
    progress.step("nnx train step")
    compile_times = compile_rows()
    residuals = residual_rows()
    progress.step("compile times, residuals")
    facade = facade_rows()
    progress.step("facade")
    report = "\n\n".join([
        f"Machine: {machine}. Median of {args.rounds} interleaved rounds.",
        "\n".join(timing), "\n".join(train_step), "\n".join(compile_times),
        f"Residuals saved for the backward pass of \"train\" at {MID_SIZE.shape}:\n\n"
        + "\n".join(residuals),
        "\n".join(facade), "\n".join(accuracy)]) + "\n"
    print(report)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(report)
    if args.readme:
        _replace_readme_table(report)
    if args.plot:
        plot(rows, args.plot)


def _replace_readme_table(report: str) -> None:
    readme = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    with open(readme) as f:
        text = f.read()
    start, end = "<!-- benchmark-table -->\n", "<!-- /benchmark-table -->"
    before, rest = text.split(start)
    _, after = rest.split(end)
    with open(readme, "w") as f:
        f.write(before + start + report + end + after)


if __name__ == "__main__":
    main()
