"""lucid-jax: instance normalization for JAX, correct to PyTorch's numbers.

The pure core. Flax modules live in :mod:`lucid_jax.linen` and :mod:`lucid_jax.nnx` (the only
modules that import flax); the stateful, PyTorch-like facade is the ``lucid`` package.
"""

from lucid_jax import _compat  # noqa: F401  (first: an ImportError below the floor)
from lucid_jax._functional import adain, instance_moments, instance_norm, update_running_stats

__version__ = "0.1.0"

__all__ = ["adain", "instance_moments", "instance_norm", "update_running_stats", "__version__"]
