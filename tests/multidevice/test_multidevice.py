"""Sharding, shard_map/pmap with ``axis_name``, masks, running statistics and AdaIN on 8 devices.

The checks live in ``_multidevice_checks.py``; they run once, in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (the flag must be set before JAX starts
its CPU backend, and the rest of the suite keeps one device). Each check becomes one test here,
which fails with the subprocess's traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _multidevice_checks  # noqa: E402

NAMES = list(_multidevice_checks.CHECKS)

def eight_device_env() -> dict[str, str]:
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=8".strip()
    env["JAX_PLATFORMS"] = "cpu"
    return env


@pytest.fixture(scope="module")
def results():
    script = HERE / "_multidevice_checks.py"
    proc = subprocess.run([sys.executable, str(script), *NAMES], env=eight_device_env(),
                          capture_output=True, text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        pytest.fail(f"the 8-device subprocess failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", NAMES)
def test_on_eight_devices(results, name):
    result = results[name]
    if result["ok"] == "skip":
        pytest.skip(result["error"])
    if result["ok"] is None:
        pytest.fail(f"{name} could not run: {result['error']}")
    assert result["ok"], f"{name} failed on 8 devices:\n{result['error']}"


def test_every_check_ran(results):
    assert sorted(results) == sorted(NAMES)


def test_check_failures_are_reported(tmp_path):
    """The harness itself can fail: a check that raises is reported as not ok."""
    outcome = _multidevice_checks.run(["eight_devices"])  # this process has one device
    assert outcome["eight_devices"]["ok"] is False
    assert "expected 8 simulated devices" in outcome["eight_devices"]["error"]
