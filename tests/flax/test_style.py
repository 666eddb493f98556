"""Linen/NNX AdaIN and ConditionalInstanceNorm: the float64 reference, Linen == NNX, masks,
jit/vmap/grad, per-class gradients in training, and the messages for bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from flax import nnx

from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx
from lucid_jax._compat import assign, value_of

NUM_CLASSES, C = 4, 3


def _image(rng, shape):
    return (rng.standard_normal(shape) * rng.uniform(0.5, 2.0, shape[-1])
            + rng.uniform(-1, 1, shape[-1])).astype(np.float32)


def _adain_both(content, style, alpha=1.0, **kw):
    linen = ours_linen.AdaIN(alpha=alpha).apply({}, content, style, **kw)
    nnx_out = ours_nnx.AdaIN(alpha=alpha)(content, style, **kw)
    return linen, nnx_out


@pytest.mark.parametrize("style_batch", [2, 1])
@pytest.mark.parametrize("alpha", [1.0, 0.4])
@pytest.mark.parametrize("masked", [False, True])
def test_adain_layers_match_the_reference_channels_last(rng, style_batch, alpha, masked):
    content, style = _image(rng, (2, 6, 5, C)), _image(rng, (style_batch, 4, 7, C))
    masks = {}
    if masked:
        masks = {"content_mask": rng.random((2, 6, 5, 1)) < 0.6,
                 "style_mask": rng.random((style_batch, 4, 7, C)) < 0.7}
    expected = oracle.adain(content, style, alpha=alpha, channel_axis=-1, **masks)
    linen, nnx_out = _adain_both(content, style, alpha, **masks)
    oracle.assert_close(linen, expected)
    np.testing.assert_array_equal(linen, nnx_out)


def test_adain_has_no_parameters_and_jits(rng):
    content, style = _image(rng, (2, 6, 5, C)), _image(rng, (1, 4, 7, C))
    layer = ours_linen.AdaIN(alpha=0.5)
    assert layer.init(jax.random.key(0), content, style) == {}
    assert jax.tree.leaves(nnx.state(ours_nnx.AdaIN())) == []
    jitted = jax.jit(layer.apply)({}, content, style)
    np.testing.assert_allclose(jitted, layer.apply({}, content, style), rtol=1e-6, atol=1e-6)
    nnx_layer = ours_nnx.AdaIN(alpha=0.5)
    np.testing.assert_allclose(nnx.jit(lambda m, c, s: m(c, s))(nnx_layer, content, style),
                               jitted, rtol=1e-6, atol=1e-6)


def _tables(rng, num_classes=NUM_CLASSES, features=(C,)):
    shape = (num_classes, *features)
    return (rng.normal(1.0, 0.5, shape).astype(np.float32),
            rng.normal(0.0, 0.5, shape).astype(np.float32))


def _cin_both(x, labels, scale, bias, **kw):
    """Linen and NNX ConditionalInstanceNorm outputs with the given tables."""
    linen = ours_linen.ConditionalInstanceNorm(NUM_CLASSES)
    variables = {"params": {"scale": jnp.asarray(scale), "bias": jnp.asarray(bias)}}
    layer = ours_nnx.ConditionalInstanceNorm(NUM_CLASSES, C, rngs=nnx.Rngs(0))
    assign(layer.scale, scale)
    assign(layer.bias, bias)
    return linen.apply(variables, x, labels, **kw), layer(x, labels, **kw)


def _cin_reference(x, labels, scale, bias, mask=None):
    return oracle.instance_norm(x, weight=scale[labels], bias=bias[labels], eps=1e-6,
                                channel_axis=-1, mask=mask)


@pytest.mark.parametrize("masked", [False, True])
def test_conditional_instance_norm_matches_the_reference(rng, masked):
    x = _image(rng, (3, 6, 5, C))
    labels = np.array([2, 0, 2])
    scale, bias = _tables(rng)
    mask = rng.random((3, 6, 5, 1)) < 0.6 if masked else None
    linen, nnx_out = _cin_both(x, labels, scale, bias, mask=mask)
    oracle.assert_close(linen, _cin_reference(x, labels, scale, bias, mask))
    np.testing.assert_array_equal(linen, nnx_out)


def test_conditional_instance_norm_init_and_options(rng):
    x = _image(rng, (2, 6, 5, C))
    variables = ours_linen.ConditionalInstanceNorm(NUM_CLASSES).init(jax.random.key(0), x,
                                                                     jnp.array([0, 3]))
    np.testing.assert_array_equal(variables["params"]["scale"], np.ones((NUM_CLASSES, C)))
    np.testing.assert_array_equal(variables["params"]["bias"], np.zeros((NUM_CLASSES, C)))
    layer = ours_nnx.ConditionalInstanceNorm(NUM_CLASSES, C, use_bias=False, rngs=nnx.Rngs(0))
    assert layer.bias is None
    scale, _ = _tables(rng)
    assign(layer.scale, scale)
    oracle.assert_close(layer(x, jnp.array([1, 3])),
                        _cin_reference(x, np.array([1, 3]), scale, np.zeros_like(scale)))
    # two feature axes: a (num_classes, H, C) table, W reduced
    two = ours_linen.ConditionalInstanceNorm(NUM_CLASSES, feature_axes=(1, 3))
    variables = two.init(jax.random.key(0), x, jnp.array([0, 1]))
    assert variables["params"]["scale"].shape == (NUM_CLASSES, 6, C)


def test_output_dtypes_follow_flax(rng):
    x = jnp.asarray(_image(rng, (2, 6, 5, C)), jnp.bfloat16)
    labels = jnp.array([0, 1])
    layer = ours_linen.ConditionalInstanceNorm(NUM_CLASSES)
    variables = layer.init(jax.random.key(0), x, labels)
    assert layer.apply(variables, x, labels).dtype == jnp.float32   # promoted with the params
    half = ours_linen.ConditionalInstanceNorm(NUM_CLASSES, dtype=jnp.bfloat16)
    assert half.apply(variables, x, labels).dtype == jnp.bfloat16
    assert ours_nnx.AdaIN()(x, x[:1]).dtype == jnp.bfloat16


def test_conditional_instance_norm_under_jit_clamps_labels_it_cannot_check(rng):
    x = _image(rng, (3, 6, 5, C))
    scale, bias = _tables(rng)
    layer = ours_linen.ConditionalInstanceNorm(NUM_CLASSES)
    variables = {"params": {"scale": scale, "bias": bias}}
    apply = jax.jit(layer.apply)
    labels = jnp.array([1, 3, 0])
    np.testing.assert_allclose(apply(variables, x, labels), layer.apply(variables, x, labels),
                               rtol=1e-6, atol=1e-6)
    # documented: traced labels are clamped into [0, num_classes - 1]
    np.testing.assert_array_equal(apply(variables, x, jnp.array([7, -2, 3])),
                                  apply(variables, x, jnp.array([3, 0, 3])))


def test_conditional_instance_norm_under_vmap(rng):
    xs = np.stack([_image(rng, (2, 6, 5, C)) for _ in range(3)])
    labels = np.array([[0, 1], [3, 3], [2, 0]])
    scale, bias = _tables(rng)
    layer = ours_nnx.ConditionalInstanceNorm(NUM_CLASSES, C, rngs=nnx.Rngs(0))
    assign(layer.scale, scale)
    assign(layer.bias, bias)
    out = jax.vmap(layer)(xs, labels)
    for i in range(3):
        oracle.assert_close(out[i], _cin_reference(xs[i], labels[i], scale, bias))


def test_per_class_gradients_match_the_float64_reference(rng):
    x = _image(rng, (4, 6, 5, C))
    labels = np.array([2, 0, 2, 2])
    scale, bias = _tables(rng)
    cotangent = rng.standard_normal(x.shape).astype(np.float32)
    layer = ours_linen.ConditionalInstanceNorm(NUM_CLASSES)

    def loss(params):
        return jnp.vdot(layer.apply({"params": params}, x, labels), cotangent)

    grads = jax.grad(loss)({"scale": jnp.asarray(scale), "bias": jnp.asarray(bias)})
    xhat = oracle.instance_norm(x, eps=1e-6, channel_axis=-1)
    per_sample_scale = (cotangent * xhat).sum(axis=(1, 2))
    per_sample_bias = cotangent.astype(np.float64).sum(axis=(1, 2))
    expected_scale = np.zeros((NUM_CLASSES, C))
    expected_bias = np.zeros((NUM_CLASSES, C))
    np.add.at(expected_scale, labels, per_sample_scale)
    np.add.at(expected_bias, labels, per_sample_bias)
    np.testing.assert_allclose(grads["scale"], expected_scale, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(grads["bias"], expected_bias, rtol=1e-5, atol=1e-4)
    for absent in (1, 3):
        assert not np.any(grads["scale"][absent]) and not np.any(grads["bias"][absent])


def test_training_updates_only_the_classes_seen(rng):
    """A few SGD steps (NNX): the loss falls, the unseen classes' rows stay as they were."""
    x = _image(rng, (4, 6, 5, C))
    labels = jnp.array([0, 2, 2, 0])
    target = jnp.asarray(rng.standard_normal(x.shape) * 2 + 1, jnp.float32)
    layer = ours_nnx.ConditionalInstanceNorm(NUM_CLASSES, C, rngs=nnx.Rngs(0))
    before = {k: np.array(getattr(layer, k)[...]) for k in ("scale", "bias")}

    def loss_fn(model):
        return jnp.mean((model(x, labels) - target) ** 2)

    @nnx.jit
    def step(model):
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        for name in ("scale", "bias"):
            variable = getattr(model, name)
            assign(variable, value_of(variable) - 0.5 * value_of(getattr(grads, name)))
        return loss

    losses = [float(step(layer)) for _ in range(5)]
    assert losses[-1] < 0.9 * losses[0]
    for name in ("scale", "bias"):
        after = np.asarray(getattr(layer, name)[...])
        np.testing.assert_array_equal(after[[1, 3]], before[name][[1, 3]])
        assert np.all(np.abs(after[[0, 2]] - before[name][[0, 2]]).max(axis=1) > 0)


