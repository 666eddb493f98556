"""``python -m lucid_jax``: the tour. Versions, devices, a parity self-check, a timing.

Exits non-zero if the library disagrees with the float64 NumPy reference
(:mod:`lucid_jax.reference`) on this machine.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import lucid_jax
from lucid_jax import reference

# Worst acceptable error against the float64 reference, per input dtype.
TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2}


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
            expected = reference.instance_norm(x, weight=weight, bias=bias)
            error = float(np.abs(np.asarray(out, np.float64) - expected).max())
            results.append((f"float32 {shape} offset {offset:g}", error, TOLERANCE["float32"]))
    low = jnp.asarray(rng.standard_normal((2, 8, 16, 16)) + 2, jnp.bfloat16)
    out = lucid_jax.instance_norm(low, weight=jnp.ones(8), bias=jnp.zeros(8))
    expected = reference.instance_norm(np.asarray(low, np.float64), weight=np.ones(8))
    error = float(np.abs(np.asarray(out, np.float64) - expected).max())
    results.append(("bfloat16 (2, 8, 16, 16)", error, TOLERANCE["bfloat16"]))

    x = rng.standard_normal((6, 3, 20)).astype(np.float32)
    mean, var = lucid_jax.update_running_stats(x, jnp.zeros(3), jnp.ones(3), momentum=0.1)
    expected_mean, expected_var = reference.update_running_stats(x, np.zeros(3), np.ones(3), 0.1)
    error = max(float(np.abs(mean - expected_mean).max()), float(np.abs(var - expected_var).max()))
    results.append(("running statistics (PyTorch's rule)", error, TOLERANCE["float32"]))
    return results


def median_time(fn: Callable[..., Any], *args: Any, repeats: int = 30) -> float:
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
