"""Multi-device checks, run in a subprocess that sees 8 simulated CPU devices.

``tests/multidevice/test_multidevice.py`` runs this file as a script with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` set in the subprocess's environment, so
the rest of the suite keeps its single device. Each check is a plain function that raises on a
mismatch; the script runs the checks named on its command line (all by default) and prints one
JSON object ``{name: {"ok": bool, "error": str, "seconds": float}}`` on its last line.

Every numeric result is compared with the float64 oracle (``tests/oracle.py``, which owns the
tolerances) and with the single-device core. Gradients use random cotangents. Importing this
module does nothing but define the checks (pytest imports it to collect doctests).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import oracle  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import lucid_jax  # noqa: E402
from lucid_jax._compat import (  # noqa: E402
    HAS_EXPLICIT_SHARDING,
    SHARD_MAP_TRACKS_VARYING,
    auto_mesh,
    shard_map,
)

CHECKS: dict[str, Callable[[], None]] = {}


def check(fn: Callable[[], None]) -> Callable[[], None]:
    CHECKS[fn.__name__] = fn
    return fn


# --------------------------------------------------------------------------- helpers


class Unsupported(Exception):
    """Raised by a check that needs a feature the installed JAX lacks (reported as a skip)."""


def make_mesh(shape, names, explicit=False):
    if not explicit:
        return auto_mesh(shape, names)
    if not HAS_EXPLICIT_SHARDING:
        raise Unsupported(f"explicit sharding needs jax >= 0.6 (this is jax {jax.__version__})")
    return jax.make_mesh(shape, names, axis_types=(jax.sharding.AxisType.Explicit,) * len(shape))


def explicit_cases(build):
    """``build()``'s cases on a JAX with explicit sharding, none on one without."""
    return build() if HAS_EXPLICIT_SHARDING else []


def put(x, mesh, spec):
    return jax.device_put(x, NamedSharding(mesh, spec))


def smap(fn, mesh, in_specs, out_specs):
    return jax.jit(shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs))


