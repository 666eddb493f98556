"""First, second and new-shape training steps: lucid against torch, each in a fresh process.

A small conv net (conv, ``InstanceNorm2d(affine=True)``, ReLU, conv) trained with Adam on an
MSE loss. Printed per backend: step 1 at shape A (compiles), step 2 (compiles nothing since
the optimiser's first step runs the same kernel as later ones), the median of steps 3-10, the
first step at a new shape B, and the step after it. Run ``python benchmarks/first_steps.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPES = {"A": (4, 3, 32, 32), "B": (4, 3, 48, 48)}


def _measure(backend: str) -> dict[str, float]:
    lib = importlib.import_module(backend)
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.InstanceNorm2d(16, affine=True),
                          nn.ReLU(), nn.Conv2d(16, 3, 3, padding=1))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    data = {k: (lib.tensor(rng.standard_normal(s).astype(np.float32)),
                lib.tensor(rng.standard_normal(s).astype(np.float32))) for k, s in SHAPES.items()}

    def step(shape: str) -> float:
        x, target = data[shape]
        start = time.perf_counter()
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        loss.item()
        return time.perf_counter() - start

    first, second = step("A"), step("A")
    steady = statistics.median(step("A") for _ in range(8))
    new, new_second = step("B"), step("B")
    return {"step 1": first, "step 2": second, "steps 3-10 (median)": steady,
            "new shape, step 1": new, "new shape, step 2": new_second}


RUNS = {"torch": ("torch", {}), "torch, 1 thread": ("torch", {"OMP_NUM_THREADS": "1"}),
        "lucid": ("lucid", {})}


def main() -> None:
    if len(sys.argv) == 2:
        print(json.dumps(_measure(sys.argv[1])))
        return
    results = {}
    for label, (backend, env) in RUNS.items():
        out = subprocess.run([sys.executable, __file__, backend], capture_output=True,
                             text=True, check=True, env={**os.environ, **env}).stdout
        results[label] = json.loads(out.strip().splitlines()[-1])
    print("| step | " + " | ".join(f"{label} (ms)" for label in RUNS) + " |")
    print("|---" * (len(RUNS) + 1) + "|")
    for name in results["lucid"]:
        print(f"| {name} | " + " | ".join(f"{results[label][name] * 1e3:.1f}" for label in RUNS)
              + " |")


if __name__ == "__main__":
    main()
