"""Whole models: a PyTorch state_dict <-> an NNX model or Linen variables, by module path.

Every Flax layer that holds parameters is found (NNX: by walking the model; Linen: by tracing
``model.init`` with :func:`jax.eval_shape` and :func:`flax.linen.intercept_methods`, which
costs no computation) and named as PyTorch would name it. Each Flax variable then has exactly
one state_dict key; the two key sets must be equal (``strict``), and each value is converted
by its layer's rule:

- ``Conv`` <-> ``Conv1d/2d/3d``: ``(O, I, *k)`` <-> ``(*k, I, O)``.
- ``ConvTranspose`` <-> ``ConvTranspose1d/2d/3d``: ``(I, O, *k)`` <-> ``(*k, I, O)`` with the
  spatial axes reversed (PyTorch's transposed convolution is the gradient of a convolution,
  Flax's ``lax.conv_transpose`` does not flip); with ``transpose_kernel=True`` Flax flips
  itself and the kernel is ``(*k, O, I)``, not reversed. Padding: see
  :func:`conv_transpose_padding`.
- ``Linear`` / ``Dense`` <-> ``Linear``: ``(O, I)`` <-> ``(I, O)``.
- normalisation layers (Flax ``scale``/``bias`` params, ``mean``/``var`` batch_stats: this
  package's InstanceNorm, ``BatchNorm``, ``GroupNorm``, ``LayerNorm``) <-> ``weight``/``bias``,
  ``running_mean``/``running_var`` of ``InstanceNorm``, ``BatchNorm``, ``GroupNorm``,
  ``LayerNorm``.

``num_batches_tracked`` has no Flax counterpart: it is accepted on the way in and written (0,
or the ``num_batches_tracked`` argument) on the way out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from lucid_jax._compat import assign, iter_modules
from lucid_jax._interop_common import (
    COUNTER,
    NORM_FLAX,
    PARAMS,
    STATS,
    closest,
    listing,
    nearest,
    nnx_path,
    to_numpy,
)
from lucid_jax._momentum import flax_momentum

_TORCH_NAME = {"kernel": "weight", **{flax: torch for torch, flax in PARAMS + STATS}}
_SUPPORTED = ("Conv, ConvTranspose, Linear/Dense, and normalisation layers holding "
              "scale/bias/mean/var (InstanceNorm, BatchNorm, GroupNorm, LayerNorm)")

Rename = Mapping[str, str] | Callable[[str], str] | None


@dataclass(frozen=True)
class _Entry:
    """One Flax variable and the state_dict key it corresponds to."""

    flax_path: tuple  # (collection, *module path, name) for Linen; (*module path, name) for NNX
    display: str      # how the user writes it: model.down[0].conv.kernel / params['down_0']...
    layer: str        # "<torch module path> (<Flax class>)" for messages
    torch_key: str
    shape: tuple      # the Flax variable's shape
    dtype: Any
    perm: tuple | None = None  # torch axes in Flax order (kernels); None: same layout
    flip: bool = False         # reverse the spatial axes (ConvTranspose, transpose_kernel=False)

    def torch_shape(self) -> tuple:
        if self.perm is None:
            return self.shape
        return tuple(self.shape[i] for i in np.argsort(self.perm))

    def to_flax(self, value: np.ndarray) -> np.ndarray:
        if self.perm is not None:
            value = np.transpose(value, self.perm)
            if self.flip:
                value = np.flip(value, tuple(range(value.ndim - 2)))
        return value

    def to_torch(self, value: np.ndarray) -> np.ndarray:
        if self.perm is not None:
            if self.flip:
                value = np.flip(value, tuple(range(value.ndim - 2)))
            value = np.transpose(value, np.argsort(self.perm))
        return np.ascontiguousarray(value)


def _kernel_layout(module, ndim: int, flax_nnx, flax_linen) -> tuple[tuple, bool]:
    """``(perm, flip)`` taking a torch weight to this layer's Flax kernel."""
    spatial = tuple(range(2, ndim))
    if isinstance(module, flax_nnx.ConvTranspose | flax_linen.ConvTranspose):
        if module.transpose_kernel:      # Flax flips and swaps itself: kernel is (*k, O, I)
            return (*spatial, 1, 0), False
        return (*spatial, 0, 1), True    # (*k, I, O), the gradient-of-conv flip done here
    if isinstance(module, flax_nnx.Conv | flax_linen.Conv):
        return (*spatial, 1, 0), False
    return (1, 0), False                  # Linear / Dense


