"""Grad mode: whether operations record on the tape. Thread-local, as in PyTorch.

Each thread starts with grad on; ``no_grad`` in one thread never turns it off in another.
``no_grad``, ``enable_grad`` and ``set_grad_enabled`` restore the previous mode on exit and
work as decorators, generators included (the mode then covers every step of the generator,
not only its creation).

>>> import lucid
>>> lucid.is_grad_enabled()
True
>>> with lucid.no_grad():
...     lucid.is_grad_enabled()
False
>>> _ = lucid.set_grad_enabled(False); lucid.is_grad_enabled()
False
>>> _ = lucid.set_grad_enabled(True); lucid.is_grad_enabled()
True
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any


class _Mode(threading.local):
    enabled = True  # the class default: every new thread starts with grad on


_MODE = _Mode()


def is_grad_enabled() -> bool:
    """Whether operations in this thread record on the tape."""
    return _MODE.enabled


class _GradModeContext:
    """A context manager that also decorates functions and generators."""

    _mode: bool  # the mode inside the context
    _previous: bool

    def clone(self) -> _GradModeContext:
        return type(self)()

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                with self.clone():
                    gen = fn(*args, **kwargs)
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as error:
                        with self.clone():
                            response = gen.throw(error)
                    else:
                        try:
                            with self.clone():
                                response = gen.send(request)
                        except StopIteration as stop:
                            return stop.value
            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def __enter__(self) -> None:
        self._previous = _MODE.enabled
        _MODE.enabled = self._mode

    def __exit__(self, *exc_info: Any) -> None:
        _MODE.enabled = self._previous


class no_grad(_GradModeContext):
    """Context manager (or decorator) in which operations record nothing on the tape.

    >>> import lucid
    >>> w = lucid.tensor([1.0, 2.0], requires_grad=True)
    >>> with lucid.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    _mode = False


class enable_grad(_GradModeContext):
    """Context manager (or decorator) that turns recording back on inside ``no_grad``.

    >>> import lucid
    >>> w = lucid.tensor([1.0], requires_grad=True)
    >>> with lucid.no_grad(), lucid.enable_grad():
    ...     (w * 2).requires_grad
    True
    """

    _mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode`` now (as a call) or for a block (as a context manager).

    >>> import lucid
    >>> w = lucid.tensor([1.0], requires_grad=True)
    >>> with lucid.set_grad_enabled(False):
    ...     (w * 2).requires_grad
    False
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._previous = _MODE.enabled
        _MODE.enabled = self._mode

    def clone(self) -> set_grad_enabled:
        return type(self)(self._mode)

    def __call__(self, fn: Callable) -> Callable:
        _MODE.enabled = self._previous  # as a decorator it changes nothing until called
        return super().__call__(fn)

    def __enter__(self) -> None:
        _MODE.enabled = self._mode
