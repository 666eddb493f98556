"""The tape: cached jitted kernels, graph nodes, and the backward engine.

Every differentiable operation runs one cached, jitted kernel that returns its output together
with its ``jax.vjp`` pullback (a pytree), and records a :class:`_Node` holding that pullback and
its parents' nodes. Leaves that require grad own an accumulate-node (PyTorch's
``AccumulateGrad``). A tensor points to its node, never the reverse (except accumulate-nodes to
their leaf), so an in-place operation that rebinds a tensor to a new node leaves earlier graphs
reaching the old one. The pullbacks hold JAX arrays, which are immutable: changing a tensor in
place after it was used can never corrupt a gradient already recorded (no version check needed).
``backward`` frees the pullbacks that saved arrays (PyTorch's saved tensors) unless asked to
retain the graph; reaching a freed one raises PyTorch's error.
Kernels are cached by (operation, which inputs need a gradient), so repeated eager calls with the
same shapes and settings never retrace. The tape knows a tensor by its base class,
:class:`TensorBase`, which :class:`lucid.Tensor` implements: nothing here imports it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

import jax
import jax.numpy as jnp
import numpy as np

from lucid._grad_mode import _MODE

if TYPE_CHECKING:
    from lucid._tensor import Tensor

_KERNELS: dict[tuple[Callable[..., Any], tuple[int, ...]], Callable[..., Any]] = {}


class _Node:
    """A recorded operation: its pullback and its parents' nodes; or a leaf's accumulator."""

    __slots__ = ("pullback", "parents", "leaf")

    def __init__(self, pullback: Any, parents: tuple[_Node, ...],
                 leaf: Tensor | None = None) -> None:
        self.pullback, self.parents, self.leaf = pullback, parents, leaf


class TensorBase:
    """What the tape and the op mixins (:mod:`lucid._ops`) need of a tensor.

    The tape recognises a tensor by this type and reads its array (``_data``) and its place on
    the tape (``_node``). The mixins build their results through :meth:`_apply`, which calls
    the one hook a subclass implements, :meth:`_wrap`; :class:`lucid.Tensor` is that subclass,
    so no module below it needs to import it.
    """

    __slots__ = ()
    _node: _Node | None

    @property
    def _data(self) -> jax.Array:
        raise NotImplementedError

    @staticmethod
    def _wrap(array: jax.Array) -> Tensor:
        """A new tensor off the tape holding ``array`` (no copy)."""
        raise NotImplementedError

    @classmethod
    def _apply(cls, fn: Callable[..., Any], *args: Any) -> tuple[Tensor, Any]:
        """Run ``fn`` on the arrays behind ``args`` and record its pullback on the result.

        ``fn`` must be a stable, hashable callable (a module-level function or one returned by
        a cached factory) mapping arrays to ``(output, aux)``. Returns ``(Tensor(output), aux)``.
        """
        arrays = tuple(_as_array(a) for a in args)
        grad_positions: tuple[int, ...] = ()
        if _MODE.enabled:
            grad_positions = tuple(i for i, a in enumerate(args)
                                   if isinstance(a, TensorBase) and a._node is not None)
        output, aux, pullback = _kernel(fn, grad_positions)(*arrays)
        result = cls._wrap(output)
        if grad_positions:
            result._node = _Node(pullback, tuple(args[p]._node for p in grad_positions))
        return result, aux

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim


def _kernel(fn: Callable[..., Any], grad_positions: tuple[int, ...]) -> Callable[..., Any]:
    """The jitted ``arrays -> (output, aux, pullback or None)`` for ``fn``, cached.

    ``fn(*arrays)`` returns ``(output, aux)``; ``aux`` carries no gradient. The pullback is taken
    with respect to the arrays at ``grad_positions`` only.
    """
    key = (fn, grad_positions)
    kernel = _KERNELS.get(key)
    if kernel is not None:
        return kernel

    if not grad_positions:
        def run(*arrays: Any) -> tuple[Any, Any, Any]:
            output, aux = fn(*arrays)
            return output, aux, None
    else:
        def run(*arrays: Any) -> tuple[Any, Any, Any]:
            def differentiable(*primals: Any) -> Any:
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
    """The array behind ``value``: a Tensor's data, a scalar or array as is, else converted
    (a NumPy view of a torch tensor's memory: :func:`owned_array` copies)."""
    if isinstance(value, TensorBase):
        return value._data
    if value is None or isinstance(value, int | float | bool | jax.Array | np.ndarray | np.generic):
        return value
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16: view the raw bits
            return value.view(sys.modules["torch"].int16).numpy().view(jnp.bfloat16)
        return value.numpy()
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


def enable_compilation_cache(directory: str) -> None:
    """Opt in to JAX's persistent compilation cache in ``directory``.

    Every kernel compiled from then on is also written there, and a later process that opts
    in with the same directory loads it instead of compiling: its first training step pays
    (almost) no compile time. This sets JAX's own options (``jax_compilation_cache_dir``,
    with no minimum compile time), so it affects all of JAX in this process.
    """
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _no_aux(op: Callable[..., Any]) -> Callable[..., tuple[Any, None]]:
    """``op`` as a kernel function: arrays -> ``(op(*arrays), None)``."""
    return functools.wraps(op)(lambda *arrays: (op(*arrays), None))


_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
          "backward through the graph a second time or if you need to access saved tensors after "
          "calling backward.")


