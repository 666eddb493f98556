"""``dropout`` and ``dropout2d``: a mask drawn from lucid's seeded generator, one kernel.

The mask is drawn on the host by the generator that :func:`lucid.manual_seed` resets (so a
seed gives the same masks run after run; not PyTorch's masks), and the kernel multiplies by
``mask / (1 - p)``, which is also the gradient.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from lucid._autograd import _no_aux
from lucid._creation import generator
from lucid._tensor import Tensor, apply

_SCALE = _no_aux(lambda x, keep: x * keep.astype(x.dtype))


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _drop(input: Any, p: float, training: bool, inplace: bool, mask_shape: tuple) -> Tensor:
    _check_p(p)
    if not training or p == 0:
        return input
    keep = (generator().random(mask_shape, dtype=np.float32) >= p) / np.float32(1 - p) \
        if p < 1 else np.zeros(mask_shape, np.float32)
    result = apply(_SCALE, input, jnp.asarray(keep))[0]
    return input._assign_(lambda: result) if inplace else result


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> y = F.dropout(lucid.ones(1000), 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> F.dropout(lucid.ones(3), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    return _drop(input, p, training, inplace, tuple(input.shape))


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` (or ``(C, H, W)``) with probability ``p``.

    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> y = F.dropout2d(lucid.ones(2, 64, 3, 3), 0.5)
    >>> bool(((y.numpy() == 0).all(axis=(2, 3)) | (y.numpy() == 2).all(axis=(2, 3))).all())
    True
    """
    shape = tuple(input.shape)
    if len(shape) not in (3, 4):
        raise RuntimeError(f"dropout2d expects a 3-D (unbatched) or 4-D (batched) input, got a "
                           f"{len(shape)}-D input; use dropout for other ranks")
    return _drop(input, p, training, inplace, shape[:-2] + (1, 1))
