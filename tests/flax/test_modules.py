"""lucid_jax.linen / lucid_jax.nnx InstanceNorm: PyTorch and oracle agreement, Linen == NNX,
train/eval and mutability rules, masks and named axes, bfloat16 activations. Flax drop-in cases:
test_flax_dropin.py."""

from __future__ import annotations

import flax
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch
from _flax_testlib import (
    SHAPES,
    needs_flax_nnx_instance_norm,
    random_inputs,
    torch_layer,
    torch_run,
)
from flax import nnx

import lucid_jax
from lucid_jax import interop
from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx
from lucid_jax._compat import shard_map, value_of


class Linen:
    """Drives a Linen InstanceNorm the way a training loop does."""

    def __init__(self, x, state_dict=None, **fields):
        self.layer = ours_linen.InstanceNorm(**fields)
        init_kw = {}
        if fields.get("track_running_stats") and fields.get("use_running_average") is None:
            init_kw["use_running_average"] = False
        self.variables = self.layer.init(jax.random.key(0), jnp.asarray(x), **init_kw)
        if state_dict is not None:
            self.variables = interop.state_dict_to_linen(state_dict)

    def __call__(self, x, use_running_average=None, **kw):
        if "batch_stats" not in self.variables:
            return self.layer.apply(self.variables, x, use_running_average, **kw)
        y, updates = self.layer.apply(self.variables, x, use_running_average,
                                      mutable=["batch_stats"], **kw)
        self.variables = {**self.variables, **updates}
        return y

    def stats(self):
        s = self.variables["batch_stats"]
        return s["mean"], s["var"]


class Nnx:
    def __init__(self, x, state_dict=None, **fields):
        self.layer = ours_nnx.InstanceNorm(np.shape(x)[-1], rngs=nnx.Rngs(0), **fields)
        if state_dict is not None:
            interop.load_state_dict_into_nnx(self.layer, state_dict)

    def __call__(self, x, use_running_average=None, **kw):
        return self.layer(x, use_running_average, **kw)

    def stats(self):
        return self.layer.mean[...], self.layer.var[...]


KINDS = {"linen": Linen, "nnx": Nnx}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_matches_torch_and_oracle_over_training_and_eval(kind, spatial, rng):
    xs = random_inputs(rng, SHAPES[spatial], steps=4)
    x_eval = random_inputs(rng, SHAPES[spatial], steps=1)[0]
    reference = torch_layer(rng, spatial, SHAPES[spatial][-1], momentum=0.1)
    state_dict = {k: v.clone() for k, v in reference.state_dict().items()}
    t_outs, t_stats, t_eval = torch_run(reference, xs, x_eval)

    module = KINDS[kind](xs[0], state_dict, track_running_stats=True, momentum=0.9,
                         epsilon=1e-5)
    weight, bias = state_dict["weight"].numpy(), state_dict["bias"].numpy()
    o_mean, o_var = state_dict["running_mean"].numpy(), state_dict["running_var"].numpy()
    for x, t_out, (t_mean, t_var) in zip(xs, t_outs, t_stats, strict=True):
        y = module(x, use_running_average=False)
        o_y = oracle.instance_norm(x, weight=weight, bias=bias, eps=1e-5, channel_axis=-1)
        o_mean, o_var = oracle.update_running_stats(x, o_mean, o_var, 0.1, channel_axis=-1)
        oracle.assert_close(y, t_out, err_msg="output vs torch")
        oracle.assert_close(y, o_y, err_msg="output vs oracle")
        mean, var = module.stats()
        oracle.assert_close(mean, t_mean, err_msg="running_mean vs torch")
        oracle.assert_close(var, t_var, err_msg="running_var vs torch")
        oracle.assert_close(mean, o_mean, err_msg="running_mean vs oracle")
        oracle.assert_close(var, o_var, err_msg="running_var vs oracle")
    y_eval = module(x_eval, use_running_average=True)
    oracle.assert_close(y_eval, t_eval, err_msg="eval output vs torch")
    oracle.assert_close(y_eval, oracle.instance_norm(x_eval, o_mean, o_var, weight, bias,
                                                     use_input_stats=False, eps=1e-5,
                                                     channel_axis=-1))
    np.testing.assert_array_equal(module.stats()[0], mean)  # eval leaves them untouched


