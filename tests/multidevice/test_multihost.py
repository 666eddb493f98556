"""Multi-host: ``examples/multihost.py`` as two processes on this machine (4 CPU devices each).

``jax.distributed.initialize`` connects them over localhost; JAX's CPU backend runs the
cross-process collectives with gloo. Each process saves what it gathered; both must equal the
float64 oracle on the whole (unsharded) input, and each other.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import oracle
import pytest

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "examples" / "multihost.py"
sys.path.insert(0, str(HERE))

from _multidevice_checks import oracle_grad  # noqa: E402

from lucid_jax._compat import HAS_EXPLICIT_SHARDING, SHARD_MAP_TRACKS_VARYING  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (HAS_EXPLICIT_SHARDING and SHARD_MAP_TRACKS_VARYING),
    reason="examples/multihost.py is written for jax >= 0.7 (jax.shard_map, AxisType)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("multihost")
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    coordinator = f"localhost:{free_port()}"
    procs = [subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--process-id", str(i), "--num-processes", "2",
         "--coordinator", coordinator, "--local-devices", "4", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    logs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            logs.append((proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for i, (code, stdout, stderr) in enumerate(logs):
        assert code == 0, f"process {i} exited {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    summaries = [json.loads(stdout.strip().splitlines()[-1]) for _, stdout, _ in logs]
    results = [dict(np.load(out / f"process_{i}.npz")) for i in range(2)]
    return summaries, results


def test_two_processes_form_one_global_mesh(two_processes):
    summaries, _ = two_processes
    assert [s["process_id"] for s in summaries] == [0, 1]
    for s in summaries:
        assert s["process_count"] == 2 and s["device_count"] == 8
        assert s["local_device_count"] == 4
        assert s["mesh"] == {"data": 2, "space": 4}
        assert s["data_axis_processes"] == [0, 1], "the data axis must span both processes"


@pytest.mark.parametrize("process", [0, 1])
def test_cross_process_results_equal_the_oracle(two_processes, process):
    r = two_processes[1][process]
    x, ct, mask = r["x"], r["ct"], r["mask"]
    expected = oracle.instance_norm(x)
    oracle.assert_close(r["y_jit"], expected, err_msg="jit on a global array")
    oracle.assert_close(r["y_spmd"], expected, err_msg="shard_map axis_name across processes")
    oracle.assert_close(r["y_masked"], oracle.instance_norm(x, mask=mask),
                        err_msg="masked, uneven counts across processes")
    assert np.isfinite(r["y_masked"]).all()
    oracle.assert_close(r["grad"], oracle_grad(x, ct), err_msg="gradient across processes")
    mean, var = oracle.update_running_stats(x, np.zeros(3), np.ones(3), momentum=0.1)
    oracle.assert_close(r["running_mean"], mean, err_msg="running mean, batch across processes")
    oracle.assert_close(r["running_var"], var, err_msg="running var, batch across processes")


def test_both_processes_agree(two_processes):
    first, second = two_processes[1]
    assert sorted(first) == sorted(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
