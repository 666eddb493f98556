"""``Sequential`` and ``ModuleList``: children keyed ``"0"``, ``"1"``, ... as in PyTorch.

Modules kept in plain Python lists or dicts are not registered (PyTorch ignores them too):
put them in a ``ModuleList`` so that ``parameters()`` and ``state_dict()`` see them.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from lucid.nn.module import Module


class ModuleList(Module):
    """A list of sub-modules: indexing, ``append``, ``insert``, ``extend``, ``pop``, ``del``.

    >>> import lucid.nn as nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    >>> layers.append(nn.Linear(2, 1))
    ModuleList(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): ReLU()
      (2): Linear(in_features=2, out_features=1, bias=True)
    )
    >>> [name for name, _ in layers.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list[Module]:
        return [getattr(self, name) for name in self._module_names]

    def _reset(self, modules: list[Module]) -> None:
        """Re-register ``modules`` under ``"0"``, ``"1"``, ... (after a removal or insertion)."""
        for name in list(self._module_names):
            delattr(self, name)
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def _index(self, index: Any) -> int:
        i = operator.index(index)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range")
        return i % n

    def __len__(self) -> int:
        return len(self._module_names)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(self._items()[index])
        return self._items()[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(self._index(index)), module)

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        del items[index if isinstance(index, slice) else self._index(index)]
        self._reset(items)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = self._items()
        items.insert(index, module)
        self._reset(items)

    def pop(self, index: int = -1) -> Module:
        items = self._items()
        module = items.pop(self._index(index))
        self._reset(items)
        return module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')


class Sequential(ModuleList):
    """Modules applied in order; built from modules or an ``OrderedDict`` of named ones.

    A slice is a ``Sequential`` of the same modules under the same names; ``del`` renumbers,
    as in PyTorch.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> model(lucid.ones(2, 3)).shape, list(model.state_dict())[:2]
    ((2, 1), ['0.weight', '0.bias'])
    >>> model[1:]
    Sequential(
      (1): ReLU()
      (2): Linear(in_features=4, out_features=1, bias=True)
    )
    """

    def __init__(self, *modules: Any) -> None:
        Module.__init__(self)
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            names = self._module_names[index]
            return Sequential(OrderedDict((name, getattr(self, name)) for name in names))
        return self._items()[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(self._module_names[self._index(index)], module)

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input