def data(shape, seed=0, offset=100.0, scale=3.0, dtype=np.float32):
    """Random data far from zero mean, so a wrong mean or variance shows."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * scale + offset).astype(dtype)


def cotangent(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def close(actual, expected, what, dtype=np.float32):
    oracle.assert_close(actual, expected, dtype=dtype, err_msg=what)


# float64 gradient of ``sum(instance_norm(x) * ct)`` in ``x`` (masks and weight included).
oracle_grad = oracle.input_grad


def input_grad(fn, x, ct):
    """``d sum(fn(x) * ct) / dx`` under jit (works for sharded ``x`` and ``ct``)."""
    return jax.jit(jax.grad(lambda a: jnp.sum(fn(a) * ct)))(x)


def expect_value_error(fn, *fragments):
    try:
        fn()
    except ValueError as error:
        message = str(error)
        missing = [f for f in fragments if f not in message]
        if missing:
            raise AssertionError(f"ValueError message {message!r} lacks {missing}") from error
        return message
    raise AssertionError("expected a ValueError, none was raised")


def lengths_mask(lengths, length, n_channels=None):
    """``(N, 1, L)`` boolean mask of padded sequences (``(N, C, L)`` if ``n_channels``)."""
    mask = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
    mask = mask[:, None, :]
    return mask if n_channels is None else np.repeat(mask, n_channels, axis=1)


# --------------------------------------------------------------------------- setup


@check
def eight_devices():
    devices = jax.devices()
    assert len(devices) == 8, f"expected 8 simulated devices, got {devices}"
    assert all(d.platform == "cpu" for d in devices), devices


# --------------------------------------------------------------------------- 1. jit + NamedSharding


@check
def jit_batch_sharded():
    """Batch split over (8,) and over both axes of (4, 2); XLA keeps every instance local."""
    x = data((8, 3, 12, 10))
    expected = oracle.instance_norm(x)
    single = lucid_jax.instance_norm(x)
    close(single, expected, "single device vs oracle")
    for mesh, spec in [(make_mesh((8,), ("b",)), P("b")),
                       (make_mesh((4, 2), ("b", "s")), P(("b", "s"))),
                       (make_mesh((4, 2), ("b", "s")), P("b")),
                       *explicit_cases(lambda: [(make_mesh((4, 2), ("b", "s"), explicit=True),
                                                 P("b"))])]:
        xs = put(x, mesh, spec)
        y = jax.jit(lucid_jax.instance_norm)(xs)
        what = f"mesh {dict(mesh.shape)} {mesh.axis_types} spec {spec}"
        close(y, expected, what)
        close(y, single, what + " vs single device")
        assert y.sharding.is_equivalent_to(xs.sharding, x.ndim), (what, y.sharding)


@check
def jit_spatially_sharded_volume():
    """A 3-D volume split along D (mesh (8,)) and along D and H (mesh (4, 2))."""
    x = data((2, 2, 16, 8, 12), seed=2)
    expected = oracle.instance_norm(x)
    single = lucid_jax.instance_norm(x)
    weight, bias = np.array([1.5, -0.5], np.float32), np.array([0.25, 2.0], np.float32)
    expected_affine = oracle.instance_norm(x, weight=weight, bias=bias)
    for mesh, spec in [(make_mesh((8,), ("d",)), P(None, None, "d")),
                       (make_mesh((4, 2), ("d", "h")), P(None, None, "d", "h")),
                       (make_mesh((2, 4), ("b", "d")), P("b", None, "d"))]:
        xs = put(x, mesh, spec)
        what = f"mesh {dict(mesh.shape)} spec {spec}"
        y = jax.jit(lucid_jax.instance_norm)(xs)
        close(y, expected, what)
        close(y, single, what + " vs single device")
        assert y.sharding.is_equivalent_to(xs.sharding, x.ndim), (what, y.sharding)
        y = jax.jit(lucid_jax.instance_norm)(xs, weight=weight, bias=bias)
        close(y, expected_affine, what + " with affine")


@check
def jit_spatially_sharded_explicit_mesh():
    """The same with jax.make_mesh's default axis types (Explicit since JAX 0.7): forward,
    masked, and the input gradient."""
    x = data((2, 2, 16, 8, 12), seed=2)
    mask = np.random.default_rng(2).random((2, 1, 16, 8, 12)) < 0.3
    ct = cotangent(x.shape, seed=3)
    for shape, names, spec in [((4, 2), ("d", "h"), P(None, None, "d", "h")),
                               ((8,), ("d",), P(None, None, "d"))]:
        if not HAS_EXPLICIT_SHARDING:
            raise Unsupported(f"explicit sharding needs jax >= 0.6 (this is {jax.__version__})")
        mesh = jax.make_mesh(shape, names)  # default axis types
        explicit = jax.sharding.AxisType.Explicit
        assert all(t == explicit for t in mesh.axis_types), mesh.axis_types
        what = f"explicit mesh {dict(mesh.shape)} spec {spec}"
        xs, cts = put(x, mesh, spec), put(ct, mesh, spec)
        y = jax.jit(lucid_jax.instance_norm)(xs)
        close(y, oracle.instance_norm(x), what)
        assert y.sharding.is_equivalent_to(xs.sharding, x.ndim), (what, y.sharding)
        ym = jax.jit(lambda a, m: lucid_jax.instance_norm(a, mask=m))(xs, put(mask, mesh, spec))
        close(ym, oracle.instance_norm(x, mask=mask), what + ", masked")
        close(input_grad(lucid_jax.instance_norm, xs, cts), oracle_grad(x, ct),
              what + ", gradient")


@check
def jit_sharded_gradients():
    """Input, weight and bias gradients of jit on sharded inputs equal the single-device ones."""
    x = data((4, 2, 16, 8, 6), seed=3)
    ct = cotangent(x.shape)
    weight = np.array([0.5, 2.0], np.float32)
    bias = np.array([1.0, -1.0], np.float32)

    def loss(a, w, b, c):
        return jnp.sum(lucid_jax.instance_norm(a, weight=w, bias=b) * c)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    gx1, gw1, gb1 = grad(x, weight, bias, ct)
    close(gx1, oracle_grad(x, ct, weight=weight), "single-device input gradient vs oracle")
    xhat = (x - oracle.moments(x)[0]) / np.sqrt(oracle.moments(x)[1] + 1e-5)
    close(gw1, (xhat * ct).sum((0, 2, 3, 4)), "weight gradient vs oracle")
    close(gb1, ct.sum((0, 2, 3, 4)), "bias gradient vs oracle")
    for mesh, spec in [(make_mesh((4, 2), ("b", "d")), P("b", None, "d")),
                       (make_mesh((8,), ("d",)), P(None, None, "d")),
                       (make_mesh((4, 2), ("b", "d")), P(("b",), None, "d", None, None))]:
        gx, gw, gb = grad(put(x, mesh, spec), weight, bias, put(ct, mesh, spec))
        what = f"mesh {dict(mesh.shape)} spec {spec}"
        close(gx, gx1, what + ": input gradient")
        close(gw, gw1, what + ": weight gradient")
        close(gb, gb1, what + ": bias gradient")


# ------------------------------------------------------------------- 2. shard_map + axis_name


@check
def shard_map_spatial_axis_name():
    """Spatial elements split across the named axis: the result equals the unsharded one."""
    x = data((4, 3, 16, 8), seed=4)
    expected = oracle.instance_norm(x)
    single = lucid_jax.instance_norm(x)
    cases = [
        # (mesh, spec, axis_name)
        (make_mesh((4, 2), ("b", "s")), P("b", None, "s"), "s"),
        (make_mesh((8,), ("s",)), P(None, None, "s"), "s"),
        (make_mesh((4, 2), ("h", "w")), P(None, None, "h", "w"), ("h", "w")),
        (make_mesh((4, 2), ("b", "s")), P(None, None, ("b", "s")), ("b", "s")),
        *explicit_cases(lambda: [(make_mesh((4, 2), ("b", "s"), explicit=True),
                                  P("b", None, "s"), "s")]),
    ]
    for mesh, spec, name in cases:
        fn = smap(lambda a, name=name: lucid_jax.instance_norm(a, axis_name=name),
                  mesh, spec, spec)
        y = fn(put(x, mesh, spec))
        what = f"mesh {dict(mesh.shape)} spec {spec} axis_name {name!r}"
        close(y, expected, what)
        close(y, single, what + " vs single device")


@check
def shard_map_without_axis_name_differs():
    """Negative control: the same shard_map without axis_name uses per-device statistics."""
    x = data((4, 3, 16, 8), seed=4) + np.linspace(0, 50, 16, dtype=np.float32)[:, None]
    mesh = make_mesh((8,), ("s",))
    spec = P(None, None, "s")
    y = smap(lucid_jax.instance_norm, mesh, spec, spec)(x)
    gap = float(np.max(np.abs(np.asarray(y) - oracle.instance_norm(x))))
    assert gap > 0.5, f"per-device statistics should differ from global ones, max gap {gap}"


@check
def shard_map_channels_last_and_per_sample_affine():
    """NHWC volume, spatial axes split, (N, C) weight and bias split with the batch."""
    x = data((4, 8, 6, 4, 3), seed=5)  # N, D, H, W, C
    rng = np.random.default_rng(5)
    weight = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    bias = rng.normal(size=(4, 3)).astype(np.float32)
    expected = oracle.instance_norm(x, weight=weight, bias=bias, channel_axis=-1)
    mesh = make_mesh((2, 4), ("b", "d"))
    spec = P("b", "d")

    def body(a, w, b):
        return lucid_jax.instance_norm(a, weight=w, bias=b, channel_axis=-1, axis_name="d")

    y = smap(body, mesh, (spec, P("b"), P("b")), spec)(x, weight, bias)
    close(y, expected, "channels last, per-sample affine, axis_name='d'")


@check
def shard_map_gradients():
    """Gradients through shard_map (outside, and inside with a psum-ed loss) equal the oracle."""
    x = data((4, 3, 16, 8), seed=6)
    ct = cotangent(x.shape, seed=7)
    weight = np.array([0.5, 1.0, 2.0], np.float32)
    expected = oracle_grad(x, ct, weight=weight)
    single = input_grad(lambda a: lucid_jax.instance_norm(a, weight=weight), x, ct)
    close(single, expected, "single-device gradient vs oracle")
    for mesh, spec, name in [(make_mesh((4, 2), ("b", "s")), P("b", None, "s"), "s"),
                             (make_mesh((8,), ("s",)), P(None, None, "s"), "s"),
                             (make_mesh((4, 2), ("h", "w")), P(None, None, "h", "w"),
                              ("h", "w"))]:
        what = f"mesh {dict(mesh.shape)} axis_name {name!r}"
        fn = smap(lambda a, name=name: lucid_jax.instance_norm(a, weight=weight, axis_name=name),
                  mesh, spec, spec)
        g = input_grad(fn, put(x, mesh, spec), put(ct, mesh, spec))
        close(g, expected, what + ": grad outside shard_map")
        close(g, single, what + ": vs single device")

        # The SPMD training-step pattern: grad inside shard_map of the psum-ed loss (of the
        # local loss on a JAX whose shard_map follows pmap's convention).
        axes = tuple(mesh.axis_names)

        def local_grad(a, c, name=name, axes=axes):
            def loss(a):
                y = lucid_jax.instance_norm(a, weight=weight, axis_name=name)
                local = jnp.sum(y * c)
                return jax.lax.psum(local, axes) if SHARD_MAP_TRACKS_VARYING else local
            return jax.grad(loss)(a)

        g = smap(local_grad, mesh, (spec, spec), spec)(x, ct)
        close(g, expected, what + ": grad inside shard_map")


@check
def shard_map_weight_gradients():
    """(C,) weight and bias gradients inside shard_map equal the oracle's."""
    x = data((4, 3, 16, 8), seed=8)
    ct = cotangent(x.shape, seed=9)
    weight = np.array([0.5, 1.0, 2.0], np.float32)
    bias = np.zeros(3, np.float32)
    mean, var = oracle.moments(x)
    xhat = (x - mean) / np.sqrt(var + 1e-5)
    mesh = make_mesh((4, 2), ("b", "s"))
    spec = P("b", None, "s")

    def local(a, c, w, b):
        def loss(w, b):
            y = lucid_jax.instance_norm(a, weight=w, bias=b, axis_name="s")
            local = jnp.sum(y * c)
            return jax.lax.psum(local, ("b", "s")) if SHARD_MAP_TRACKS_VARYING else local
        # w and b are replicated (invariant across the mesh): with shard_map's check_vma their
        # cotangents are summed over the mesh by JAX itself, no psum to add here; with pmap's
        # convention each device's gradient is its share, summed here.
        grads = jax.grad(loss, argnums=(0, 1))(w, b)
        return grads if SHARD_MAP_TRACKS_VARYING else jax.lax.psum(grads, ("b", "s"))

    gw, gb = smap(local, mesh, (spec, spec, P(), P()), (P(), P()))(x, ct, weight, bias)
    close(gw, (xhat * ct).sum((0, 2, 3)), "weight gradient")
    close(gb, ct.sum((0, 2, 3)), "bias gradient")