X = np.ones((2, 5, 4, C), np.float32)


@pytest.mark.parametrize("num_classes", [0, True, 2.0])
def test_num_classes_must_be_a_positive_int(num_classes):
    match = (r"ConditionalInstanceNorm needs num_classes, the number of styles, as a positive "
             rf"int, got {num_classes!r}")
    with pytest.raises(ValueError, match=match):
        ours_nnx.ConditionalInstanceNorm(num_classes, C, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=match):
        ours_linen.ConditionalInstanceNorm(num_classes).init(jax.random.key(0), X,
                                                             jnp.array([0, 0]))


@pytest.mark.parametrize("labels, match", [
    (jnp.array([0.0, 1.0]), r"labels must be integer class indices in \[0, 4\), got dtype "
                            r"float32; e\.g\. labels\.astype\(jnp\.int32\)"),
    (jnp.array(1), r"labels must have shape \(2,\), one class index per sample of the input's "
                   r"batch axis, got shape \(\); for one style across the batch pass "
                   r"jnp\.full\(\(2,\), label\)"),
    (jnp.array([[0, 1]]), r"labels must have shape \(2,\), .*got shape \(1, 2\)"),
    (np.array([1, 4]), r"labels must be in \[0, 4\) for num_classes=4, got \[4\] at batch index "
                       r"\[1\]; build the layer with more classes or fix the labels"),
    (jnp.array([-1, 0]), r"labels must be in \[0, 4\) for num_classes=4, got \[-1\] at batch "
                         r"index \[0\]"),
], ids=["float", "scalar", "2d", "too large", "negative"])
def test_bad_labels(labels, match):
    layer = ours_nnx.ConditionalInstanceNorm(NUM_CLASSES, C, rngs=nnx.Rngs(0))
    before = np.array(layer.scale[...])
    with pytest.raises(ValueError, match=match):
        layer(X, labels)
    np.testing.assert_array_equal(layer.scale[...], before)
    linen = ours_linen.ConditionalInstanceNorm(NUM_CLASSES)
    variables = linen.init(jax.random.key(0), X, jnp.array([0, 1]))
    with pytest.raises(ValueError, match=match):
        linen.apply(variables, X, labels)