def _default_torch_path(parts: tuple, linen: bool) -> str:
    """PyTorch's module path: ``('down', 0, 'conv')`` (NNX) or ``('down_0', 'conv')`` (Linen,
    whose lists of submodules are named ``<attribute>_<index>``) -> ``down.0.conv``."""
    out = []
    for part in map(str, parts):
        match = re.fullmatch(r"(.+)_(\d+)", part) if linen else None
        out += [match[1], match[2]] if match else [part]
    return ".".join(out)


def _torch_path(parts: tuple, linen: bool, rename: Rename) -> str:
    flax_path = ".".join(map(str, parts))
    if rename is None:
        return _default_torch_path(parts, linen)
    if callable(rename):
        renamed = rename(flax_path)
        if not isinstance(renamed, str):
            raise ValueError(f"rename({flax_path!r}) returned {renamed!r}; it must return the "
                             "PyTorch module path as a str such as 'down.0.conv'")
        return renamed
    if not isinstance(rename, Mapping):
        raise ValueError(f"rename must be a mapping of Flax module paths to PyTorch ones, or a "
                         f"function of the Flax path, got {type(rename).__name__}")
    out, i = [rename.get("", "")], 0  # an empty key prefixes every path
    while i < len(parts):  # left to right, the longest run of path components the mapping names
        for n in range(len(parts) - i, 0, -1):
            run = ".".join(map(str, parts[i:i + n]))
            if run in rename:
                out.append(rename[run])
                break
        else:
            n = 1
            out.append(_default_torch_path(parts[i:i + 1], linen))
        i += n
    return ".".join(p for p in out if p)


def _entries(layers, linen: bool, rename: Rename, display) -> tuple[list[_Entry], list[str]]:
    """The entries of ``layers`` (``(module path, module, {name: (shape, dtype, path)})``) and
    the state_dict keys of their counters."""
    from flax import linen as flax_linen
    from flax import nnx as flax_nnx

    entries, counters = [], []
    for parts, module, variables in layers:
        kind = type(module).__name__ if module is not None else "a module"
        names = set(variables)
        if isinstance(module, flax_nnx.Conv | flax_nnx.ConvTranspose | flax_nnx.Linear
                      | flax_linen.Conv | flax_linen.ConvTranspose | flax_linen.Dense):
            supported = "kernel" in names and names <= {"kernel", "bias"}
        else:
            supported = names <= NORM_FLAX
        if not supported:
            raise ValueError(
                f"no PyTorch conversion for {kind} at {display(parts)} (variables "
                f"{sorted(variables)}); supported: {_SUPPORTED}"
            )
        torch_path = _torch_path(parts, linen, rename)
        layer = f"{torch_path or '<root>'} ({kind})"
        for name, (shape, dtype, path) in sorted(variables.items()):
            layout = {}
            if name == "kernel":
                perm, flip = _kernel_layout(module, len(shape), flax_nnx, flax_linen)
                layout = {"perm": perm, "flip": flip}
            key = ".".join(p for p in (torch_path, _TORCH_NAME[name]) if p)
            entries.append(_Entry(path, display(path), layer, key, tuple(shape), dtype,
                                  **layout))
        if "mean" in names:
            counters.append(".".join(p for p in (torch_path, COUNTER) if p))
    seen: dict[str, _Entry] = {}
    for entry in entries:
        if entry.torch_key in seen:
            raise ValueError(
                f"{seen[entry.torch_key].display} and {entry.display} both map to the "
                f"state_dict key {entry.torch_key!r}; fix rename so that each Flax layer has "
                "its own PyTorch module path"
            )
        seen[entry.torch_key] = entry
    if not entries:
        raise ValueError(f"the Flax model holds no parameters to convert; supported: {_SUPPORTED}")
    return entries, counters


