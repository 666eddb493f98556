"""``lucid.save`` / ``lucid.load``: checkpoints as ``.npz``, never pickle.

Arrays become named ``.npz`` entries; the structure around them (dicts, lists, tuples,
Python scalars, strings, ``None``) is a JSON skeleton stored as a string entry, with tags
that keep tuples, ``OrderedDict`` and non-string keys (an optimiser's integer parameter
indices stay ints). ``load`` reads with ``numpy.load(allow_pickle=False)`` and parses the
skeleton with ``json``: it cannot run code, and refuses any file ``save`` did not write.

>>> import io, lucid
>>> buffer = io.BytesIO()
>>> lucid.save({"step": 3, "weights": {0: lucid.ones(2)}, "betas": (0.9, 0.999)}, buffer)
>>> _ = buffer.seek(0)
>>> checkpoint = lucid.load(buffer)
>>> checkpoint["weights"][0].tolist(), checkpoint["betas"], checkpoint["step"]
([1.0, 1.0], (0.9, 0.999), 3)
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO

import jax
import numpy as np

from lucid._autograd import owned_array
from lucid._tensor import Tensor, resolve_device

_FORMAT = "lucid.save"
_VERSION = 1
_SKELETON = "__lucid__"
_BITS_AS = {"bfloat16": np.uint16}  # dtypes numpy cannot store natively: saved as raw bits


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    is_torch = type(obj).__module__.startswith("torch") and hasattr(obj, "detach")
    if isinstance(obj, Tensor | jax.Array | np.ndarray | np.generic) or is_torch:
        kind = "array" if isinstance(obj, jax.Array | np.ndarray | np.generic) else "tensor"
        array = obj.detach().cpu().numpy() if is_torch else np.asarray(obj)
        if array.dtype == object:
            raise TypeError("lucid.save cannot store object arrays; convert them to numbers")
        name = f"a{len(arrays)}"
        dtype = str(array.dtype)
        arrays[name] = array.view(_BITS_AS[dtype]) if dtype in _BITS_AS else array
        return {kind: name, "dtype": dtype}
    if obj is None or isinstance(obj, bool | int | str):
        return {"value": obj}
    if isinstance(obj, float):
        return {"float": repr(obj)}  # repr keeps inf and nan, which JSON lacks
    if isinstance(obj, dict):
        tag = "odict" if isinstance(obj, OrderedDict) else "dict"
        return {tag: [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return {"tuple" if isinstance(obj, tuple) else "list": [_encode(v, arrays) for v in obj]}
    raise TypeError(f"lucid.save cannot store {type(obj).__name__!r}: it stores tensors, "
                    "arrays, dicts, lists, tuples, numbers, strings and None (no pickle)")


def _decode(node: Any, arrays: Any, device: Any) -> Any:
    (tag, value), *_ = node.items()
    if tag in ("tensor", "array"):
        array = arrays[value]
        dtype = node["dtype"]
        array = owned_array(array).view(dtype) if dtype in _BITS_AS else owned_array(array)
        return Tensor(array, device=device) if tag == "tensor" else array
    if tag == "value":
        return value
    if tag == "float":
        return float(value)
    if tag in ("dict", "odict"):
        pairs = ((_decode(k, arrays, device), _decode(v, arrays, device)) for k, v in value)
        return OrderedDict(pairs) if tag == "odict" else dict(pairs)
    items = [_decode(v, arrays, device) for v in value]
    return tuple(items) if tag == "tuple" else items


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Write ``obj`` (a state dict, an optimiser's state dict, or a nest of them) to ``f``.

    ``f`` is a path (written as given, no suffix added) or a binary file object.
    """
    arrays: dict[str, np.ndarray] = {}
    skeleton = {"format": _FORMAT, "version": _VERSION, "object": _encode(obj, arrays)}
    arrays[_SKELETON] = np.array(json.dumps(skeleton))
    if isinstance(f, str | os.PathLike):
        with open(f, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
    else:  # (numpy's stubs match **arrays against its allow_pickle keyword)
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load(f: str | os.PathLike | BinaryIO, map_location: Any = None,
         weights_only: bool = True) -> Any:
    """Read what :func:`save` wrote; tensors come back as lucid Tensors without grad.

    ``map_location`` is a device (``"cpu"``, a ``jax.Device``) for the tensors. Loading is
    always weights-only: a file that is not a lucid checkpoint (a pickle, a PyTorch ``.pt``,
    any other ``.npz``) raises a ``ValueError`` and nothing in it runs.
    """
    device = resolve_device(map_location)
    try:
        with np.load(f, allow_pickle=False) as archive:
            if _SKELETON not in archive.files:
                raise ValueError(f"it has no {_SKELETON!r} entry")
            skeleton = json.loads(str(archive[_SKELETON]))
            if not isinstance(skeleton, dict) or skeleton.get("format") != _FORMAT:
                raise ValueError("its header is not lucid.save's")
            if skeleton.get("version") != _VERSION:
                raise ValueError(f"format version {skeleton.get('version')!r} is not "
                                 f"{_VERSION}; use the lucid that wrote it")
            return _decode(skeleton["object"], archive, device)
    except (ValueError, OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{f!r} is not a checkpoint written by lucid.save (an .npz file with "
                         f"a {_SKELETON!r} entry): {error}") from error
