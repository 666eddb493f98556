"""Every difference between the supported JAX and Flax versions, one shim each.

The supported range is jax >= 0.5.2 (jaxlib >= 0.5.1) and flax >= 0.10.4 (Colab's runtime of
March 2025) up to the newest releases; ``make test-floor`` runs the suite at the floor. Each
shim names the version that needs it: delete it when the floor moves past that version. Only
this module looks at versions or probes for APIs. It does not import flax at import time
(``import lucid_jax`` must not load flax): the Flax shims import it when they are called.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jaxlib

JAX_FLOOR = "0.5.2"
JAXLIB_FLOOR = "0.5.1"
FLAX_FLOOR = "0.10.4"


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.5.2"`` -> ``(0, 5, 2)``; pre-release and local tails (``"0.6.0rc1+cuda"``) are dropped.

    >>> version_tuple("0.10.2.dev20260101")
    (0, 10, 2)
    """
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def require(package: str, installed: str, floor: str) -> None:
    """Raise one clear ``ImportError`` when ``installed`` is below ``floor``.

    >>> require("jax", "0.4.33", "0.5.2")
    Traceback (most recent call last):
    ...
    ImportError: lucid-jax needs jax>=0.5.2, but this environment has jax 0.4.33. ...
    """
    if version_tuple(installed) < version_tuple(floor):
        raise ImportError(
            f"lucid-jax needs {package}>={floor}, but this environment has {package} "
            f"{installed}. Upgrade it with: pip install -U '{package}>={floor}' (on a GPU or "
            f"TPU runtime, upgrade JAX for it: 'jax[cuda12]>={JAX_FLOOR}' or "
            f"'jax[tpu]>={JAX_FLOOR}'), then restart the Python process."
        )


require("jax", jax.__version__, JAX_FLOOR)
require("jaxlib", jaxlib.__version__, JAXLIB_FLOOR)


# jax < 0.6 has no jax.lax.axis_size; psum of 1 over the axis is its size (a constant).
if hasattr(jax.lax, "axis_size"):
    axis_size: Callable[[Any], Any] = jax.lax.axis_size
else:
    def axis_size(axis_name: Any) -> Any:
        """The size of a bound mapped axis; ``NameError`` when it is not bound."""
        return jax.lax.psum(1, axis_name)


# jax < 0.6 has no jax.shard_map (it lives in jax.experimental, with `check_rep`).
if hasattr(jax, "shard_map"):
    shard_map: Callable[..., Any] = jax.shard_map
else:
    from jax.experimental.shard_map import shard_map as _experimental_shard_map

    def shard_map(f: Callable[..., Any], *, mesh: Any, in_specs: Any, out_specs: Any,
                  check_vma: bool = True) -> Callable[..., Any]:
        """``jax.shard_map`` with an explicit mesh, on the experimental API."""
        return _experimental_shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                                       check_rep=check_vma)


# How a gradient taken inside shard_map treats a psum-ed loss. jax.shard_map tracks which values
# vary across devices (check_vma), so differentiating the psum-ed loss is right. The experimental
# shard_map of jax < 0.6 follows pmap: psum transposes to psum, so differentiate the *local* loss
# and psum the gradients of replicated inputs yourself.
SHARD_MAP_TRACKS_VARYING = hasattr(jax, "shard_map")


# jax < 0.7 has no jax.enable_x64 context manager (jax.experimental.enable_x64 before it).
if hasattr(jax, "enable_x64"):
    enable_x64: Callable[..., Any] = jax.enable_x64
else:  # imported by name: the newest jax (which mypy reads) has no jax.experimental.enable_x64
    enable_x64 = importlib.import_module("jax.experimental").enable_x64


# jax < 0.6 has no explicit sharding in types (jax.typeof, jax.sharding.AxisType): no array
# can then carry an explicitly sharded axis.
HAS_EXPLICIT_SHARDING = hasattr(jax, "typeof") and hasattr(jax.sharding, "AxisType")


def explicit_partition(x: jax.Array) -> tuple[Any, ...]:
    """The explicit-sharding spec carried by ``x``'s type, one entry per axis (``()`` if none).

    >>> import jax.numpy as jnp
    >>> all(part is None for part in explicit_partition(jnp.ones((2, 3))))
    True
    """
    if not HAS_EXPLICIT_SHARDING:
        return ()
    return tuple(jax.typeof(x).sharding.spec)


def require_flax() -> None:
    """The Flax modules' import-time check (``ImportError`` below the floor)."""
    import flax

    require("flax", flax.__version__, FLAX_FLOOR)


def iter_modules(module: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """``(path, submodule)`` for every NNX module in ``module``, ``module`` itself last."""
    from flax import nnx

    if hasattr(nnx, "iter_modules"):  # flax >= 0.12.1
        yield from nnx.iter_modules(module)
        return
    # flax < 0.12.1: walk the graph and keep the modules.
    for path, node in nnx.iter_graph(module):
        if isinstance(node, nnx.Module):
            yield path, node


@functools.cache
def flax_version() -> tuple[int, ...]:
    """The installed Flax version as a tuple (Flax is imported on the first call)."""
    import flax

    return version_tuple(flax.__version__)


def assign(variable: Any, value: Any) -> None:
    """Replace an NNX variable's array, as ``variable[...] = value`` does on flax >= 0.11."""
    if flax_version() >= (0, 11):
        variable[...] = value
    else:  # flax < 0.11: `variable[...] = value` would write into the immutable jax array
        variable.value = value


def value_of(variable: Any) -> Any:
    """An NNX variable's (or ``nnx.state`` leaf's) array, as ``variable[...]`` on flax >= 0.11."""
    if flax_version() >= (0, 11) or not hasattr(variable, "value"):
        return variable[...]
    return variable.value  # flax < 0.11: state leaves are VariableStates, not subscriptable


def nnx_optimizer(model: Any, tx: Any) -> Any:
    """``nnx.Optimizer`` over the model's ``nnx.Param``s (flax >= 0.11 requires ``wrt``)."""
    from flax import nnx

    return nnx.Optimizer(model, tx, wrt=nnx.Param)


def optimizer_update(optimizer: Any, model: Any, grads: Any) -> None:
    """One ``nnx.Optimizer`` step (flax < 0.11's ``update`` takes the gradients only)."""
    if flax_version() >= (0, 11):
        optimizer.update(model, grads)
    else:
        optimizer.update(grads)


def auto_mesh(axis_shapes: tuple[int, ...], axis_names: tuple[str, ...]) -> Any:
    """``jax.make_mesh`` with every axis ``Auto`` (the only kind before jax 0.6)."""
    if not HAS_EXPLICIT_SHARDING:
        return jax.make_mesh(axis_shapes, axis_names)
    return jax.make_mesh(axis_shapes, axis_names,
                         axis_types=(jax.sharding.AxisType.Auto,) * len(axis_names))
