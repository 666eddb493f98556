"""The tape: cached jitted kernels, graph nodes, and the backward engine.

Every differentiable operation runs one cached, jitted kernel that returns its output together
with its ``jax.vjp`` pullback (a pytree), and records a :class:`_Node` holding that pullback and
its parents' nodes. Leaves that require grad own an accumulate-node (PyTorch's
``AccumulateGrad``). A tensor points to its node, never the reverse (except accumulate-nodes to
their leaf), so an in-place operation that rebinds a tensor to a new node leaves earlier graphs
reaching the old one. The pullbacks hold JAX arrays, which are immutable: changing a tensor in
place after it was used can never corrupt a gradient already recorded (no version check needed).
Kernels are cached by (operation, which inputs need a gradient), so repeated eager calls with the
same shapes and settings never retrace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from lucid._grad_mode import _MODE

if TYPE_CHECKING:
    from lucid._tensor import Tensor

_KERNELS: dict[tuple, Callable] = {}
_TENSOR: list[type] = []  # lucid.Tensor, registered by lucid._tensor (keeps imports acyclic)


class _Node:
    """A recorded operation: its pullback and its parents' nodes; or a leaf's accumulator."""

    __slots__ = ("pullback", "parents", "leaf")

    def __init__(self, pullback: Any, parents: tuple[_Node, ...], leaf: Tensor | None = None):
        self.pullback, self.parents, self.leaf = pullback, parents, leaf


def _kernel(fn: Callable, grad_positions: tuple[int, ...]) -> Callable:
    """The jitted ``arrays -> (output, aux, pullback or None)`` for ``fn``, cached.

    ``fn(*arrays)`` returns ``(output, aux)``; ``aux`` carries no gradient. The pullback is taken
    with respect to the arrays at ``grad_positions`` only.
    """
    key = (fn, grad_positions)
    kernel = _KERNELS.get(key)
    if kernel is not None:
        return kernel

    if not grad_positions:
        def run(*arrays):
            output, aux = fn(*arrays)
            return output, aux, None
    else:
        def run(*arrays):
            def differentiable(*primals):
                full = list(arrays)
                for position, primal in zip(grad_positions, primals, strict=True):
                    full[position] = primal
                return fn(*full)

            primals = [arrays[p] for p in grad_positions]
            output, pullback, aux = jax.vjp(differentiable, *primals, has_aux=True)
            return output, aux, pullback

    kernel = _KERNELS[key] = jax.jit(run)
    return kernel


def _as_array(value: Any) -> Any:
    """The array behind ``value``: a Tensor's data, a scalar or array as is, else converted."""
    if isinstance(value, _TENSOR[0]):
        return value._data
    if value is None or isinstance(value, int | float | bool | jax.Array | np.ndarray | np.generic):
        return value
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return jnp.asarray(value)


def owned_array(value: Any, dtype: Any = None) -> jax.Array:
    """``value`` as a ``jax.Array`` that shares no memory with it: NumPy and torch input is
    copied first. On CPU, ``jnp.asarray`` may wrap an aligned NumPy buffer without copying (every
    JAX up to at least 0.7), so a later write to the source would show through the tensor.

    >>> import numpy as np
    >>> source = np.zeros(3, np.float32)
    >>> held = owned_array(source)
    >>> source += 5
    >>> held.tolist()
    [0.0, 0.0, 0.0]
    """
    array = _as_array(value)
    if isinstance(array, np.ndarray):
        array = np.array(array, copy=True)
    return jnp.asarray(array, dtype)


def apply(fn: Callable, *args: Any) -> tuple[Tensor, Any]:
    """Run ``fn`` on the arrays behind ``args`` and record its pullback on the result.

    ``fn`` must be a stable, hashable callable (a module-level function or one returned by a
    cached factory) mapping arrays to ``(output, aux)``. Returns ``(Tensor(output), aux)``.
    """
    tensor_class = _TENSOR[0]
    arrays = tuple(_as_array(a) for a in args)
    grad_positions = ()
    if _MODE.enabled:
        grad_positions = tuple(i for i, a in enumerate(args)
                               if isinstance(a, tensor_class) and a._node is not None)
    output, aux, pullback = _kernel(fn, grad_positions)(*arrays)
    result = tensor_class._wrap(output)
    if grad_positions:
        result._node = _Node(pullback, tuple(args[p]._node for p in grad_positions))
    return result, aux


def enable_compilation_cache(directory: str) -> None:
    """Opt in to JAX's persistent compilation cache in ``directory``.

    Every kernel compiled from then on is also written there, and a later process that opts
    in with the same directory loads it instead of compiling: its first training step pays
    (almost) no compile time. This sets JAX's own options (``jax_compilation_cache_dir``,
    with no minimum compile time), so it affects all of JAX in this process.
    """
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _no_aux(op: Callable) -> Callable:
    """``op`` as a kernel function: arrays -> ``(op(*arrays), None)``."""
    return functools.wraps(op)(lambda *arrays: (op(*arrays), None))


def run_backward(root: _Node, seed: Any, shape: tuple[int, ...], dtype: Any) -> None:
    """Push ``seed`` (``None``: ones of ``shape`` and ``dtype``) from ``root`` to every
    reachable leaf's ``.grad``.

    The whole backward pass is one jitted kernel, cached by the graph's structure (each node's
    parents, and the pullbacks' pytree structures): a training loop that builds the same graph
    every step dispatches one kernel per ``backward()``, compiled once.
    """
    order = _reverse_topological_order(root)
    position = {id(node): i for i, node in enumerate(order)}
    structure = tuple(None if node.leaf is not None
                      else tuple(position[id(parent)] for parent in node.parents)
                      for node in order)
    leaves = [node.leaf for node in order if node.leaf is not None]
    pullbacks = tuple(node.pullback for node in order if node.leaf is None)
    grads = tuple(None if leaf.grad is None else _as_array(leaf.grad) for leaf in leaves)
    ones = None if seed is not None else (tuple(shape), jnp.dtype(dtype))
    new_grads = _backward(structure, ones, pullbacks, seed, grads)
    for leaf, grad in zip(leaves, new_grads, strict=True):
        leaf.grad = grad


@functools.partial(jax.jit, static_argnums=(0, 1))
def _backward(structure: tuple, ones: tuple | None, pullbacks: tuple, seed: Any,
              grads: tuple) -> list:
    """The cotangents reaching each leaf of ``structure``, added to its current ``grads``."""
    cotangents: list[Any] = [None] * len(structure)
    cotangents[0] = jnp.ones(*ones) if seed is None else seed
    pulled = iter(pullbacks)
    leaf_cotangents = []
    for cotangent, parents in zip(cotangents, structure, strict=True):
        if parents is None:
            leaf_cotangents.append(cotangent)
            continue
        for parent, parent_cotangent in zip(parents, next(pulled)(cotangent), strict=True):
            previous = cotangents[parent]
            cotangents[parent] = (parent_cotangent if previous is None
                                  else previous + parent_cotangent)
    return [new if old is None else old + new
            for old, new in zip(grads, leaf_cotangents, strict=True)]


def _reverse_topological_order(root: _Node) -> list[_Node]:
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents)
    return order[::-1]