def test_tables_that_do_not_fit_the_input():
    layer = ours_nnx.ConditionalInstanceNorm(NUM_CLASSES, 5, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"ConditionalInstanceNorm scale has shape \(4, 5\), but "
                                         r"an input of shape \(2, 5, 4, 3\) with feature_axes "
                                         r"\(3,\) and num_classes=4 needs \(4, 3\): build the "
                                         r"layer for \(3,\) features and 4 classes"):
        layer(X, jnp.array([0, 1]))
    linen = ours_linen.ConditionalInstanceNorm(NUM_CLASSES)
    restored = {"params": {"scale": jnp.ones((3, C)), "bias": jnp.zeros((3, C))}}
    with pytest.raises(ValueError, match=r"ConditionalInstanceNorm scale has shape \(3, 3\), but "
                                         r".*needs \(4, 3\)"):
        linen.apply(restored, X, jnp.array([0, 1]))


def test_adain_layer_arguments():
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\] .*got 1\.5"):
        ours_nnx.AdaIN(alpha=1.5)
    with pytest.raises(ValueError, match=r"eps must be a non-negative float, got -1"):
        ours_nnx.AdaIN(epsilon=-1)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\] .*got -0\.5"):
        ours_linen.AdaIN(alpha=-0.5).apply({}, X, X)
    with pytest.raises(ValueError, match=r"adain needs the same channels in content and style "
                                         r"on channel_axis \(3,\), got \(3,\) for content "
                                         r"\(2, 5, 4, 3\) and \(4,\) for style \(2, 5, 3, 4\)"):
        ours_linen.AdaIN().apply({}, X, np.ones((2, 5, 3, 4), np.float32))
