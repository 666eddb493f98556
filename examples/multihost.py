"""Multi-host instance norm: one program, started once per process (host).

Every process runs this same file. ``jax.distributed.initialize`` connects the processes; a
global mesh spans every device of every process; the core's ``axis_name`` and
``batch_axis_name`` reduce across processes exactly as across local devices.

Two processes on one machine, four simulated CPU devices each (what the test suite runs)::

    python examples/multihost.py --process-id 0 --num-processes 2 \\
        --coordinator localhost:12355 --local-devices 4 &
    python examples/multihost.py --process-id 1 --num-processes 2 \\
        --coordinator localhost:12355 --local-devices 4

On a real cluster drop ``--local-devices`` (each host brings its own accelerators) and start
one process per host with the coordinator's address; on TPU pods and SLURM,
``jax.distributed.initialize()`` without arguments finds them itself.

With ``--out DIR`` each process saves its gathered results to ``DIR/process_<id>.npz`` (the
test suite compares them with the float64 oracle).
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--coordinator", default="localhost:12355")
    parser.add_argument("--local-devices", type=int, default=None,
                        help="simulate this many CPU devices in this process (testing only)")
    parser.add_argument("--out", default=None, help="save gathered results here (.npz)")
    args = parser.parse_args()

    if args.local_devices:  # must happen before JAX starts its CPU backend
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_"
                                   f"platform_device_count={args.local_devices}").strip()

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.experimental import multihost_utils
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    import lucid_jax

    # 1. Connect the processes (before any other JAX call).
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id)

    # 2. A global mesh over every device of every process: the "data" axis spans processes.
    mesh = jax.make_mesh((jax.process_count(), jax.local_device_count()), ("data", "space"),
                         axis_types=(AxisType.Auto, AxisType.Auto))

    # 3. Global arrays. Every process builds only its own shards (here from the same seed;
    #    in practice each host loads its part of the data).
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(4, 3, 32, 16)) * 3 + 20).astype(np.float32)  # N, C, H, W
    ct = rng.normal(size=x.shape).astype(np.float32)  # a cotangent for the gradient
    mask = np.arange(32)[None, None, :, None] < np.array([32, 21, 5, 0])[:, None, None, None]

    def global_array(value, spec):
        return jax.make_array_from_callback(value.shape, NamedSharding(mesh, spec),
                                            lambda index: value[index])

    # a) Plain jit on a global array split along H across all 8 devices: XLA inserts the
    #    cross-process reductions.
    spatial = P(None, None, ("data", "space"))
    y_jit = jax.jit(lucid_jax.instance_norm)(global_array(x, spatial))

    # b) Explicit SPMD: each instance's H split across both mesh axes (so across processes);
    #    axis_name sums the statistics over them. A masked variant with uneven valid counts.
    def body(a, m):
        return (lucid_jax.instance_norm(a, axis_name=("data", "space")),
                lucid_jax.instance_norm(a, mask=m, axis_name=("data", "space")))

    spmd = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(spatial, spatial),
                                 out_specs=(spatial, spatial)))
    y_spmd, y_masked = spmd(global_array(x, spatial), global_array(mask, spatial))

    # c) The gradient through the cross-process reduction.
    def loss(a, c):
        return jnp.sum(jax.shard_map(lambda a: lucid_jax.instance_norm(
            a, axis_name=("data", "space")), mesh=mesh, in_specs=spatial, out_specs=spatial)(a)
            * c)

    grad = jax.jit(jax.grad(loss))(global_array(x, spatial), global_array(ct, spatial))

    # d) Data parallel running statistics: batch split over "data" (across processes),
    #    each instance's H over "space"; batch_axis_name averages over the whole batch.
    def update(a):
        return lucid_jax.update_running_stats(a, jnp.zeros(3), jnp.ones(3), momentum=0.1,
                                              axis_name="space", batch_axis_name="data")

    data_parallel = P("data", None, "space")
    running_mean, running_var = jax.jit(jax.shard_map(
        update, mesh=mesh, in_specs=data_parallel, out_specs=(P(), P())))(
        global_array(x, data_parallel))

    # 4. Gather to every process (small arrays; for a real model keep them sharded).
    results = {name: np.asarray(multihost_utils.process_allgather(value, tiled=True))
               for name, value in [("y_jit", y_jit), ("y_spmd", y_spmd),
                                   ("y_masked", y_masked), ("grad", grad),
                                   ("running_mean", running_mean),
                                   ("running_var", running_var)]}
    summary = {"process_id": jax.process_index(), "process_count": jax.process_count(),
               "device_count": jax.device_count(),
               "local_device_count": jax.local_device_count(),
               "mesh": dict(mesh.shape),
               "data_axis_processes": sorted({d.process_index for d in mesh.devices[:, 0]})}
    if args.out:
        np.savez(os.path.join(args.out, f"process_{args.process_id}.npz"), x=x, ct=ct,
                 mask=mask, **results)
    print(json.dumps(summary), flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
