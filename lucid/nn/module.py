"""``Module``: PyTorch's registry of parameters, buffers and sub-modules.

Parameters, buffers and sub-modules live as ordinary attributes (fast to read in ``forward``);
the module remembers which names are which. State changes only through attribute assignment,
the modules' own ``forward`` and :meth:`Module.load_state_dict`, which validates everything
before it writes anything.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np

from lucid._autograd import owned_array
from lucid._tensor import Tensor, check_dtype, resolve_device
from lucid.nn.parameter import Parameter, UninitializedParameterWarning, _Uninitialized

_LOAD_UNINITIALIZED = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes."
)


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of lucid layers: ``parameters()``, ``state_dict()``, ``train()``/``eval()``.

    >>> import lucid
    >>> from lucid.nn import Module, Parameter
    >>> class Scale(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.weight = Parameter(lucid.ones(3))
    ...         self.register_buffer("calls", lucid.zeros(()))
    ...     def forward(self, x):
    ...         return x * self.weight
    >>> m = Scale()
    >>> [name for name, _ in m.named_parameters()], list(m.state_dict())
    (['weight'], ['weight', 'calls'])
    >>> m.eval().training
    False
    """

    training: bool
    _parameter_names: list[str]  # registration order, which optimisers' ids follow
    _buffer_names: list[str]
    _module_names: list[str]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameter_names", [])
        object.__setattr__(self, "_buffer_names", [])
        object.__setattr__(self, "_module_names", [])
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- registration -------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._add_name(self._parameter_names, name)
        elif isinstance(value, Module):
            self._add_name(self._module_names, name)
        elif name in self._parameter_names and value is not None:
            raise TypeError(
                f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                "(lucid.nn.Parameter or None expected)"
            )
        elif name in self._buffer_names and value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                "(lucid.Tensor or None expected)"
            )
        object.__setattr__(self, name, value)

    @staticmethod
    def _add_name(names: list[str], name: str) -> None:
        if name not in names:
            names.append(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or ``None``: a declared but absent parameter) as ``name``."""
        self._add_name(self._parameter_names, name)
        setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register ``tensor`` (or ``None``) as the non-trainable state ``name``."""
        self._add_name(self._buffer_names, name)
        setattr(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` (or ``None``) as the child ``name``, as PyTorch checks it."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if hasattr(self, name) and name not in self._module_names:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._add_name(self._module_names, name)
        object.__setattr__(self, name, module)

    register_module = add_module

    def __delattr__(self, name: str) -> None:
        for names in (self._parameter_names, self._buffer_names, self._module_names):
            if name in names:
                names.remove(name)
        object.__delattr__(self, name)

    # -- traversal ----------------------------------------------------------------------------
    # Modules, parameters and buffers are visited once each (by identity) in registration
    # order, so an optimiser never steps a shared layer twice; state_dict lists every name.

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name in self._module_names:
            module = getattr(self, name)
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every sub-module, depth first, each once."""
        memo = set() if memo is None else memo
        if remove_duplicate and id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for child_name, child in self.named_children():
            yield from child.named_modules(memo, f"{prefix}.{child_name}" if prefix
                                           else child_name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def get_submodule(self, target: str) -> Module:
        """The sub-module at the dotted path ``target`` (``""`` is this module)."""
        module = self
        for part in target.split(".") if target else ():
            child = getattr(module, part, None)
            if part not in module._module_names or child is None:
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}`")
            module = child
        return module

    def _named(self, kind: str, prefix: str, recurse: bool = True,
               remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = (self.named_modules(prefix=prefix.rstrip("."),
                                      remove_duplicate=remove_duplicate)
                   if recurse else [(prefix.rstrip("."), self)])
        for module_prefix, module in modules:
            for name in getattr(module, kind):
                value = getattr(module, name)
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter once, with its dotted name; warns if some are Lazy placeholders."""
        # __setattr__ registers only Parameters (or None, which _named skips) as parameters
        named = cast(list[tuple[str, Parameter]],
                     list(self._named("_parameter_names", prefix, recurse, remove_duplicate)))
        pending = [name for name, param in named if isinstance(param, _Uninitialized)]
        if pending:
            warnings.warn(
                f"{', '.join(pending)}: uninitialized parameter(s) of a Lazy module, of shape "
                "(0,) until its first forward, so counting or reading them now is reading "
                "nothing (an optimizer built from them still trains them once they are "
                "materialized). Call forward with a dummy batch first to get their shapes.",
                UninitializedParameterWarning, stacklevel=3)
        yield from named

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named("_buffer_names", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def has_uninitialized_parameters(self, recurse: bool = True) -> bool:
        """Whether a Lazy module here (and, with ``recurse``, below) still waits for its sizes.

        A Lazy ``InstanceNorm`` without ``affine`` or running statistics holds no placeholder
        but still counts until its first call. PyTorch's Lazy modules call the per-module test
        ``has_uninitialized_params()``; lucid's Lazy modules have it too.
        """
        return any(module._waiting_for_sizes()
                   for module in (self.modules() if recurse else (self,)))

    def _waiting_for_sizes(self) -> bool:
        return any(isinstance(value, _Uninitialized) for _, value in self._state())

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and then on this one; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- dtype --------------------------------------------------------------------------------

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Move floating parameters and buffers to ``dtype`` and/or ``device`` in place.

        The tensors keep their identities (an optimiser built before stays valid); integer
        buffers keep their dtype, as in PyTorch.
        """
        for arg in args:
            if isinstance(arg, str | jax.Device):
                device = arg
            else:
                dtype = arg
        check_dtype(dtype)
        for _, tensor in (*self._named("_parameter_names", ""), *self._named("_buffer_names", "")):
            floating = jnp.issubdtype(tensor.dtype, jnp.inexact)
            if isinstance(tensor, _Uninitialized):  # a placeholder only records the new dtype
                new_dtype = dtype if floating and dtype is not None else tensor.dtype
                tensor._data = jnp.asarray(np.zeros((0,), new_dtype))
                continue
            moved = tensor.to(dtype=dtype if floating else None, device=device)
            tensor._data = moved._data
            if tensor.grad is not None:
                grad = tensor.grad._data.astype(tensor.dtype)
                tensor.grad = grad if device is None else jax.device_put(
                    grad, resolve_device(device))
        return self

    def float(self) -> Module:
        return self.to(jnp.float32)

    def double(self) -> Module:
        return self.to(jnp.float64)

    def half(self) -> Module:
        return self.to(jnp.float16)

    # -- modes and gradients ------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (or evaluation with ``mode=False``) here and below; returns self."""
        object.__setattr__(self, "training", bool(mode))
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (freeze with ``False``); returns self."""
        for _, param in self._named("_parameter_names", ""):
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear accumulated gradients (to ``None``, or to zeros with ``set_to_none=False``)."""
        for _, param in self._named("_parameter_names", ""):
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.zero_()

    # -- state dict ---------------------------------------------------------------------------

    def _state(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Parameters then buffers of each module, depth first: PyTorch's state-dict order.

        Not deduplicated: a shared layer appears under each of its names, as in PyTorch.
        """
        for kind in ("_parameter_names", "_buffer_names"):
            for name in getattr(self, kind):
                value = getattr(self, name)
                if value is not None:
                    yield prefix + name, value
        for child_name in self._module_names:
            child = getattr(self, child_name)
            if child is not None:
                yield from child._state(f"{prefix}{child_name}.")

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """A snapshot of parameters and buffers: detached tensors keyed like PyTorch's."""
        return OrderedDict((name, value.detach()) for name, value in self._state())

    def _prepare_load(self, state_dict: Any, prefix: str) -> Callable[[], None] | None:
        """Hook run before any check of a load: return an undo if it changed the module.

        Lazy modules materialise here from the checkpoint's shapes; the undo runs if the
        load then fails, so a failed load changes nothing.
        """
        return None

    def _absent_ok(self, version: int | None) -> tuple[str, ...]:
        """Names of this module's state that a checkpoint of format ``version`` may lack.

        A missing one keeps its current value and is not reported (PyTorch's
        ``_load_from_state_dict`` fills it in the same way).
        """
        return ()

    def _dotted_modules(self) -> Iterator[tuple[str, Module]]:
        """Every module under every name, with its state-dict key prefix (``"a.b."``)."""
        for prefix, module in self.named_modules(remove_duplicate=False):
            yield (prefix + "." if prefix else ""), module

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy values (NumPy, JAX, lucid or PyTorch arrays) into parameters and buffers.

        Every key and shape is checked first: on any error (a missing or unexpected key with
        ``strict=True``, a wrong shape) a ``RuntimeError`` lists them all and nothing changes.
        Values keep the current tensors' dtypes and identities (optimisers stay valid).
        Uninitialised Lazy modules first take their sizes from the checkpoint.
        """
        name, undos = type(self).__name__, []  # the name before a Lazy module materialises
        try:
            for prefix, module in self._dotted_modules():
                undo = module._prepare_load(state_dict, prefix)
                if undo is not None:
                    undos.append(undo)
            return self._load(state_dict, strict, name)
        except BaseException:
            for undo in reversed(undos):
                undo()
            raise

    def _load(self, state_dict: Any, strict: bool, name: str) -> IncompatibleKeys:
        targets = dict(self._state())
        metadata = getattr(state_dict, "_metadata", None) or {}
        absent_ok = {prefix + name for prefix, module in self._dotted_modules()
                     for name in module._absent_ok(
                         metadata.get(prefix[:-1], {}).get("version"))}
        missing = [key for key in targets if key not in state_dict and key not in absent_ok]
        unexpected = [key for key in state_dict if key not in targets]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{key}"' for key in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{key}"' for key in missing) + ".")
        updates = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            if isinstance(state_dict[key], _Uninitialized):
                if isinstance(target, _Uninitialized):
                    continue  # lazy into lazy: both stay uninitialised, as in PyTorch
                raise RuntimeError(_LOAD_UNINITIALIZED)
            value = owned_array(state_dict[key])
            if value.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {target.shape}."
                )
            updates.append((target, value.astype(target.dtype)))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {name}:\n\t"
                               + "\n\t".join(errors))
        for target, value in updates:
            target._data = value
        return IncompatibleKeys(missing, unexpected)

    # -- repr ---------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The settings shown inside ``ClassName(...)``; subclasses override it."""
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        extra = [self.extra_repr()] if self.extra_repr() else []
        return f"{type(self).__name__}(\n" + "\n".join(["  " + e for e in extra] + lines) + "\n)"
