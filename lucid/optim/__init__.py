"""``lucid.optim``: ``SGD``, ``Adam``, ``AdamW`` on optax transforms, with PyTorch's equations,
parameter groups and state dicts; :mod:`lucid.optim.lr_scheduler` sets their learning rates."""

from lucid.optim import lr_scheduler
from lucid.optim.adam import Adam, AdamW
from lucid.optim.optimizer import Optimizer
from lucid.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
