"""Shared test setup: torch is required (CI must fail, not skip, without it)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # `import oracle` from every test folder

try:
    import torch  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only on a broken install
    raise pytest.UsageError(
        "PyTorch 2.13 (CPU) is required by the test suite: pip install -e '.[test]'"
    ) from error


@pytest.fixture
def rng():
    return np.random.default_rng(0)