@check
def pmap_axis_name():
    """pmap (where it still exists): each device holds a slice of every instance's W axis."""
    if not hasattr(jax, "pmap"):
        return
    x = data((2, 3, 6, 16), seed=10)
    ct = cotangent(x.shape, seed=11)
    split = lambda a: a.reshape(2, 3, 6, 8, 2).transpose(3, 0, 1, 2, 4)  # noqa: E731
    merge = lambda a: np.asarray(a).transpose(1, 2, 3, 0, 4).reshape(x.shape)  # noqa: E731
    fn = jax.pmap(lambda a: lucid_jax.instance_norm(a, axis_name="d"), axis_name="d")
    close(merge(fn(split(x))), oracle.instance_norm(x), "pmap forward")

    def local_grad(a, c):
        # pmap's convention (unlike shard_map with check_vma): differentiate the *local* loss;
        # psum transposes to psum, which brings in the other devices' contributions.
        return jax.grad(lambda a: jnp.sum(lucid_jax.instance_norm(a, axis_name="d") * c))(a)

    g = jax.pmap(local_grad, axis_name="d")(split(x), split(ct))
    close(merge(g), oracle_grad(x, ct), "pmap gradient")


@check
def shard_map_instance_moments():
    x = data((4, 3, 16, 8), seed=12)
    mesh = make_mesh((4, 2), ("b", "s"))
    spec = P("b", None, "s")
    fn = smap(lambda a: lucid_jax.instance_moments(a, axis_name="s", unbiased=True),
              mesh, spec, (P("b"), P("b")))
    mean, var = fn(x)
    x64 = x.astype(np.float64)
    close(mean / 100, x64.mean((2, 3)) / 100, "mean (scaled to order 1)")
    close(var, x64.var((2, 3), ddof=1), "unbiased variance")


