"""``lucid.autograd.grad``: gradients of outputs with respect to chosen inputs, as PyTorch's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from lucid._autograd import run_backward
from lucid._tensor import Tensor, check_create_graph, seed_for


def _as_tuple(value: Any) -> tuple:
    """One tensor or array as a 1-tuple; a sequence of them as a tuple."""
    return (value,) if isinstance(value, Tensor | np.ndarray | jax.Array) else tuple(value)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None) -> tuple:
    """d(outputs)/d(inputs) weighted by ``grad_outputs``, one Tensor per input; ``.grad``
    is left untouched. The graph is freed unless ``retain_graph=True``, as in PyTorch.

    >>> import lucid
    >>> x = lucid.tensor([1.0, 2.0], requires_grad=True)
    >>> lucid.autograd.grad((x * x).sum(), x)[0].tolist()
    [2.0, 4.0]
    """
    check_create_graph(create_graph)
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"grad_outputs and {len(outputs)} outputs")
    for i, output in enumerate(outputs):
        if output._node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
    if any(tensor._node is None for tensor in inputs):
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    for output, seed in zip(outputs, grad_outputs, strict=True):
        if seed is None and math.prod(output.shape) != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
    seeds = tuple(seed_for(o, g) for o, g in zip(outputs, grad_outputs, strict=True))
    results = run_backward(tuple(o._node for o in outputs), seeds,
                           tuple(t._node for t in inputs), bool(retain_graph))
    for i, result in enumerate(results):
        if result is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                               "been used in the graph. Set allow_unused=True if this is the "
                               "desired behavior.")
    return tuple(None if r is None else Tensor._wrap(r) for r in results)


__all__ = ["grad"]