def _unmatched_error(entries, counters, state_dict) -> ValueError | None:
    """The strict-mode error naming every unmatched key on either side, or None."""
    by_key = {e.torch_key: e for e in entries}
    extra = [k for k in state_dict if k not in by_key and k not in counters]
    missing = [e for e in entries if e.torch_key not in state_dict]
    if not extra and not missing:
        return None
    lines = []
    if extra:
        lines.append(f"{len(extra)} state_dict key(s) match no Flax variable:")
        targets = [e.torch_key for e in missing] or list(by_key)
        for k in extra:
            close = closest(k, targets)
            hint = "" if close is None else (
                f"; nearest: {close!r} (for {by_key[close].display}, expects "
                f"{by_key[close].torch_shape()})")
            lines.append(f"  {k!r} {tuple(np.shape(state_dict[k]))}{hint}")
    if missing:
        lines.append(f"{len(missing)} Flax variable(s) have no state_dict key:")
        for e in missing:
            close = closest(e.torch_key, extra or list(state_dict))
            hint = "" if close is None else (
                f"; nearest: {close!r} {tuple(np.shape(state_dict[close]))}")
            lines.append(f"  {e.display} {e.shape} <- {e.torch_key!r} "
                         f"{e.torch_shape()}{hint}")
    lines.append("Map module paths with rename= (Flax path -> PyTorch path), or pass "
                 "strict=False to convert only the keys that match.")
    return ValueError("\n".join(lines))


def _convert_in(entries, counters, state_dict, strict: bool) -> dict:
    """``{entry: Flax value (numpy)}`` for every entry the state_dict has; all checks first."""
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"expected a state_dict (a mapping of names to arrays), got "
                         f"{type(state_dict).__name__}")
    if len(state_dict) == 0:
        raise ValueError("the state_dict is empty: there is nothing to convert")
    state_dict = {str(k): v for k, v in state_dict.items()}
    error = _unmatched_error(entries, counters, state_dict)
    if error is not None and strict:
        raise error
    values, wrong = {}, []
    for entry in entries:
        if entry.torch_key not in state_dict:
            continue
        value = to_numpy(state_dict[entry.torch_key])
        if value.shape != entry.torch_shape():
            wrong.append(f"  layer {entry.layer}: state_dict {entry.torch_key!r} has shape "
                         f"{value.shape}, {entry.display} needs {entry.torch_shape()} "
                         f"(Flax shape {entry.shape})")
            continue
        values[entry] = entry.to_flax(value)
    if wrong:
        raise ValueError("shape mismatch between the state_dict and the Flax model:\n"
                         + "\n".join(wrong))
    if not values:
        raise ValueError(
            f"no state_dict key matches a Flax variable (state_dict keys "
            f"{listing(list(state_dict), 5)}, Flax expects "
            f"{listing([e.torch_key for e in entries], 5)}); map module paths with rename="
        )
    return values


def _convert_out(entries, counters, values: dict, num_batches_tracked, as_torch: bool) -> dict:
    """The state_dict of ``{entry: Flax value}`` plus the counters, in Flax's layer order."""
    if isinstance(num_batches_tracked, Mapping):
        layers = [c.rpartition(".")[0] for c in counters]
        unknown = [k for k in num_batches_tracked if k not in layers]
        if unknown:
            raise ValueError(
                f"num_batches_tracked names {unknown}, which are not layers with running "
                f"statistics; those are {listing(layers)}"
            )
        counts = {c: num_batches_tracked.get(c.rpartition(".")[0], 0) for c in counters}
    else:
        counts = dict.fromkeys(counters, num_batches_tracked)
    out = {e.torch_key: e.to_torch(to_numpy(values[e])) for e in entries}
    out.update({c: np.array(n, np.int64) for c, n in counts.items()})
    if as_torch:
        import torch
        out = {k: torch.from_numpy(v) for k, v in out.items()}
    return out


# --------------------------------------------------------------------------- hyperparameters