@check
def shard_map_bfloat16():
    """bfloat16 input split across devices: statistics in float32, output bfloat16."""
    x = data((4, 3, 16, 8), seed=13, offset=5.0).astype(jnp.bfloat16)
    mesh = make_mesh((8,), ("s",))
    spec = P(None, None, "s")
    y = smap(lambda a: lucid_jax.instance_norm(a, axis_name="s"), mesh, spec, spec)(x)
    assert y.dtype == jnp.bfloat16, y.dtype
    close(np.asarray(y, np.float32), oracle.instance_norm(np.asarray(x, np.float32)),
          "bfloat16, axis_name='s'", dtype=jnp.bfloat16)


# --------------------------------------------------------------------------- running statistics


def masked_running_update(x, mask, running_mean, running_var, momentum):
    """float64 reference: instances with < 2 valid elements leave the batch average."""
    x = np.asarray(x, np.float64)
    m = np.broadcast_to(np.asarray(mask, bool), x.shape)
    count = m.sum(2)
    mean, var = oracle.moments(x, 1, m)
    mean, var = mean[..., 0], var[..., 0]
    unbiased = var * count / np.maximum(count - 1, 1)
    valid = count > 1
    k = valid.sum(0)
    batch_mean = np.where(valid, mean, 0).sum(0) / np.maximum(k, 1)
    batch_var = np.where(valid, unbiased, 0).sum(0) / np.maximum(k, 1)
    new_mean = np.where(k > 0, (1 - momentum) * running_mean + momentum * batch_mean,
                        running_mean)
    new_var = np.where(k > 0, (1 - momentum) * running_var + momentum * batch_var, running_var)
    return new_mean, new_var