def test_linen_and_nnx_agree_exactly(rng):
    xs = random_inputs(rng, (3, 4, 5, 6), steps=3)
    mask = rng.uniform(size=(3, 4, 5, 1)) > 0.3
    fields = dict(track_running_stats=True, momentum=0.8, epsilon=1e-4)
    a, b = Linen(xs[0], **fields), Nnx(xs[0], **fields)
    for x in xs:
        np.testing.assert_array_equal(a(x, False, mask=mask), b(x, False, mask=mask))
        for s, t in zip(a.stats(), b.stats(), strict=True):
            np.testing.assert_array_equal(s, t)
    np.testing.assert_array_equal(a(xs[0], True), b(xs[0], True))


# ------------------------------------------------------------------------------------ drop-in

DROP_IN = [
    {},
    {"use_scale": False},
    {"use_bias": False, "epsilon": 1e-3},
    {"feature_axes": (2, 3)},
    {"scale_init": jax.nn.initializers.normal(), "bias_init": jax.nn.initializers.normal()},
]


@pytest.mark.parametrize("fields", DROP_IN)
def test_linen_is_a_drop_in_for_flax(fields, rng):
    x = jnp.asarray(random_inputs(rng, (2, 5, 4, 3), 1, offset=3.0)[0])
    theirs, ours = fnn.InstanceNorm(**fields), ours_linen.InstanceNorm(**fields)
    v_theirs = theirs.init(jax.random.key(3), x)
    v_ours = ours.init(jax.random.key(3), x)
    assert jax.tree.structure(v_ours) == jax.tree.structure(v_theirs)
    jax.tree.map(np.testing.assert_array_equal, v_ours, v_theirs)
    oracle.assert_close(ours.apply(v_theirs, x), theirs.apply(v_theirs, x))


def _nnx_fields(fields):
    return {k: v for k, v in fields.items() if k != "feature_axes"}


@needs_flax_nnx_instance_norm
@pytest.mark.parametrize("fields", [_nnx_fields(f) for f in DROP_IN])
def test_nnx_is_a_drop_in_for_flax(fields, rng):
    x = jnp.asarray(random_inputs(rng, (2, 5, 4, 3), 1, offset=3.0)[0])
    theirs = nnx.InstanceNorm(3, rngs=nnx.Rngs(5), **fields)
    ours = ours_nnx.InstanceNorm(3, rngs=nnx.Rngs(5), **fields)
    s_theirs, s_ours = nnx.state(theirs), nnx.state(ours)
    assert jax.tree.structure(s_ours) == jax.tree.structure(s_theirs)
    jax.tree.map(np.testing.assert_array_equal, s_ours, s_theirs)
    oracle.assert_close(ours(x), theirs(x))
    ours.eval()  # no running statistics: eval() changes nothing, as for flax's layer
    oracle.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_activations_with_float32_params(kind, rng):
    x = jnp.asarray(random_inputs(rng, (2, 6, 5, 4), 1)[0], jnp.bfloat16)
    exact = oracle.instance_norm(np.asarray(x, np.float32), eps=1e-6, channel_axis=-1)
    promoted = KINDS[kind](x)(x)  # params float32: output float32, computed from bf16 input
    assert promoted.dtype == jnp.float32
    oracle.assert_close(promoted, exact, jnp.float32)
    narrow = KINDS[kind](x, dtype=jnp.bfloat16, param_dtype=jnp.float32)(x)
    assert narrow.dtype == jnp.bfloat16
    oracle.assert_close(narrow, exact, jnp.bfloat16)