def _torch_source(source, check_hyperparameters: bool):
    """``(state_dict, torch modules by path or None)`` from a state_dict or a module (anything
    with ``state_dict()`` and ``named_modules()``: a ``torch.nn.Module``, a ``lucid`` one)."""
    if not isinstance(check_hyperparameters, bool):
        raise ValueError(f"check_hyperparameters must be True or False, got "
                         f"{check_hyperparameters!r}")
    if callable(getattr(source, "state_dict", None)) and callable(
            getattr(source, "named_modules", None)):
        modules = dict(source.named_modules()) if check_hyperparameters else None
        return source.state_dict(), modules
    return source, None


def _same(a, b) -> bool:
    return a is b or (a is not None and b is not None and bool(np.isclose(a, b, rtol=1e-6,
                                                                          atol=0.0)))


def _mismatches(torch_module, flax_module) -> list[str]:
    """``'<PyTorch> vs <Flax>: construct it with <fix>'`` for each normalisation setting in
    which the Flax layer would compute something else than the PyTorch one."""
    found = []
    if not _same(float(torch_module.eps), float(flax_module.epsilon)):
        found.append(f"eps {torch_module.eps} in PyTorch, epsilon {flax_module.epsilon} in "
                     f"Flax: construct it with epsilon={torch_module.eps}")
    if hasattr(flax_module, "num_groups") and hasattr(torch_module, "num_groups") and (
            torch_module.num_groups != flax_module.num_groups):
        found.append(f"num_groups {torch_module.num_groups} in PyTorch, "
                     f"{flax_module.num_groups} in Flax: construct it with "
                     f"num_groups={torch_module.num_groups}")
    for torch_name, flax_name in (("weight", "use_scale"), ("bias", "use_bias")):
        held = getattr(torch_module, torch_name, None) is not None
        if hasattr(flax_module, flax_name) and bool(getattr(flax_module, flax_name)) != held:
            setting = ("affine" if hasattr(torch_module, "affine")  # LayerNorm's names:
                       else "elementwise_affine" if torch_name == "weight" else "bias")
            found.append(f"{setting}={held} in PyTorch ({torch_name} "
                         f"{'present' if held else 'None'}), {flax_name}="
                         f"{getattr(flax_module, flax_name)} in Flax: construct it with "
                         f"{flax_name}={held}")
    tracking = bool(getattr(torch_module, "track_running_stats", False))
    if hasattr(flax_module, "track_running_stats") and hasattr(
            torch_module, "track_running_stats") and (
            tracking != bool(flax_module.track_running_stats)):
        found.append(f"track_running_stats={tracking} in PyTorch, track_running_stats="
                     f"{flax_module.track_running_stats} in Flax: construct it with "
                     f"track_running_stats={tracking}")
    if tracking and hasattr(flax_module, "momentum") and hasattr(torch_module, "momentum"):
        momentum = torch_module.momentum
        if momentum is None and "InstanceNorm" not in type(torch_module).__name__:
            found.append(f"momentum=None in PyTorch (a cumulative average of all batches), "
                         f"which no Flax momentum reproduces; momentum {flax_module.momentum} "
                         f"in Flax")
        else:
            wanted = flax_momentum(momentum)
            if not _same(wanted, float(flax_module.momentum)):
                found.append(f"momentum {momentum} in PyTorch (Flax's convention: {wanted}, the "
                             f"weight of the old value), momentum {flax_module.momentum} in "
                             f"Flax: construct it with momentum={wanted}")
    return found


def _check_hyperparameters(torch_modules: dict, flax_modules) -> None:
    """Raise if a PyTorch normalisation layer and the Flax one at its path differ in a setting
    the state_dict does not carry. ``flax_modules``: ``(torch path, Flax normalisation
    layer)``, those with an ``epsilon`` (only their paths are renamed: a ``rename`` function
    need not know the others)."""
    lines = []
    for path, flax_module in flax_modules:
        torch_module = torch_modules.get(path)
        if torch_module is None or not hasattr(torch_module, "eps"):
            continue
        layer = (f"layer {path or '<root>'!r} ({type(torch_module).__name__} -> "
                 f"{type(flax_module).__name__})")
        lines += [f"  {layer}: {m}" for m in _mismatches(torch_module, flax_module)]
    if lines:
        raise ValueError(
            "the Flax model's normalisation layers differ from the PyTorch model's in settings "
            "a state_dict does not carry, so the port would compute something else:\n"
            + "\n".join(lines)
            + "\nConstruct the Flax layers as named, or pass check_hyperparameters=False to port "
            "the values anyway."
        )


