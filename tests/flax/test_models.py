"""A small convolutional network with the layer inside, trained with optax under jit, in NNX and in
Linen: the loss falls, the running statistics move, and a checkpoint restores equal outputs."""

from __future__ import annotations

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx, serialization

from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx
from lucid_jax._compat import nnx_optimizer, optimizer_update

STEPS = 30


def _data(n=32, size=8):
    """Class 1 is brighter in the top half, class 0 in the bottom half; random offsets."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    x = rng.normal(size=(n, size, size, 1)) + rng.uniform(-5, 5, (n, 1, 1, 1))
    rows = np.arange(size)[None, :, None, None] < size // 2
    x += np.where(labels[:, None, None, None] == 1, rows, ~rows) * 1.5
    return jnp.asarray(x, jnp.float32), jnp.asarray(labels)


class NnxNet(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 4, (3, 3), rngs=rngs)
        self.norm1 = ours_nnx.InstanceNorm(4, track_running_stats=True, momentum=0.8, rngs=rngs)
        self.conv2 = nnx.Conv(4, 4, (3, 3), rngs=rngs)
        self.norm2 = ours_nnx.InstanceNorm(4, track_running_stats=True, momentum=0.8, rngs=rngs)
        self.head = nnx.Linear(8 * 8 * 4, 2, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.norm1(self.conv1(x)))
        x = nnx.relu(self.norm2(self.conv2(x)))
        return self.head(x.reshape(x.shape[0], -1))


def _loss(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def test_nnx_model_trains_and_checkpoints(tmp_path):
    x, labels = _data()
    model = NnxNet(nnx.Rngs(0))
    optimizer = nnx_optimizer(model, optax.adam(1e-2))

    @nnx.jit
    def step(model, optimizer, x, labels):
        loss, grads = nnx.value_and_grad(lambda m: _loss(m(x), labels))(model)
        optimizer_update(optimizer, model, grads)
        return loss

    losses = [float(step(model, optimizer, x, labels)) for _ in range(STEPS)]
    assert losses[-1] < 0.5 * losses[0], losses
    assert float(jnp.abs(model.norm1.mean[...]).max()) > 0.1  # zeros at the start
    assert not np.allclose(model.norm2.var[...], 1.0)

    model.eval()
    stats_before = np.asarray(model.norm1.mean[...])
    expected = nnx.jit(lambda m, x: m(x))(model, x)
    np.testing.assert_array_equal(model.norm1.mean[...], stats_before)  # eval: untouched

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "nnx", nnx.state(model))
    checkpointer.wait_until_finished()
    graphdef, abstract_state = nnx.split(nnx.eval_shape(lambda: NnxNet(nnx.Rngs(1))))
    restored = nnx.merge(graphdef, checkpointer.restore(tmp_path / "nnx", abstract_state))
    restored.eval()
    np.testing.assert_array_equal(restored(x), expected)
    np.testing.assert_array_equal(restored.norm2.var[...], model.norm2.var[...])


class LinenNet(fnn.Module):
    @fnn.compact
    def __call__(self, x, train: bool):
        for _ in range(2):
            x = fnn.Conv(4, (3, 3))(x)
            x = ours_linen.InstanceNorm(track_running_stats=True, momentum=0.8)(
                x, use_running_average=not train)
            x = fnn.relu(x)
        return fnn.Dense(2)(x.reshape(x.shape[0], -1))


def test_linen_model_trains_and_checkpoints():
    x, labels = _data()
    net = LinenNet()
    variables = net.init(jax.random.key(0), x, train=True)
    tx = optax.adam(1e-2)
    params, batch_stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)

    @jax.jit
    def step(params, batch_stats, opt_state):
        def loss_fn(params):
            logits, updates = net.apply({"params": params, "batch_stats": batch_stats}, x,
                                        train=True, mutable=["batch_stats"])
            return _loss(logits, labels), updates["batch_stats"]

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state)
        return optax.apply_updates(params, updates), batch_stats, opt_state, loss

    losses = []
    for _ in range(STEPS):
        params, new_stats, opt_state, loss = step(params, batch_stats, opt_state)
        losses.append(float(loss))
        moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new_stats, batch_stats)
        assert all(jax.tree.leaves(moved))
        batch_stats = new_stats
    assert losses[-1] < 0.5 * losses[0], losses
    assert float(jnp.abs(batch_stats["InstanceNorm_0"]["mean"]).max()) > 0.1

    trained = {"params": params, "batch_stats": batch_stats}
    expected = net.apply(trained, x, train=False)
    blob = serialization.to_bytes(trained)
    restored = serialization.from_bytes(net.init(jax.random.key(1), x, train=True), blob)
    np.testing.assert_array_equal(net.apply(restored, x, train=False), expected)
    jax.tree.map(np.testing.assert_array_equal, restored, trained)