# -------------------------------------------------------------------------------- gradients

def test_gradients_match_torch_with_a_random_cotangent(rng):
    x = random_inputs(rng, (2, 5, 6, 3), 1)[0]
    cot = rng.normal(size=x.shape).astype(np.float32)
    reference = torch_layer(rng, 2, 3)
    tx = torch.from_numpy(np.moveaxis(x, -1, 1).copy()).requires_grad_(True)
    reference(tx).backward(torch.from_numpy(np.moveaxis(cot, -1, 1).copy()))
    t_dx = np.moveaxis(tx.grad.numpy(), 1, -1)
    t_dw, t_db = reference.weight.grad.numpy(), reference.bias.grad.numpy()
    state_dict = reference.state_dict()

    linen = Linen(x, state_dict, track_running_stats=True, epsilon=1e-5)
    layer, variables = linen.layer, linen.variables

    def f(params, x):
        y, _ = layer.apply({**variables, "params": params}, x, use_running_average=False,
                           mutable=["batch_stats"])
        return y

    _, vjp = jax.vjp(f, variables["params"], jnp.asarray(x))
    d_params, dx = vjp(jnp.asarray(cot))
    oracle.assert_close(dx, t_dx)
    oracle.assert_close(d_params["scale"], t_dw)
    oracle.assert_close(d_params["bias"], t_db)

    module = Nnx(x, state_dict, track_running_stats=True, epsilon=1e-5).layer
    loss = lambda m, x: jnp.vdot(m(x), cot)  # noqa: E731  (a random cotangent, not .sum())
    grads = nnx.grad(loss)(module, jnp.asarray(x))
    oracle.assert_close(value_of(grads["scale"]), t_dw)
    oracle.assert_close(value_of(grads["bias"]), t_db)


# ------------------------------------------------------------- when the statistics change

def test_linen_updates_when_training_and_never_at_init(rng):
    x = random_inputs(rng, (2, 4, 4, 3), 1)[0]
    layer = ours_linen.InstanceNorm(track_running_stats=True)
    variables = layer.init(jax.random.key(0), x, use_running_average=False)
    np.testing.assert_array_equal(variables["batch_stats"]["mean"], np.zeros(3))
    np.testing.assert_array_equal(variables["batch_stats"]["var"], np.ones(3))
    y, updates = layer.apply(variables, x, use_running_average=False, mutable=["batch_stats"])
    oracle.assert_close(y, oracle.instance_norm(x, eps=1e-6, channel_axis=-1))
    expected = oracle.update_running_stats(x, np.zeros(3), np.ones(3), 0.01, channel_axis=-1)
    oracle.assert_close(updates["batch_stats"]["mean"], expected[0])
    oracle.assert_close(updates["batch_stats"]["var"], expected[1])
    _, frozen = layer.apply(variables, x, use_running_average=True, mutable=["batch_stats"])
    jax.tree.map(np.testing.assert_array_equal, frozen["batch_stats"], variables["batch_stats"])


def test_linen_training_with_immutable_batch_stats_raises_like_batchnorm(rng):
    """A training call without mutable=['batch_stats'] is Flax's error, not a silent no-op."""
    x = random_inputs(rng, (2, 4, 4, 3), 1)[0]
    message = 'Cannot update variable "mean" .* collection "batch_stats" is immutable'
    for layer in (ours_linen.InstanceNorm(track_running_stats=True), fnn.BatchNorm()):
        variables = layer.init(jax.random.key(0), x, use_running_average=False)
        with pytest.raises(flax.errors.ModifyScopeVariableError, match=message):
            layer.apply(variables, x, use_running_average=False)
        layer.apply(variables, x, use_running_average=True)  # evaluation never writes
    untracked = ours_linen.InstanceNorm()  # no batch_stats: nothing to write, no mutable needed
    untracked.apply(untracked.init(jax.random.key(0), x), x)