# --------------------------------------------------------------------------------------- NNX

def _nnx_layers(model):
    from flax import nnx

    if not isinstance(model, nnx.Module):
        raise ValueError(f"expected an NNX model (flax.nnx.Module), got {type(model).__name__}")
    layers = []
    for parts, module in iter_modules(model):
        held = {name: v for name, v in vars(module).items()
                if isinstance(v, nnx.Param | nnx.BatchStat)}
        if held:
            layers.append((parts, module, {
                name: (tuple(v[...].shape), v[...].dtype, (*parts, name))
                for name, v in held.items()}))
    return sorted(layers, key=lambda layer: tuple(map(str, layer[0])))


def _nnx_norms(model, rename: Rename) -> list[tuple[str, Any]]:
    """``(PyTorch module path, module)`` of every normalisation layer of an NNX ``model``."""
    return [(_torch_path(parts, False, rename), node) for parts, node in iter_modules(model)
            if hasattr(node, "epsilon")]


def torch_to_nnx(state_dict, model, *, rename: Rename = None, strict: bool = True,
                 check_hyperparameters: bool = True):
    """Load a PyTorch ``state_dict`` (or a ``torch.nn.Module``'s) into an NNX ``model``, in
    place; returns the model.

    Keys map by module path: ``down.0.conv.weight`` is ``model.down[0].conv.kernel``.
    ``rename`` maps Flax module paths to PyTorch ones where the attribute names differ:
    a function of the dotted Flax path, or a dict whose keys are runs of path components,
    replaced wherever they occur, at any depth (the longest run first, left to right; an
    empty value drops it; an empty key prefixes every path): ``{'layers': ''}`` maps
    ``nnx.Sequential``'s ``layers.0`` and a nested one's ``stem.layers.1`` to PyTorch's ``0``
    and ``stem.1``. Strict by default: an
    unmatched key on either side, or a shape mismatch, is a ValueError naming them, and
    nothing is written; ``strict=False`` loads the keys that match and leaves the rest.

    Given the ``torch.nn.Module`` itself (or a ``lucid`` one) instead of its state_dict, the
    settings a state_dict does not carry are compared first: each normalisation layer's
    ``eps``, ``momentum`` (converted by :func:`lucid_jax.interop.flax_momentum`), ``affine``
    (``use_scale``/``use_bias``), ``track_running_stats`` and ``num_groups`` against the Flax
    layer at the same path. A difference is a ValueError naming the layer, both values and
    the constructor argument that fixes it, unless ``check_hyperparameters=False``.

    >>> import torch
    >>> from flax import nnx
    >>> from lucid_jax import interop
    >>> torch_model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
    ...                                   torch.nn.ConvTranspose2d(8, 3, 3))
    >>> model = nnx.Sequential(nnx.Conv(3, 8, (3, 3), padding="VALID", rngs=nnx.Rngs(0)),
    ...                        nnx.relu,
    ...                        nnx.ConvTranspose(8, 3, (3, 3), padding="VALID", rngs=nnx.Rngs(0)))
    >>> model = interop.torch_to_nnx(torch_model.state_dict(), model, rename={"layers": ""})
    >>> x = torch.randn(1, 3, 9, 9)
    >>> y = model(interop.to_channels_last(x.numpy()))
    >>> float(abs(interop.to_channels_first(y) - torch_model(x).detach().numpy()).max()) < 1e-5
    True
    """
    import jax.numpy as jnp

    state_dict, torch_modules = _torch_source(state_dict, check_hyperparameters)
    layers = _nnx_layers(model)
    entries, counters = _entries(layers, False, rename, nnx_path)
    if torch_modules is not None:
        _check_hyperparameters(torch_modules, _nnx_norms(model, rename))
    values = _convert_in(entries, counters, state_dict, strict)
    owners = {parts: module for parts, module, _ in layers}
    converted = [(getattr(owners[e.flax_path[:-1]], e.flax_path[-1]),
                  jnp.asarray(value, e.dtype)) for e, value in values.items()]
    for variable, value in converted:  # everything checked and converted: now write
        assign(variable, value)
    return model


