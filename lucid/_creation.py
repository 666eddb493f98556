"""Factories: ``tensor``, ``from_numpy``, ``randn``, ``rand``, ``zeros``, ``ones``, ``arange``,
the ``*_like`` variants; the seeded generator.

Random and constant tensors are made on the host with NumPy and then placed on the device:
``jax.random`` would compile a sampler for every new shape (about 2 s each on a 2-core CPU),
so building a model with a dozen parameter shapes would take longer than training it.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from lucid._ops.shape import _shape_args as _shape
from lucid._tensor import Tensor, check_dtype

float32 = jnp.float32
_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the generator behind :func:`randn`, :func:`rand` and ``nn.init``; returns it.

    The same seed gives the same tensors (not PyTorch's numbers: the generator is NumPy's).

    >>> import lucid
    >>> _ = lucid.manual_seed(7); a = lucid.randn(3)
    >>> _ = lucid.manual_seed(7); b = lucid.randn(3)
    >>> bool((a.numpy() == b.numpy()).all())
    True
    """
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    """The generator that :func:`manual_seed` resets."""
    return _generator


def _sample(draw: str, shape: tuple[int, ...], dtype: Any, **kwargs: Any) -> np.ndarray:
    """``generator().<draw>`` in float32 (float64 when asked), cast to ``dtype``."""
    exact = np.dtype(dtype) if np.dtype(dtype) in (np.float32, np.float64) else np.float32
    return getattr(_generator, draw)(size=shape, dtype=exact, **kwargs).astype(dtype)


def rand(*shape: int, requires_grad: bool = False, dtype: Any = None,
         device: Any = None) -> Tensor:
    """Uniform samples in ``[0, 1)`` of the given shape."""
    dtype = check_dtype(dtype) or float32
    return _factory(_sample("random", _shape(shape), dtype), requires_grad, device)


def _factory(array: Any, requires_grad: bool, device: Any) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, device=device)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor from nested lists, a scalar, or a NumPy/JAX/PyTorch array.

    >>> import lucid
    >>> lucid.tensor([1.0, 2.0])
    Tensor([1.0, 2.0], grad=None)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def randn(*shape: int, requires_grad: bool = False, dtype: Any = None,
          device: Any = None) -> Tensor:
    """Standard normal samples of the given shape (``randn(2, 3)`` or ``randn((2, 3))``)."""
    dtype = check_dtype(dtype) or float32
    return _factory(_sample("standard_normal", _shape(shape), dtype), requires_grad, device)


def zeros(*shape: int, requires_grad: bool = False, dtype: Any = None,
          device: Any = None) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise)."""
    return _factory(np.zeros(_shape(shape), check_dtype(dtype) or float32), requires_grad,
                    device)


def ones(*shape: int, requires_grad: bool = False, dtype: Any = None,
         device: Any = None) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise)."""
    return _factory(np.ones(_shape(shape), check_dtype(dtype) or float32), requires_grad,
                    device)




def arange(start: float, end: float | None = None, step: float = 1, *,
           requires_grad: bool = False, dtype: Any = None, device: Any = None) -> Tensor:
    """``start, start + step, ...`` below ``end`` (``arange(n)`` is ``0 .. n-1``); integer
    (int32) when every argument is an integer, as PyTorch's (int64) is, else float32.

    >>> import lucid
    >>> lucid.arange(4).tolist(), lucid.arange(0, 1, 0.25).tolist()
    ([0, 1, 2, 3], [0.0, 0.25, 0.5, 0.75])
    """
    start, end = (0, start) if end is None else (start, end)
    integral = all(isinstance(v, int) for v in (start, end, step))
    dtype = check_dtype(dtype) or (jnp.int32 if integral else float32)
    return _factory(np.arange(start, end, step).astype(dtype), requires_grad, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor holding a copy of ``array``: unlike PyTorch's, it shares no memory (JAX arrays
    are immutable), so later writes to ``array`` do not show in the tensor."""
    return Tensor(np.asarray(array))


def zeros_like(input: Any, *, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Zeros of ``input``'s shape and (unless given) dtype."""
    return zeros(*np.shape(input), requires_grad=requires_grad, dtype=dtype or input.dtype)


def ones_like(input: Any, *, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Ones of ``input``'s shape and (unless given) dtype."""
    return ones(*np.shape(input), requires_grad=requires_grad, dtype=dtype or input.dtype)


def randn_like(input: Any, *, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Standard normal samples of ``input``'s shape and (unless given) dtype."""
    return randn(*np.shape(input), requires_grad=requires_grad, dtype=dtype or input.dtype)
