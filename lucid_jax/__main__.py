"""``python -m lucid_jax``: the tour. Versions, devices, a parity self-check, a timing.

Exits non-zero if the library disagrees with a float64 NumPy reference on this machine.
"""

from __future__ import annotations

import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import lucid_jax

# Worst acceptable error against the float64 reference, per input dtype.
TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2}


def _reference(x, weight, bias, eps=1e-5):
    """The textbook formula in float64 (NumPy), independent of the library."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(2, x.ndim))
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    shape = (1, -1) + (1,) * len(axes)
    return (x - mean) / np.sqrt(var + eps) * weight.reshape(shape) + bias.reshape(shape)


def self_check() -> list[tuple[str, float, float]]:
    """(case, error, tolerance) for each checked case."""
    rng = np.random.default_rng(0)
    results = []
    for shape in [(4, 3, 50), (2, 8, 16, 16), (2, 4, 6, 8, 8)]:
        weight = rng.standard_normal(shape[1])
        bias = rng.standard_normal(shape[1])
        for offset in (0.0, 1e4):
            x = (rng.standard_normal(shape) * 3 + offset).astype(np.float32)
            out = lucid_jax.instance_norm(x, weight=weight, bias=bias)
            error = float(np.abs(np.asarray(out, np.float64) - _reference(x, weight, bias)).max())
            results.append((f"float32 {shape} offset {offset:g}", error, TOLERANCE["float32"]))
    x = jnp.asarray(rng.standard_normal((2, 8, 16, 16)) + 2, jnp.bfloat16)
    out = lucid_jax.instance_norm(x, weight=jnp.ones(8), bias=jnp.zeros(8))
    error = float(np.abs(np.asarray(out, np.float64)
                         - _reference(np.asarray(x, np.float64), np.ones(8), np.zeros(8))).max())
    results.append(("bfloat16 (2, 8, 16, 16)", error, TOLERANCE["bfloat16"]))

    x = rng.standard_normal((6, 3, 20)).astype(np.float32)
    mean, var = lucid_jax.update_running_stats(x, jnp.zeros(3), jnp.ones(3), momentum=0.1)
    x64 = x.astype(np.float64)
    expected_mean = 0.1 * x64.mean(2).mean(0)
    expected_var = 0.9 + 0.1 * x64.var(2, ddof=1).mean(0)
    error = max(float(np.abs(mean - expected_mean).max()), float(np.abs(var - expected_var).max()))
    results.append(("running statistics (PyTorch's rule)", error, TOLERANCE["float32"]))
    return results


def median_time(fn, *args, repeats: int = 30) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> int:
    print(f"lucid-jax {lucid_jax.__version__} | jax {jax.__version__} | "
          f"python {platform.python_version()} | numpy {np.__version__}")
    print(f"devices: {', '.join(str(d) for d in jax.devices())}")

    print("\nparity self-check against a float64 NumPy reference:")
    failures = 0
    for case, error, tolerance in self_check():
        ok = error <= tolerance
        failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {case:<40} max error {error:.2e} (<= {tolerance:.0e})")

    x = jax.random.normal(jax.random.key(0), (8, 32, 64, 64))
    normalise = jax.jit(lucid_jax.instance_norm)
    seconds = median_time(normalise, x)
    print(f"\njitted instance_norm on {tuple(x.shape)} float32: {seconds * 1e3:.2f} ms (median)")
    print("side-by-side timings against PyTorch and Flax: make bench")

    if failures:
        print(f"\n{failures} check(s) FAILED", file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