def nnx_to_torch(model, *, rename: Rename = None, num_batches_tracked: int | Mapping = 0,
                 as_torch: bool = False) -> dict:
    """A PyTorch ``state_dict`` from an NNX ``model`` (NumPy arrays, torch tensors with
    ``as_torch``), keyed by module path as :func:`torch_to_nnx` reads it.

    ``num_batches_tracked`` fills the counters of layers with running statistics (Flax keeps
    none): an int for all of them, or a mapping of PyTorch module paths to ints.
    """
    layers = _nnx_layers(model)
    entries, counters = _entries(layers, False, rename, nnx_path)
    owners = {parts: module for parts, module, _ in layers}
    values = {e: getattr(owners[e.flax_path[:-1]], e.flax_path[-1])[...] for e in entries}
    return _convert_out(entries, counters, values, num_batches_tracked, as_torch)


# ------------------------------------------------------------------------------------- Linen

def _linen_display(path: tuple) -> str:
    return path[0] + "".join(f"[{p!r}]" for p in path[1:])


def _flatten(tree, path=()) -> dict:
    if not isinstance(tree, Mapping):
        return {path: tree}
    out = {}
    for k, v in tree.items():
        out.update(_flatten(v, (*path, str(k))))
    return out


def _linen_layers(model, inputs, kwargs) -> tuple[list, dict]:
    """``(module path, module, {name: (shape, dtype, (collection, *path, name))})`` of every
    Linen layer holding ``params``/``batch_stats``, and every module called (by path), from a
    shape-only trace of ``model.init``."""
    import jax
    from flax import linen as nn

    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a Linen model (flax.linen.Module), got "
                         f"{type(model).__name__}")
    modules: dict[tuple, Any] = {}

    def record(next_fun, args, kw, context):
        modules.setdefault(tuple(context.module.path), context.module)
        return next_fun(*args, **kw)

    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    with nn.intercept_methods(record):
        shapes = jax.eval_shape(partial(model.init, **kwargs), rngs, *inputs)
    layers: dict[tuple, dict] = {}
    for collection in ("params", "batch_stats"):
        for path, leaf in _flatten(shapes.get(collection, {})).items():
            layers.setdefault(path[:-1], {})[path[-1]] = (
                tuple(leaf.shape), leaf.dtype, (collection, *path))
    return [(parts, modules.get(parts), held) for parts, held in layers.items()], modules


def torch_to_linen(state_dict, model, *inputs, rename: Rename = None, strict: bool = True,
                   check_hyperparameters: bool = True, **kwargs) -> dict:
    """Linen variables ``{'params': ..., 'batch_stats': ...}`` for ``model`` from a PyTorch
    ``state_dict`` (or a ``torch.nn.Module``'s).

    ``inputs`` (arrays or :class:`jax.ShapeDtypeStruct`) and ``kwargs`` are what
    ``model.init`` takes after the random key: the model is traced once, shapes only, to find
    each layer's type (a ``Conv`` and a ``ConvTranspose`` kernel cannot be told apart by
    shape). Keys map by module path, Linen's list names ``down_0`` being PyTorch's ``down.0``:
    ``down.0.conv.weight`` is ``params['down_0']['conv']['kernel']``. ``rename``, ``strict``
    and ``check_hyperparameters`` (given a module) as in :func:`torch_to_nnx`; with
    ``strict=False`` only the converted variables are returned.
    """
    import jax.numpy as jnp

    state_dict, torch_modules = _torch_source(state_dict, check_hyperparameters)
    layers, modules = _linen_layers(model, inputs, kwargs)
    entries, counters = _entries(layers, True, rename, _linen_display)
    if torch_modules is not None:
        _check_hyperparameters(torch_modules, [(_torch_path(parts, True, rename), module)
                                               for parts, module in modules.items()
                                               if hasattr(module, "epsilon")])
    values = _convert_in(entries, counters, state_dict, strict)
    variables: dict = {}
    for entry, value in values.items():
        *parents, name = entry.flax_path
        node = variables
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = jnp.asarray(value, entry.dtype)
    return variables