def test_linen_use_running_average_merges_like_batchnorm(rng):
    x = random_inputs(rng, (2, 4, 4, 3), 1)[0]
    variables = {"params": {"scale": jnp.ones(3), "bias": jnp.zeros(3)},
                 "batch_stats": {"mean": jnp.full(3, 2.0), "var": jnp.full(3, 4.0)}}
    from_field = ours_linen.InstanceNorm(track_running_stats=True, use_running_average=True)
    from_call = ours_linen.InstanceNorm(track_running_stats=True)
    expected = (x - 2.0) / np.sqrt(4.0 + 1e-6)
    oracle.assert_close(from_field.apply(variables, x), expected)
    oracle.assert_close(from_call.apply(variables, x, use_running_average=True), expected)
    with pytest.raises(ValueError, match="use_running_average"):
        from_call.apply(variables, x)  # neither given (flax's merge_param)
    with pytest.raises(ValueError, match="use_running_average"):
        from_field.apply(variables, x, use_running_average=True)  # both given


def test_nnx_train_eval_and_call_argument(rng):
    x = random_inputs(rng, (2, 4, 4, 3), 1)[0]
    module = ours_nnx.InstanceNorm(3, track_running_stats=True, rngs=nnx.Rngs(0))
    module.eval()
    assert module.use_running_average is True
    oracle.assert_close(module(x), x / np.sqrt(1 + 1e-6))  # running stats: zeros and ones
    np.testing.assert_array_equal(module.mean[...], np.zeros(3))
    module(x, use_running_average=False)  # the call argument wins
    assert not np.array_equal(module.mean[...], np.zeros(3))
    module.train()
    assert module.use_running_average is False
    before = np.asarray(module.mean[...])
    module(x)
    assert not np.array_equal(module.mean[...], before)
    module.use_running_average = None
    with pytest.raises(ValueError, match="InstanceNorm needs use_running_average=True/False"):
        module(x)


def test_momentum_one_freezes_and_zero_replaces(rng):
    x = random_inputs(rng, (2, 4, 4, 3), 1)[0]
    frozen = Nnx(x, track_running_stats=True, momentum=1.0)
    frozen(x)
    np.testing.assert_array_equal(frozen.stats()[0], np.zeros(3))
    with pytest.warns(UserWarning, match="PyTorch's momentum=0.1 is momentum=0.9 here"):
        replaced = Nnx(x, track_running_stats=True, momentum=0.0)
    replaced(x)
    expected = oracle.update_running_stats(x, np.zeros(3), np.ones(3), 1.0, channel_axis=-1)
    oracle.assert_close(replaced.stats()[0], expected[0])
    oracle.assert_close(replaced.stats()[1], expected[1])


# ------------------------------------------------------------------- masks and named axes