@check
def running_stats_batch_and_spatial_sharded():
    """batch_axis_name averages over the batch split, axis_name sums over the spatial split."""
    x = data((8, 3, 16, 8), seed=14, offset=2.0)
    rm = np.array([0.5, -1.0, 2.0], np.float32)
    rv = np.array([1.0, 2.0, 0.5], np.float32)
    exp_mean, exp_var = oracle.update_running_stats(x, rm, rv, momentum=0.1)
    single = lucid_jax.update_running_stats(x, rm, rv, momentum=0.1)
    close(single[0], exp_mean, "single-device mean vs oracle")
    close(single[1], exp_var, "single-device var vs oracle")
    cases = [
        (make_mesh((4, 2), ("b", "s")), P("b", None, "s"), "s", "b"),
        (make_mesh((8,), ("b",)), P("b"), None, "b"),
        (make_mesh((8,), ("s",)), P(None, None, "s"), "s", None),
        (make_mesh((4, 2), ("b", "s")), P(("b", "s")), None, ("b", "s")),
    ]
    for mesh, spec, name, batch_name in cases:
        def body(a, name=name, batch_name=batch_name):
            return lucid_jax.update_running_stats(a, rm, rv, momentum=0.1, axis_name=name,
                                                  batch_axis_name=batch_name)
        new_mean, new_var = smap(body, mesh, spec, (P(), P()))(x)
        what = f"mesh {dict(mesh.shape)} axis_name {name!r} batch_axis_name {batch_name!r}"
        close(new_mean, exp_mean, what + ": mean")
        close(new_var, exp_var, what + ": var")
        close(new_mean, single[0], what + ": mean vs single device")
        close(new_var, single[1], what + ": var vs single device")


@check
def running_stats_without_batch_axis_name_differs():
    """Negative control: omitting batch_axis_name leaves each device with its own average."""
    x = data((8, 3, 16), seed=15) + np.arange(8, dtype=np.float32)[:, None, None] * 10
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    mesh = make_mesh((8,), ("b",))
    body = lambda a: lucid_jax.update_running_stats(a, rm, rv, momentum=0.5)  # noqa: E731
    per_device = jax.jit(shard_map(body, mesh=mesh, in_specs=P("b"), out_specs=(P("b"), P("b")),
                                       check_vma=False))(x)[0]
    exp_mean, _ = oracle.update_running_stats(x, rm, rv, momentum=0.5)
    spread = float(np.ptp(np.asarray(per_device).reshape(8, 3), axis=0).max())
    assert spread > 1.0, f"devices should disagree without batch_axis_name, spread {spread}"
    assert not np.allclose(np.asarray(per_device).reshape(8, 3)[0], exp_mean)


@check
def running_stats_jit_batch_sharded():
    """Plain jit on a batch-sharded input: XLA inserts the batch reduction itself."""
    x = data((8, 3, 16, 8), seed=16, offset=-3.0)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    exp_mean, exp_var = oracle.update_running_stats(x, rm, rv, momentum=0.3)
    for mesh, spec in [(make_mesh((8,), ("b",)), P("b")),
                       (make_mesh((4, 2), ("b", "s")), P("b", None, "s"))]:
        new_mean, new_var = jax.jit(lambda a: lucid_jax.update_running_stats(
            a, rm, rv, momentum=0.3))(put(x, mesh, spec))
        close(new_mean, exp_mean, f"mesh {dict(mesh.shape)}: mean")
        close(new_var, exp_var, f"mesh {dict(mesh.shape)}: var")


@check
def running_stats_masked_sharded():
    """Masked running update, batch and length split: uneven counts, short instances dropped."""
    x = data((8, 2, 32), seed=17, offset=4.0)
    lengths = [32, 17, 5, 1, 0, 30, 9, 2]  # 1 and 0 valid elements: left out of the average
    mask = lengths_mask(lengths, 32)
    rm, rv = np.array([1.0, -1.0], np.float32), np.array([2.0, 0.5], np.float32)
    exp_mean, exp_var = masked_running_update(x, mask, rm, rv, 0.1)
    single = lucid_jax.update_running_stats(x, rm, rv, momentum=0.1, mask=mask)
    close(single[0], exp_mean, "single-device masked mean vs reference")
    close(single[1], exp_var, "single-device masked var vs reference")
    mesh = make_mesh((4, 2), ("b", "s"))
    spec = P("b", None, "s")

    def body(a, m):
        return lucid_jax.update_running_stats(a, rm, rv, momentum=0.1, mask=m, axis_name="s",
                                              batch_axis_name="b")

    new_mean, new_var = smap(body, mesh, (spec, spec), (P(), P()))(x, mask)
    close(new_mean, exp_mean, "sharded masked mean")
    close(new_var, exp_var, "sharded masked var")


# --------------------------------------------------------------------------- 3. masks


