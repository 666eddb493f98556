"""One training script, two frameworks: ``import torch`` or ``import lucid as torch``.

A small conv net (Conv2d -> InstanceNorm2d -> ReLU -> Conv2d -> InstanceNorm2d -> LeakyReLU
-> Linear) is trained on fixed synthetic data: 20 steps of SGD with momentum, then 20 of Adam,
from the same initial weights (drawn with NumPy and loaded through ``load_state_dict``). The
code below ``build``/``train`` is written once against PyTorch's API; ``--backend`` picks the
module that plays ``torch``. Both print the same losses (the test suite checks them to 1e-4)::

    python examples/train_imperative.py --backend torch
    python examples/train_imperative.py --backend lucid

With ``--save PATH`` the trained model is switched to eval mode, saved with ``torch.save``
(lucid: ``lucid.save``, an ``.npz``), loaded into a fresh model, and checked to give the same
outputs.
"""

from __future__ import annotations

import argparse
import importlib

import numpy as np

STEPS = 20


def build(torch):
    """The model, in either framework."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),    # a bias before a norm gets no gradient
        nn.InstanceNorm2d(8, affine=True, track_running_stats=True),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect", bias=False),
        nn.InstanceNorm2d(8, affine=True, track_running_stats=True),
        nn.LeakyReLU(0.1),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 4),
    )


def initial_state(model, seed: int = 0) -> dict[str, np.ndarray]:
    """Framework-independent initial weights for ``model``'s state dict (NumPy, seeded)."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, value in model.state_dict().items():
        shape = tuple(value.shape)
        if name.endswith("running_var"):
            state[name] = np.ones(shape, np.float32)
        elif name.endswith(("running_mean", "num_batches_tracked")):
            state[name] = np.zeros(shape, np.float32 if len(shape) else np.int64)
        else:  # weights and biases: U(+-1/sqrt(fan_in)), the norms' affine around (1, 0)
            bound = 1 / np.sqrt(np.prod(shape[1:]) if len(shape) > 1 else 8)
            offset = 1.0 if name.endswith("weight") and len(shape) == 1 else 0.0
            state[name] = (offset + rng.uniform(-bound, bound, shape)).astype(np.float32)
    return state


def data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """16 images of 3 x 8 x 8 and their 4-class labels, fixed."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, 16)
    images = rng.standard_normal((16, 3, 8, 8)).astype(np.float32)
    images[np.arange(16), labels % 3] += 0.5   # a faint signal: the label brightens a channel
    return images, labels


def train(torch, model, x, y, log=print) -> list[float]:
    """20 SGD-with-momentum steps then 20 Adam steps; returns the loss before each step."""
    loss_fn = torch.nn.CrossEntropyLoss()
    losses = []
    for name, optimizer in [
        ("sgd", torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)),
        ("adam", torch.optim.Adam(model.parameters(), lr=1e-3)),
    ]:
        for step in range(STEPS):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            log(f"{name} step {step:2d}  loss {loss:.4f}")
    return losses


def save_and_reload(torch, model, x, path) -> bool:
    """Eval mode, save, load into a fresh model: do both give the same outputs?"""
    model.eval()
    torch.save(model.state_dict(), path)
    fresh = build(torch)
    fresh.load_state_dict(torch.load(path))
    fresh.eval()
    with torch.no_grad():
        return bool((model(x) == fresh(x)).all())


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["torch", "lucid"], default="lucid")
    parser.add_argument("--save", metavar="PATH", help="save, reload and compare outputs")
    args = parser.parse_args(argv)
    torch = importlib.import_module(args.backend)      # `import lucid as torch`, or torch
    model = build(torch)
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(model).items()})
    images, labels = data()
    x, y = torch.tensor(images), torch.tensor(labels)
    losses = train(torch, model, x, y)
    if args.save:
        print("reloaded model gives the same outputs:", save_and_reload(torch, model, x,
                                                                          args.save))
    return losses


if __name__ == "__main__":
    main()
