"""``lucid.device``: PyTorch's device names (``"cpu"``, ``"cuda:1"``) over JAX devices.

``cuda`` and ``gpu`` both name JAX's ``gpu`` platform, ``tpu`` its TPUs; the index is the
device's position among that platform's devices. A device that is not present is an error
when it is used, not when it is named (as in PyTorch).
"""

from __future__ import annotations

from typing import Any

import jax

_PLATFORMS = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "tpu": "tpu"}
_TYPES = {"cpu": "cpu", "gpu": "cuda", "tpu": "tpu"}


class device:  # noqa: N801  (PyTorch's name)
    """A device by type and optional index: ``device("cuda:0")``, ``device("cpu")``.

    >>> import lucid
    >>> lucid.device("cpu")
    device(type='cpu')
    >>> lucid.ones(2).to(lucid.device("cpu")).device == lucid.device("cpu")
    True
    >>> str(lucid.device("cuda", 1))
    'cuda:1'
    """

    __slots__ = ("type", "index")
    type: str
    index: int | None

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        name = str(type)
        if ":" in name:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {name}")
            name, _, number = name.partition(":")
            if not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(number)
        if name not in _PLATFORMS:
            raise RuntimeError(f"Expected one of {', '.join(_PLATFORMS)} device type at start "
                               f"of device string: {name}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type, self.index = name, index

    @classmethod
    def of(cls, jax_device: jax.Device) -> device:
        """The lucid name of a JAX device (index ``None`` for the first CPU, as PyTorch)."""
        platform = jax_device.platform
        index = jax.devices(platform).index(jax_device)
        return cls(_TYPES.get(platform, platform), None if platform == "cpu" and not index
                   else index)

    @property
    def platform(self) -> str:
        """JAX's platform name: ``cpu``, ``gpu`` or ``tpu``."""
        return _PLATFORMS[self.type]

    @property
    def jax_device(self) -> jax.Device:
        """The ``jax.Device`` this names (an error where it is not present)."""
        return jax.devices(self.platform)[self.index or 0]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        if isinstance(other, jax.Device):
            other = device.of(other)
        if not isinstance(other, device):
            return NotImplemented
        return (self.platform, self.index or 0) == (other.platform, other.index or 0)

    def __hash__(self) -> int:
        return hash((self.platform, self.index or 0))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"