@overload
def run_backward(roots: tuple[_Node, ...], seeds: tuple[Any, ...], targets: None,
                 retain_graph: bool) -> None: ...
@overload
def run_backward(roots: tuple[_Node, ...], seeds: tuple[Any, ...], targets: tuple[_Node, ...],
                 retain_graph: bool) -> tuple[jax.Array | None, ...]: ...
def run_backward(roots: tuple[_Node, ...], seeds: tuple[Any, ...],
                 targets: tuple[_Node, ...] | None, retain_graph: bool
                 ) -> tuple[jax.Array | None, ...] | None:
    """Push ``seeds`` (``None``: ones, given as ``(shape, dtype)``) back from ``roots``.

    With ``targets=None`` the cotangents reaching every leaf are added to its ``.grad``;
    otherwise they are returned, one per target node (``None`` where unreached). Without
    ``retain_graph`` the pullbacks that saved arrays are freed, as PyTorch frees saved tensors.
    The whole pass is one jitted kernel, cached by the graph's structure: a training loop that
    builds the same graph every step dispatches one kernel per ``backward()``, compiled once.
    """
    order = _reverse_topological_order(roots)
    position = {id(node): i for i, node in enumerate(order)}
    if any(node.pullback is None and node.leaf is None for node in order):
        raise RuntimeError(_FREED)
    structure = tuple(None if node.leaf is not None
                      else tuple(position[id(parent)] for parent in node.parents)
                      for node in order)
    pullbacks = tuple(node.pullback for node in order if node.leaf is None)
    ones = tuple(s if isinstance(s, tuple) else None for s in seeds)
    arrays = tuple(None if isinstance(s, tuple) else s for s in seeds)
    if targets is None:
        leaves = [node.leaf for node in order if node.leaf is not None]
        wanted = tuple(i for i, node in enumerate(order) if node.leaf is not None)
        grads = tuple(None if leaf.grad is None else leaf.grad._data for leaf in leaves)
    else:
        wanted = tuple(position.get(id(node), -1) for node in targets)
        grads = (None,) * len(wanted)
    starts = tuple(position[id(root)] for root in roots)
    results = _backward(structure, starts, ones, wanted, pullbacks, arrays, grads)
    if targets is None:  # accumulated into the existing .grad tensors, as PyTorch does
        for leaf, grad in zip(leaves, results, strict=True):
            if leaf.grad is None:
                leaf.grad = grad
            else:
                leaf.grad._data = grad
    if not retain_graph:  # freed once everything else has succeeded
        for node in order:
            if node.leaf is None and jax.tree_util.tree_leaves(node.pullback):
                node.pullback = None
    return None if targets is None else tuple(results)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _backward(structure: tuple, starts: tuple, ones: tuple, wanted: tuple, pullbacks: tuple,
              seeds: tuple, grads: tuple) -> list:
    """The cotangents at the ``wanted`` positions of ``structure``, added to ``grads``."""
    cotangents: list[Any] = [None] * len(structure)
    for start, shape, seed in zip(starts, ones, seeds, strict=True):
        seed = jnp.ones(*shape) if seed is None else seed
        previous = cotangents[start]
        cotangents[start] = seed if previous is None else previous + seed
    pulled = iter(pullbacks)
    for index, parents in enumerate(structure):
        if parents is None:
            continue
        for parent, parent_cotangent in zip(parents, next(pulled)(cotangents[index]),
                                            strict=True):
            previous = cotangents[parent]
            cotangents[parent] = (parent_cotangent if previous is None
                                  else previous + parent_cotangent)
    reached = [None if w < 0 else cotangents[w] for w in wanted]
    return [new if old is None else old if new is None else old + new
            for old, new in zip(grads, reached, strict=True)]


def _reverse_topological_order(roots: tuple[_Node, ...]) -> list[_Node]:
    """Every node reachable from ``roots``, each after all that consume it; roots first."""
    order, visited, stack = [], set(), [(root, False) for root in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents)
    return order[::-1]
