"""Eager ``lucid.nn.InstanceNorm2d`` call against the jitted core on a small input.

``facade_overhead()`` times, interleaved so that machine noise hits both alike, one eager
facade call ``norm(x)`` (a ``lucid.Tensor`` in, a ``lucid.Tensor`` out) and one call of
``jax.jit(lucid_jax.instance_norm)`` on the same ``(2, 8, 16, 16)`` array, each until its
result is ready, and returns the medians. Run ``python benchmarks/facade.py`` to print them.
"""

from __future__ import annotations

import statistics
import time

import jax

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
    weight = None if norm.weight is None else norm.weight.data
    bias = None if norm.bias is None else norm.bias.data

    def facade_call():
        norm(x).data.block_until_ready()

    def core_call():
        core(x.data, None, None, weight, bias).block_until_ready()

    facade_call(), core_call()  # compile
    facade, jitted = [], []
    for _ in range(rounds):
        facade.append(_time(facade_call, repeats))
        jitted.append(_time(core_call, repeats))
    facade_s, core_s = statistics.median(facade), statistics.median(jitted)
    return {"facade_s": facade_s, "jitted_core_s": core_s, "ratio": facade_s / core_s}


if __name__ == "__main__":
    for affine in (False, True):
        result = facade_overhead(affine=affine)
        print(f"InstanceNorm2d(8, affine={affine}) on (2, 8, 16, 16): "
              f"facade {result['facade_s'] * 1e6:.1f} us, "
              f"jitted core {result['jitted_core_s'] * 1e6:.1f} us, "
              f"ratio {result['ratio']:.2f}")