@pytest.mark.parametrize("kind", KINDS)
def test_mask_is_forwarded_to_the_core(kind, rng):
    x = random_inputs(rng, (3, 5, 4, 2), 1)[0]
    mask = rng.uniform(size=(3, 5, 4, 1)) > 0.4
    module = KINDS[kind](x, track_running_stats=True, momentum=0.9)
    y = module(x, False, mask=mask)
    oracle.assert_close(y, oracle.instance_norm(x, mask=mask, eps=1e-6, channel_axis=-1))
    expected = lucid_jax.update_running_stats(x, jnp.zeros(2), jnp.ones(2), 0.1,
                                              channel_axis=-1, mask=mask)
    for got, want in zip(module.stats(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def _split(x, axis, parts):
    return jnp.stack(jnp.split(jnp.asarray(x), parts, axis=axis))


def test_linen_axis_names_under_vmap(rng):
    """``axis_name`` splits each instance's spatial elements; ``batch_axis_name`` the batch."""
    x = random_inputs(rng, (4, 6, 5, 3), 1)[0]
    layer = ours_linen.InstanceNorm(track_running_stats=True, momentum=0.9)
    variables = layer.init(jax.random.key(0), x, use_running_average=False)
    y, upd = layer.apply(variables, x, use_running_average=False, mutable=["batch_stats"])

    spatial = layer.clone(axis_name="s")
    run = jax.vmap(lambda xs: spatial.apply(variables, xs, use_running_average=False,
                                            mutable=["batch_stats"]), axis_name="s")
    ys, upds = run(_split(x, 1, 3))  # 3 shards of 2 rows each
    oracle.assert_close(jnp.concatenate(list(ys), axis=1), y)
    for k in ("mean", "var"):
        oracle.assert_close(upds["batch_stats"][k], jnp.broadcast_to(upd["batch_stats"][k],
                                                                     (3, 3)))

    batch = layer.clone(batch_axis_name="b")
    run = jax.vmap(lambda xs: batch.apply(variables, xs, use_running_average=False,
                                          mutable=["batch_stats"]), axis_name="b")
    ys, upds = run(_split(x, 0, 2))
    oracle.assert_close(ys.reshape(x.shape), y)
    for k in ("mean", "var"):
        oracle.assert_close(upds["batch_stats"][k], jnp.broadcast_to(upd["batch_stats"][k],
                                                                     (2, 3)))


def test_nnx_axis_names_under_vmap(rng):
    x = random_inputs(rng, (4, 6, 5, 3), 1)[0]
    mask = jnp.asarray(rng.uniform(size=(4, 6, 5, 1)) > 0.3)
    reference = ours_nnx.InstanceNorm(3, track_running_stats=True, rngs=nnx.Rngs(0))
    y = reference(x, mask=mask)

    for field, axis, parts in (("axis_name", 1, 3), ("batch_axis_name", 0, 2)):
        module = ours_nnx.InstanceNorm(3, track_running_stats=True, rngs=nnx.Rngs(0),
                                       **{field: "d"})
        graphdef, state = nnx.split(module)

        def step(state, xs, ms, graphdef=graphdef):
            m = nnx.merge(graphdef, state)
            return m(xs, mask=ms), nnx.state(m, nnx.BatchStat)

        ys, stats = jax.vmap(step, in_axes=(None, 0, 0), axis_name="d")(
            state, _split(x, axis, parts), _split(mask, axis, parts))
        oracle.assert_close(jnp.concatenate(list(ys), axis=axis), y)
        for name in ("mean", "var"):
            expected = jnp.broadcast_to(value_of(getattr(reference, name)), (parts, 3))
            oracle.assert_close(value_of(stats[name]), expected)


def test_linen_init_ignores_unbound_axis_names(rng):
    x = random_inputs(rng, (2, 4, 4, 3), 1)[0]
    layer = ours_linen.InstanceNorm(track_running_stats=True, axis_name="s",
                                    batch_axis_name="b")
    variables = layer.init(jax.random.key(0), x, use_running_average=False)  # outside vmap
    assert set(variables) == {"params", "batch_stats"}


def test_linen_axis_name_under_shard_map_on_one_device(rng):
    from jax.sharding import Mesh
    from jax.sharding import PartitionSpec as P

    x = random_inputs(rng, (2, 4, 6, 3), 1)[0]
    layer = ours_linen.InstanceNorm(track_running_stats=True, axis_name="s",
                                    batch_axis_name="b")
    variables = layer.init(jax.random.key(0), x, use_running_average=False)
    mesh = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("b", "s"))

    def run(x):
        return layer.apply(variables, x, use_running_average=False, mutable=["batch_stats"])

    sharded = shard_map(run, mesh=mesh, in_specs=P("b", "s"),
                            out_specs=(P("b", "s"), P()))
    y, updates = jax.jit(sharded)(x)
    expected_y, expected = ours_linen.InstanceNorm(track_running_stats=True).apply(
        variables, x, use_running_average=False, mutable=["batch_stats"])
    oracle.assert_close(y, expected_y)
    jax.tree.map(oracle.assert_close, updates, expected)