@check
def mask_sequences_uneven_across_devices():
    """Padded sequences, L split over 8 devices: some devices hold no valid element at all."""
    x = data((6, 3, 64), seed=18, offset=10.0)
    lengths = [64, 37, 5, 1, 0, 58]  # device shards of 8: full, partial, empty
    mask = lengths_mask(lengths, 64)  # (N, 1, L): broadcasts over channels
    x_padded = np.where(np.broadcast_to(mask, x.shape), x, 1e4).astype(np.float32)
    expected = oracle.instance_norm(x_padded, mask=mask)
    single = lucid_jax.instance_norm(x_padded, mask=mask)
    close(single, expected, "single device vs oracle")
    valid = np.broadcast_to(mask, x.shape)
    assert np.isfinite(np.asarray(single)).all(), "all-masked instance must stay finite"
    close(np.asarray(single)[valid], expected[valid], "valid elements")
    ct = cotangent(x.shape, seed=19)
    # Gradients with zero padding: a 1e4 pad makes the float32 gradient ill-conditioned
    # (padded outputs ~3e3 enter sum(g * (x - mean))), on one device as on eight.
    x_zero = np.where(np.broadcast_to(mask, x.shape), x, 0).astype(np.float32)
    g_expected = oracle_grad(x_zero, ct, mask=mask)
    close(input_grad(lambda a: lucid_jax.instance_norm(a, mask=mask), x_zero, ct), g_expected,
          "single-device masked gradient")
    for mesh, spec, name in [(make_mesh((8,), ("s",)), P(None, None, "s"), "s"),
                             (make_mesh((2, 4), ("b", "s")), P("b", None, "s"), "s"),
                             (make_mesh((4, 2), ("s1", "s2")), P(None, None, ("s1", "s2")),
                              ("s1", "s2"))]:
        fn = smap(lambda a, m, name=name: lucid_jax.instance_norm(a, mask=m, axis_name=name),
                  mesh, (spec, spec), spec)
        what = f"mesh {dict(mesh.shape)} axis_name {name!r}"
        y = fn(x_padded, mask)
        assert np.isfinite(np.asarray(y)).all(), what + ": non-finite output"
        close(y, expected, what)
        g = jax.jit(jax.grad(lambda a, fn=fn: jnp.sum(fn(a, mask) * ct)))(x_zero)
        assert np.isfinite(np.asarray(g)).all(), what + ": non-finite gradient"
        close(g, g_expected, what + ": gradient")


@check
def mask_counts_summed_not_per_device_mean():
    """Counts are summed across devices: differs from averaging per-device masked means."""
    x = data((1, 1, 16), seed=20, offset=0.0, scale=1.0)
    x[0, 0, :8] += 10.0  # device 0's half
    mask = np.zeros((1, 1, 16), bool)
    mask[0, 0, :6] = True  # 6 valid on device 0
    mask[0, 0, 8:10] = True  # 2 valid on device 1
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:2]), ("s",))
    spec = P(None, None, "s")
    fn = smap(lambda a, m: lucid_jax.instance_moments(a, mask=m, axis_name="s"), mesh,
              (spec, spec), (P(), P()))
    mean, var = fn(x, mask)
    exp_mean, exp_var = oracle.moments(x, 1, mask)
    close(np.asarray(mean) / 10, exp_mean[..., 0] / 10, "masked mean over both devices")
    close(var, exp_var[..., 0], "masked variance over both devices")
    per_device = (x[0, 0, :6].mean() + x[0, 0, 8:10].mean()) / 2
    assert abs(float(np.asarray(mean).ravel()[0]) - per_device) > 1.0, (
        "the masked mean must weight each device by its count, not average device means")


@check
def mask_images_jit_spatially_sharded():
    """Masked images under plain jit, H and W split across a (4, 2) mesh."""
    rng = np.random.default_rng(21)
    x = data((2, 3, 16, 8), seed=21)
    mask = rng.random((2, 1, 16, 8)) < 0.3
    mask[1] = False  # one image fully masked
    expected = oracle.instance_norm(x, mask=mask)
    mesh = make_mesh((4, 2), ("h", "w"))
    spec = P(None, None, "h", "w")
    y = jax.jit(lambda a, m: lucid_jax.instance_norm(a, mask=m))(put(x, mesh, spec),
                                                                put(mask, mesh, spec))
    assert np.isfinite(np.asarray(y)).all()
    close(y, expected, "jit, masked, spatially sharded")


@check
def mask_integer_inside_shard_map():
    """0/1 integer masks are accepted under shard_map too."""
    x = data((2, 3, 32), seed=22)
    mask = lengths_mask([20, 3], 32)
    mesh = make_mesh((8,), ("s",))
    spec = P(None, None, "s")
    fn = smap(lambda a, m: lucid_jax.instance_norm(a, mask=m, axis_name="s"), mesh,
              (spec, spec), spec)
    close(fn(x, mask.astype(np.int32)), oracle.instance_norm(x, mask=mask), "int32 mask")


# --------------------------------------------------------------------------- 4. adain


