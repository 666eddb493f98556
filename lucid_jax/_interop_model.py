"""Whole models: a PyTorch state_dict <-> an NNX model or Linen variables, by module path.

Every Flax layer that holds parameters is found (NNX: by walking the model; Linen: by tracing
``model.init`` with :func:`jax.eval_shape` and :func:`flax.linen.intercept_methods`, which
costs no computation) and named as PyTorch would name it. Its rule in
:data:`lucid_jax._interop_rules.RULES` gives each Flax variable exactly one state_dict key and
a layout; the two key sets must be equal (``strict``). The stages (:class:`Plan`: the keys and
layouts of a list of :class:`Layer`; reading a state_dict; writing one) take any list of
layers: the one-layer converters of :mod:`lucid_jax._interop_layer` run them on one layer at
the root.

``num_batches_tracked`` has no Flax counterpart: it is accepted on the way in and written (0,
or the ``num_batches_tracked`` argument) on the way out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np
from jax.typing import DTypeLike

from lucid_jax._compat import assign, iter_modules
from lucid_jax._interop_common import (
    closest,
    listing,
    nearest,
    nnx_path,
    nnx_variables,
    require_collections,
    require_count,
    require_entries,
    to_numpy,
)
from lucid_jax._interop_rules import RULES, rule_for, supported

if TYPE_CHECKING:
    from flax import nnx

NNXModule = TypeVar("NNXModule", bound="nnx.Module")  # loaded in place and returned
Rename = Mapping[str, str] | Callable[[str], str] | None
Path = tuple[Any, ...]
Display = Callable[[Path], str]


class Variable(NamedTuple):
    """One Flax variable of a layer."""

    shape: tuple[int, ...]
    dtype: DTypeLike | None  # what it is loaded as; None: the state_dict value's own dtype
    where: Path  # (collection, *module path, name) for Linen; (*module path, name) for NNX


class Layer(NamedTuple):
    """A Flax module holding variables: its path (``()`` at the root), the module (``None``
    when unknown) and its variables by name, in the order their keys are written."""

    path: Path
    module: Any
    variables: Mapping[str, Variable]


@dataclass(frozen=True)
class _Entry:
    """One Flax variable and the state_dict key it corresponds to."""

    flax_path: Path   # Variable.where
    display: str      # how the user writes it: model.down[0].conv.kernel / params['down_0']...
    layer: str        # "<torch module path> (<Flax class>)" for messages
    torch_key: str
    shape: tuple[int, ...]  # the Flax variable's shape
    dtype: DTypeLike | None
    perm: tuple[int, ...] | None = None  # torch axes in Flax order (kernels); None: same layout
    flip: bool = False                   # reverse the spatial axes after transposing

    def torch_shape(self) -> tuple[int, ...]:
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


def _default_torch_path(parts: Path, linen: bool) -> str:
    """PyTorch's module path: ``('down', 0, 'conv')`` (NNX) or ``('down_0', 'conv')`` (Linen,
    whose lists of submodules are named ``<attribute>_<index>``) -> ``down.0.conv``."""
    out: list[str] = []
    for part in map(str, parts):
        match = re.fullmatch(r"(.+)_(\d+)", part) if linen else None
        out += [match[1], match[2]] if match else [part]
    return ".".join(out)


def _torch_path(parts: Path, linen: bool, rename: Rename) -> str:
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


def _key(torch_path: str, name: str) -> str:
    return ".".join(p for p in (torch_path, name) if p)


@dataclass(frozen=True)
class Plan:
    """The state_dict key, shape and layout of every variable of ``layers`` (``entries``) and
    the keys of their counters: everything checked that needs no values."""

    layers: list[Layer]
    entries: list[_Entry]
    counters: list[str]

    @classmethod
    def of(cls, layers: list[Layer], linen: bool, rename: Rename, display: Display) -> Plan:
        """Each layer by its rule; a layer without one, a model without layers, or two
        variables with one key (a ``rename`` that merges layers) is a ValueError."""
        entries, counters = [], []
        for layer in layers:
            kind = type(layer.module).__name__ if layer.module is not None else "a module"
            rule = rule_for(layer.module, layer.variables)
            if rule is None:
                raise ValueError(
                    f"no PyTorch conversion for {kind} at {display(layer.path)} (variables "
                    f"{sorted(layer.variables)}); supported: {supported()}"
                )
            torch_path = _torch_path(layer.path, linen, rename)
            described = f"{torch_path or '<root>'} ({kind})"
            for name, variable in layer.variables.items():
                perm, flip = (rule.layouts[name](layer.module, len(variable.shape))
                              if name in rule.layouts else (None, False))
                entries.append(_Entry(variable.where, display(variable.where), described,
                                      _key(torch_path, rule.torch_names[name]), variable.shape,
                                      variable.dtype, perm, flip))
            if rule.counter is not None and rule.buffers[0][0] in layer.variables:
                counters.append(_key(torch_path, rule.counter))
        seen: dict[str, _Entry] = {}
        for entry in entries:
            if entry.torch_key in seen:
                raise ValueError(
                    f"{seen[entry.torch_key].display} and {entry.display} both map to the "
                    f"state_dict key {entry.torch_key!r}; fix rename so that each Flax layer "
                    "has its own PyTorch module path"
                )
            seen[entry.torch_key] = entry
        if not entries:
            raise ValueError(f"the Flax model holds no parameters to convert; supported: "
                             f"{supported()}")
        return cls(layers, entries, counters)

    def read(self, state_dict: Any, strict: bool) -> dict[_Entry, np.ndarray]:
        """``{entry: Flax value (numpy)}`` for every entry the state_dict has; all checks
        first."""
        state_dict = {str(k): v for k, v in require_entries(state_dict).items()}
        error = self._unmatched_error(state_dict)
        if error is not None and strict:
            raise error
        values, wrong = {}, []
        for entry in self.entries:
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
                f"{listing([e.torch_key for e in self.entries], 5)}); map module paths with "
                "rename="
            )
        return values

    def _unmatched_error(self, state_dict: dict[str, Any]) -> ValueError | None:
        """The strict-mode error naming every unmatched key on either side, or None."""
        by_key = {e.torch_key: e for e in self.entries}
        extra = [k for k in state_dict if k not in by_key and k not in self.counters]
        missing = [e for e in self.entries if e.torch_key not in state_dict]
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

    def state_dict(self, values: Mapping[_Entry, Any],
                   num_batches_tracked: int | Mapping[str, int],
                   as_torch: bool) -> dict[str, Any]:
        """The state_dict of ``{entry: Flax value}`` plus the counters, in Flax's layer order
        (NumPy arrays, or torch tensors with ``as_torch``)."""
        if isinstance(num_batches_tracked, Mapping):
            layers = [c.rpartition(".")[0] for c in self.counters]
            unknown = [k for k in num_batches_tracked if k not in layers]
            if unknown:
                raise ValueError(
                    f"num_batches_tracked names {unknown}, which are not layers with running "
                    f"statistics; those are {listing(layers)}"
                )
            counts = {c: require_count(num_batches_tracked.get(layer, 0),
                                       f"num_batches_tracked[{layer!r}]")
                      for c, layer in zip(self.counters, layers, strict=True)}
        else:
            count = require_count(num_batches_tracked,
                                  expected="an int or a mapping of PyTorch module paths to ints")
            counts = dict.fromkeys(self.counters, count)
        out = {e.torch_key: e.to_torch(to_numpy(values[e])) for e in self.entries}
        out.update({c: np.array(n, np.int64) for c, n in counts.items()})
        if as_torch:
            import torch
            return {k: torch.from_numpy(v) for k, v in out.items()}
        return out


# --------------------------------------------------------------------------- hyperparameters

def _torch_source(source: Any, check_hyperparameters: bool) -> tuple[Any, dict[str, Any] | None]:
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


def _check_hyperparameters(torch_modules: Mapping[str, Any],
                           flax_modules: Iterable[tuple[Path, Any]], linen: bool,
                           rename: Rename) -> None:
    """Raise if a PyTorch layer and the Flax one at its path differ in a setting the
    state_dict does not carry (their rule's ``hyperparameters``). Only the paths of the Flax
    modules a rule configures are renamed: a ``rename`` function need not know the others."""
    lines = []
    for parts, flax_module in flax_modules:
        rule = next((r for r in RULES if r.configured_by is not None
                     and hasattr(flax_module, r.configured_by[1])), None)
        if rule is None or rule.configured_by is None:
            continue
        path = _torch_path(parts, linen, rename)
        torch_module = torch_modules.get(path)
        if torch_module is None or not hasattr(torch_module, rule.configured_by[0]):
            continue
        layer = (f"layer {path or '<root>'!r} ({type(torch_module).__name__} -> "
                 f"{type(flax_module).__name__})")
        lines += [f"  {layer}: {m}" for m in rule.mismatches(torch_module, flax_module)]
    if lines:
        raise ValueError(
            "the Flax model's normalisation layers differ from the PyTorch model's in settings "
            "a state_dict does not carry, so the port would compute something else:\n"
            + "\n".join(lines)
            + "\nConstruct the Flax layers as named, or pass check_hyperparameters=False to port "
            "the values anyway."
        )


# --------------------------------------------------------------------------------------- NNX

def _nnx_layers(model: Any) -> list[Layer]:
    from flax import nnx

    if not isinstance(model, nnx.Module):
        raise ValueError(f"expected an NNX model (flax.nnx.Module), got {type(model).__name__}")
    layers = []
    for parts, module in iter_modules(model):
        held = nnx_variables(module)
        if held:
            layers.append(Layer(parts, module, {
                name: Variable(tuple(v[...].shape), v[...].dtype, (*parts, name))
                for name, v in sorted(held.items())}))
    return sorted(layers, key=lambda layer: tuple(map(str, layer.path)))


def load_nnx(plan: Plan, state_dict: Any, strict: bool) -> None:
    """Write the state_dict's values into the NNX variables of ``plan``; everything is checked
    and converted before the first write."""
    import jax.numpy as jnp

    values = plan.read(state_dict, strict)
    owners = {layer.path: layer.module for layer in plan.layers}
    converted = [(getattr(owners[e.flax_path[:-1]], e.flax_path[-1]),
                  jnp.asarray(value, e.dtype)) for e, value in values.items()]
    for variable, value in converted:
        assign(variable, value)


def nnx_values(plan: Plan) -> dict[_Entry, Any]:
    """The arrays of the NNX variables of ``plan``."""
    owners = {layer.path: layer.module for layer in plan.layers}
    return {e: getattr(owners[e.flax_path[:-1]], e.flax_path[-1])[...] for e in plan.entries}


def torch_to_nnx(state_dict: Any, model: NNXModule, *, rename: Rename = None, strict: bool = True,
                 check_hyperparameters: bool = True) -> NNXModule:
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
    state_dict, torch_modules = _torch_source(state_dict, check_hyperparameters)
    plan = Plan.of(_nnx_layers(model), False, rename, nnx_path)
    if torch_modules is not None:
        _check_hyperparameters(torch_modules, iter_modules(model), False, rename)
    load_nnx(plan, state_dict, strict)
    return model


def nnx_to_torch(model: Any, *, rename: Rename = None,
                 num_batches_tracked: int | Mapping[str, int] = 0,
                 as_torch: bool = False) -> dict[str, Any]:
    """A PyTorch ``state_dict`` from an NNX ``model`` (NumPy arrays, torch tensors with
    ``as_torch``), keyed by module path as :func:`torch_to_nnx` reads it.

    ``num_batches_tracked`` fills the counters of layers with running statistics (Flax keeps
    none): an int for all of them, or a mapping of PyTorch module paths to ints.
    """
    plan = Plan.of(_nnx_layers(model), False, rename, nnx_path)
    return plan.state_dict(nnx_values(plan), num_batches_tracked, as_torch)


# ------------------------------------------------------------------------------------- Linen

def linen_display(path: Path) -> str:
    """A Linen variable as Python writes it: ``params['down_0']['conv']['kernel']``."""
    return path[0] + "".join(f"[{p!r}]" for p in path[1:])


def _flatten(tree: Any, path: Path = ()) -> dict[Path, Any]:
    if not isinstance(tree, Mapping):
        return {path: tree}
    out = {}
    for k, v in tree.items():
        out.update(_flatten(v, (*path, str(k))))
    return out


def _linen_layers(model: Any, inputs: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[list[Layer], dict[Path, Any]]:
    """Every Linen layer holding ``params``/``batch_stats``, and every module called (by
    path), from a shape-only trace of ``model.init``."""
    import jax
    from flax import linen as nn

    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a Linen model (flax.linen.Module), got "
                         f"{type(model).__name__}")
    modules: dict[Path, Any] = {}

    def record(next_fun: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any],
               context: Any) -> Any:
        modules.setdefault(tuple(context.module.path), context.module)
        return next_fun(*args, **kw)

    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    with nn.intercept_methods(record):
        shapes = jax.eval_shape(partial(model.init, **kwargs), rngs, *inputs)
    held: dict[Path, dict[str, Variable]] = {}
    for collection in ("params", "batch_stats"):
        for path, leaf in _flatten(shapes.get(collection, {})).items():
            held.setdefault(path[:-1], {})[path[-1]] = Variable(
                tuple(leaf.shape), leaf.dtype, (collection, *path))
    layers = [Layer(parts, modules.get(parts), dict(sorted(variables.items())))
              for parts, variables in held.items()]
    return layers, modules


def linen_variables(plan: Plan, state_dict: Any, strict: bool) -> dict[str, Any]:
    """The Linen variables tree of the state_dict's values."""
    import jax.numpy as jnp

    variables: dict[str, Any] = {}
    for entry, value in plan.read(state_dict, strict).items():
        *parents, name = entry.flax_path
        node = variables
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = jnp.asarray(value, entry.dtype)
    return variables


def linen_values(plan: Plan, variables: Any) -> dict[_Entry, Any]:
    """The arrays of ``variables`` by entry of ``plan``; the variables must hold exactly the
    plan's, with the same shapes."""
    variables = require_collections(variables)
    given = {p: v for c in ("params", "batch_stats") for p, v in
             _flatten({c: variables.get(c, {})}).items() if len(p) > 1}
    wanted = {e.flax_path: e for e in plan.entries}
    extra = [p for p in given if p not in wanted]
    missing = [p for p in wanted if p not in given]
    if extra or missing:
        lines = ["the variables do not match the model's (as model.init creates them):"]
        lines += [f"  not in the model: {linen_display(p)} {tuple(np.shape(given[p]))}"
                  f"{nearest(linen_display(p), [linen_display(q) for q in missing])}"
                  for p in extra]
        lines += [f"  missing: {linen_display(p)} {wanted[p].shape}"
                  f"{nearest(linen_display(p), [linen_display(q) for q in extra])}"
                  for p in missing]
        raise ValueError("\n".join(lines))
    wrong = [f"  {e.display}: the variables hold {tuple(np.shape(given[p]))}, the model "
             f"{e.shape} (layer {e.layer})" for p, e in wanted.items()
             if tuple(np.shape(given[p])) != e.shape]
    if wrong:
        raise ValueError("shape mismatch between the variables and the model:\n"
                         + "\n".join(wrong))
    return {e: given[p] for p, e in wanted.items()}


def torch_to_linen(state_dict: Any, model: Any, *inputs: Any, rename: Rename = None,
                   strict: bool = True, check_hyperparameters: bool = True,
                   **kwargs: Any) -> dict[str, Any]:
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
    state_dict, torch_modules = _torch_source(state_dict, check_hyperparameters)
    layers, modules = _linen_layers(model, inputs, kwargs)
    plan = Plan.of(layers, True, rename, linen_display)
    if torch_modules is not None:
        _check_hyperparameters(torch_modules, modules.items(), True, rename)
    return linen_variables(plan, state_dict, strict)


def linen_to_torch(variables: Any, model: Any, *inputs: Any, rename: Rename = None,
                   num_batches_tracked: int | Mapping[str, int] = 0, as_torch: bool = False,
                   **kwargs: Any) -> dict[str, Any]:
    """A PyTorch ``state_dict`` from a Linen ``model``'s ``variables``; ``inputs``/``kwargs``
    as in :func:`torch_to_linen`, ``num_batches_tracked`` as in :func:`nnx_to_torch`.

    The variables must hold exactly what ``model.init`` creates in ``params`` and
    ``batch_stats``, with the same shapes.
    """
    plan = Plan.of(_linen_layers(model, inputs, kwargs)[0], True, rename, linen_display)
    return plan.state_dict(linen_values(plan, variables), num_batches_tracked, as_torch)