def linen_to_torch(variables, model, *inputs, rename: Rename = None,
                   num_batches_tracked: int | Mapping = 0, as_torch: bool = False,
                   **kwargs) -> dict:
    """A PyTorch ``state_dict`` from a Linen ``model``'s ``variables``; ``inputs``/``kwargs``
    as in :func:`torch_to_linen`, ``num_batches_tracked`` as in :func:`nnx_to_torch`.

    The variables must hold exactly what ``model.init`` creates in ``params`` and
    ``batch_stats``, with the same shapes.
    """
    entries, counters = _entries(_linen_layers(model, inputs, kwargs)[0], True, rename,
                                 _linen_display)
    if not isinstance(variables, Mapping):
        raise ValueError(f"expected Linen variables (a dict of collections), got "
                         f"{type(variables).__name__}")
    given = {p: v for c in ("params", "batch_stats") for p, v in
             _flatten({c: variables.get(c, {})}).items() if len(p) > 1}
    wanted = {e.flax_path: e for e in entries}
    extra = [p for p in given if p not in wanted]
    missing = [p for p in wanted if p not in given]
    if extra or missing:
        lines = ["the variables do not match the model's (as model.init creates them):"]
        lines += [f"  not in the model: {_linen_display(p)} {tuple(np.shape(given[p]))}"
                  f"{nearest(_linen_display(p), [_linen_display(q) for q in missing])}"
                  for p in extra]
        lines += [f"  missing: {_linen_display(p)} {wanted[p].shape}"
                  f"{nearest(_linen_display(p), [_linen_display(q) for q in extra])}"
                  for p in missing]
        raise ValueError("\n".join(lines))
    wrong = [f"  {e.display}: the variables hold {tuple(np.shape(given[p]))}, the model "
             f"{e.shape} (layer {e.layer})" for p, e in wanted.items()
             if tuple(np.shape(given[p])) != e.shape]
    if wrong:
        raise ValueError("shape mismatch between the variables and the model:\n"
                         + "\n".join(wrong))
    values = {e: given[p] for p, e in wanted.items()}
    return _convert_out(entries, counters, values, num_batches_tracked, as_torch)


def conv_transpose_padding(kernel_size, padding=0, output_padding=0, dilation=1) -> list:
    """Flax ``ConvTranspose`` padding equal to PyTorch ``ConvTranspose`` ``padding`` and
    ``output_padding``: ``(d*(k-1) - p, d*(k-1) - p + output_padding)`` per spatial axis.

    Ints apply to every axis of ``kernel_size``; use the same ``strides`` and
    ``kernel_dilation`` in Flax.

    >>> conv_transpose_padding((3, 3), padding=1, output_padding=1)   # CycleGAN's upsampling
    [(1, 2), (1, 2)]
    """
    kernel_size = tuple(kernel_size) if not isinstance(kernel_size, int) else (kernel_size,)
    n = len(kernel_size)

    def per_axis(value, name):
        values = (value,) * n if isinstance(value, int) else tuple(value)
        if len(values) != n:
            raise ValueError(f"{name}={value!r} has {len(values)} entries for a "
                             f"{n}-dimensional kernel_size={kernel_size!r}")
        return values

    pairs = []
    for k, p, op, d in zip(kernel_size, per_axis(padding, "padding"),
                           per_axis(output_padding, "output_padding"),
                           per_axis(dilation, "dilation"), strict=True):
        lo = d * (k - 1) - p
        if lo < 0:
            raise ValueError(f"padding={padding!r} exceeds dilation * (kernel_size - 1) = "
                             f"{d * (k - 1)}: no Flax padding gives PyTorch's output")
        pairs.append((lo, lo + op))
    return pairs