@check
def adain_sharded():
    """AdaIN with content and style split across devices equals the unsharded formula."""
    content = data((4, 3, 16, 8), seed=23, offset=1.0)
    style = data((4, 3, 8, 8), seed=24, offset=-5.0, scale=4.0)
    s_mean, s_var = oracle.moments(style)
    expected = oracle.instance_norm(content) * np.sqrt(s_var + 1e-5) + s_mean
    close(lucid_jax.adain(content, style) / 4, expected / 4, "single device (scaled by 1/4)")
    mesh = make_mesh((4, 2), ("b", "s"))
    spec = P("b", None, "s")
    fn = smap(lambda c, s: lucid_jax.adain(c, s, axis_name="s"), mesh, (spec, spec), spec)
    close(fn(content, style) / 4, expected / 4, "shard_map adain (scaled by 1/4)")
    y = jax.jit(lucid_jax.adain)(put(content, mesh, spec), put(style, mesh, spec))
    close(y / 4, expected / 4, "jit adain on sharded inputs (scaled by 1/4)")


@check
def adain_masks_sharded():
    """AdaIN with a style mask (uneven valid counts per device) and a content mask."""
    content = data((2, 3, 32), seed=27, offset=1.0)
    style = data((2, 3, 16), seed=28, offset=2.0, scale=3.0)
    style_mask = lengths_mask([16, 3], 16)  # sequence 1: three valid elements, on device 0
    content_mask = lengths_mask([30, 12], 32)
    s_mean, s_var = oracle.moments(style, 1, style_mask)
    expected = oracle.instance_norm(content, mask=content_mask) * np.sqrt(s_var + 1e-5) + s_mean
    mesh = make_mesh((8,), ("s",))
    spec = P(None, None, "s")
    fn = smap(lambda c, s, cm, sm: lucid_jax.adain(c, s, content_mask=cm, style_mask=sm,
                                                   axis_name="s"),
              mesh, (spec,) * 4, spec)
    close(fn(content, style, content_mask, style_mask), expected, "masked adain, sharded")


@check
def edge_cases_sharded():
    """A list of axis names; one element per device; one instance per device (batch split)."""
    x = data((2, 3, 8), seed=29)
    mesh = make_mesh((8,), ("s",))
    spec = P(None, None, "s")
    y = smap(lambda a: lucid_jax.instance_norm(a, axis_name=["s"]), mesh, spec, spec)(x)
    close(y, oracle.instance_norm(x), "axis_name given as a list, one element per device")
    x = data((8, 3, 4), seed=30)
    new_mean, new_var = smap(lambda a: lucid_jax.update_running_stats(
        a, np.zeros(3, np.float32), np.ones(3, np.float32), batch_axis_name="s"),
        mesh, P("s"), (P(), P()))(x)
    exp_mean, exp_var = oracle.update_running_stats(x, np.zeros(3), np.ones(3))
    close(new_mean, exp_mean, "one instance per device: mean")
    close(new_var, exp_var, "one instance per device: var")


# --------------------------------------------------------------------------- 7. errors


@check
def unbound_axis_name_inside_shard_map():
    mesh = make_mesh((8,), ("s",))
    spec = P(None, None, "s")
    x = data((2, 3, 16))
    expect_value_error(
        lambda: smap(lambda a: lucid_jax.instance_norm(a, axis_name="batch"), mesh, spec,
                     spec)(x),
        "axis_name='batch' is not bound", "shard_map")
    expect_value_error(
        lambda: smap(lambda a: lucid_jax.instance_norm(a, axis_name=("s", "h")), mesh, spec,
                     spec)(x),
        "axis_name='h' is not bound")
    expect_value_error(
        lambda: smap(lambda a: lucid_jax.update_running_stats(
            a, np.zeros(3), np.ones(3), axis_name="s", batch_axis_name="b"), mesh, spec,
            (P(), P()))(x),
        "batch_axis_name='b' is not bound")


# --------------------------------------------------------------------------- Flax modules


def _flax_module(name):
    try:
        return __import__(f"lucid_jax.{name}", fromlist=["InstanceNorm"])
    except ImportError:
        return None


@check
def flax_linen_shard_map():
    """Linen InstanceNorm(axis_name, batch_axis_name) under shard_map equals the unsharded one:
    outputs, masked outputs and the batch_stats update."""
    linen = _flax_module("linen")
    if linen is None or not hasattr(linen, "InstanceNorm"):
        raise NotImplementedError("lucid_jax.linen.InstanceNorm does not exist yet")
    x = data((8, 16, 8, 3), seed=25)  # NHWC, Flax's layout
    mask = np.random.default_rng(25).random((8, 16, 8, 1)) < 0.4
    rngs = jax.random.key(0)
    plain = linen.InstanceNorm(epsilon=1e-5, track_running_stats=True, momentum=0.9)
    variables = plain.init(rngs, x, use_running_average=False)
    variables = jax.tree.map(lambda v: v + 0.5, variables)  # non-trivial scale, bias, stats
    y1, upd1 = plain.apply(variables, x, use_running_average=False, mutable=["batch_stats"])
    close(y1, oracle.instance_norm(x, weight=1.5 * np.ones(3), bias=0.5 * np.ones(3),
                                   channel_axis=-1), "linen vs oracle")
    exp_mean, exp_var = oracle.update_running_stats(
        x, variables["batch_stats"]["mean"], variables["batch_stats"]["var"], 0.1, -1)
    close(upd1["batch_stats"]["mean"], exp_mean, "linen running mean vs oracle")
    close(upd1["batch_stats"]["var"], exp_var, "linen running var vs oracle")
    ym1 = plain.apply(variables, x, use_running_average=False, mask=mask,
                      mutable=["batch_stats"])[0]

    sharded = linen.InstanceNorm(epsilon=1e-5, track_running_stats=True, momentum=0.9,
                                 axis_name="s", batch_axis_name="b")
    mesh = make_mesh((4, 2), ("b", "s"))
    spec = P("b", "s")

    def body(a, m):
        y, upd = sharded.apply(variables, a, use_running_average=False, mutable=["batch_stats"])
        ym = sharded.apply(variables, a, use_running_average=False, mask=m,
                           mutable=["batch_stats"])[0]
        return y, ym, upd

    y, ym, upd = smap(body, mesh, (spec, spec), (spec, spec, P()))(x, mask)
    close(y, y1, "linen under shard_map: output")
    close(ym, ym1, "linen under shard_map: masked output")
    close(upd["batch_stats"]["mean"], upd1["batch_stats"]["mean"], "linen sharded running mean")
    close(upd["batch_stats"]["var"], upd1["batch_stats"]["var"], "linen sharded running var")


@check
def flax_nnx_shard_map():
    """NNX InstanceNorm(axis_name, batch_axis_name) under shard_map equals the unsharded one."""
    nnx_mod = _flax_module("nnx")
    if nnx_mod is None or not hasattr(nnx_mod, "InstanceNorm"):
        raise NotImplementedError("lucid_jax.nnx.InstanceNorm does not exist yet")
    from flax import nnx

    x = data((8, 16, 8, 3), seed=26)
    mask = np.random.default_rng(26).random((8, 16, 8, 1)) < 0.4

    def build(**kwargs):
        return nnx_mod.InstanceNorm(3, epsilon=1e-5, track_running_stats=True, momentum=0.9,
                                    rngs=nnx.Rngs(0), **kwargs)

    plain = build()
    y1 = plain(x)
    ym1 = build()(x, mask=mask)
    close(y1, oracle.instance_norm(x, channel_axis=-1), "nnx vs oracle")
    exp_mean, exp_var = oracle.update_running_stats(x, np.zeros(3), np.ones(3), 0.1, -1)
    close(plain.mean[...], exp_mean, "nnx running mean vs oracle")
    close(plain.var[...], exp_var, "nnx running var vs oracle")

    graphdef, state = nnx.split(build(axis_name="s", batch_axis_name="b"))
    mesh = make_mesh((4, 2), ("b", "s"))
    spec = P("b", "s")

    def body(a, state):
        layer = nnx.merge(graphdef, state)
        return layer(a), nnx.state(layer)

    def masked_body(a, m, state):
        return nnx.merge(graphdef, state)(a, mask=m)

    ym = smap(masked_body, mesh, (spec, spec, P()), spec)(x, mask, state)
    y, new_state = smap(body, mesh, (spec, P()), (spec, P()))(x, state)
    close(y, y1, "nnx under shard_map: output")
    close(ym, ym1, "nnx under shard_map: masked output")
    layer = nnx.merge(graphdef, new_state)
    close(layer.mean[...], plain.mean[...], "nnx sharded running mean")
    close(layer.var[...], plain.var[...], "nnx sharded running var")


# --------------------------------------------------------------------------- runner


def run(names):
    results = {}
    for name in names:
        start = time.perf_counter()
        try:
            CHECKS[name]()
            results[name] = {"ok": True, "error": ""}
        except Unsupported as reason:
            results[name] = {"ok": "skip", "error": str(reason)}
        except NotImplementedError as error:
            results[name] = {"ok": None, "error": str(error)}
        except Exception:  # noqa: BLE001 - reported to the pytest process
            results[name] = {"ok": False, "error": traceback.format_exc()}
        results[name]["seconds"] = round(time.perf_counter() - start, 3)
    return results


if __name__ == "__main__":
    selected = sys.argv[1:] or list(CHECKS)
    print(json.dumps(run(selected)))
