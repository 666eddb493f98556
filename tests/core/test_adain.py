"""lucid_jax.adain: the float64 reference, a broadcast style batch, the alpha blend, masks,
jit/grad/vmap, and the messages for inputs laid out wrongly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest

import lucid_jax
from lucid_jax._compat import enable_x64


def _inputs(rng, content_shape=(3, 4, 6, 5), style_shape=(3, 4, 4, 7)):
    content = rng.standard_normal(content_shape) * 1.5 + 0.5
    style = rng.standard_normal(style_shape) * rng.uniform(0.5, 2.0, (1, style_shape[1], 1, 1)) \
        + rng.uniform(-1, 1, (1, style_shape[1], 1, 1))
    return content.astype(np.float32), style.astype(np.float32)


@pytest.mark.parametrize("style_batch", [3, 1])
@pytest.mark.parametrize("alpha", [1.0, 0.6, 0.0])
def test_matches_the_reference(rng, style_batch, alpha):
    content, style = _inputs(rng, style_shape=(style_batch, 4, 4, 7))
    out = lucid_jax.adain(content, style, alpha=alpha)
    assert out.shape == content.shape and out.dtype == jnp.float32
    oracle.assert_close(out, oracle.adain(content, style, alpha=alpha))


def test_channels_last_and_several_channel_axes(rng):
    content, style = _inputs(rng, style_shape=(1, 4, 4, 7))
    last = lucid_jax.adain(np.moveaxis(content, 1, -1), np.moveaxis(style, 1, -1), alpha=0.3,
                           channel_axis=-1)
    oracle.assert_close(np.moveaxis(last, -1, 1), oracle.adain(content, style, alpha=0.3))
    # (N, C, D, L): channels and depth both feature axes, L reduced
    _, style = _inputs(rng, style_shape=(3, 4, 6, 3))
    out = lucid_jax.adain(content, style, channel_axis=(1, 2))
    oracle.assert_close(out, oracle.adain(content, style, channel_axis=(1, 2)))


def test_a_style_batch_of_one_is_every_image_given_that_style(rng):
    content, style = _inputs(rng, style_shape=(1, 4, 4, 7))
    tiled = np.repeat(style, content.shape[0], axis=0)
    np.testing.assert_allclose(lucid_jax.adain(content, style),
                               lucid_jax.adain(content, tiled), rtol=1e-6, atol=1e-6)
    # and the style's gradient is the sum of the tiled one's over the batch
    cotangent = rng.standard_normal(content.shape).astype(np.float32)
    _, pull_one = jax.vjp(lambda s: lucid_jax.adain(content, s), jnp.asarray(style))
    _, pull_tiled = jax.vjp(lambda s: lucid_jax.adain(content, s), jnp.asarray(tiled))
    np.testing.assert_allclose(pull_one(cotangent)[0],
                               pull_tiled(cotangent)[0].sum(0, keepdims=True), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_keeps_the_content_dtype(rng, dtype):
    content, style = _inputs(rng, style_shape=(1, 4, 4, 7))
    content, style = jnp.asarray(content, dtype), jnp.asarray(style, dtype)
    out = lucid_jax.adain(content, style, alpha=0.5)
    assert out.dtype == dtype
    oracle.assert_close(out, oracle.adain(np.asarray(content, np.float64),
                                          np.asarray(style, np.float64), alpha=0.5), dtype)


def test_alpha_zero_is_the_content_and_one_is_plain_adain(rng):
    content, style = _inputs(rng)
    np.testing.assert_array_equal(lucid_jax.adain(content, style, alpha=0.0), content)
    np.testing.assert_array_equal(lucid_jax.adain(content, style, alpha=1),
                                  lucid_jax.adain(content, style))


@pytest.mark.parametrize("style_batch", [3, 1])
def test_masks(rng, style_batch):
    content, style = _inputs(rng, style_shape=(style_batch, 4, 4, 7))
    content_mask = rng.random((3, 1, 6, 5)) < 0.6
    style_mask = rng.random((style_batch, 4, 4, 7)) < 0.7
    out = lucid_jax.adain(content, style, alpha=0.8, content_mask=content_mask,
                          style_mask=style_mask)
    oracle.assert_close(out, oracle.adain(content, style, alpha=0.8, content_mask=content_mask,
                                          style_mask=style_mask))
    # masked-out style elements do not matter
    changed = np.where(style_mask, style, 1e3).astype(np.float32)
    np.testing.assert_allclose(out, lucid_jax.adain(content, changed, alpha=0.8,
                                                    content_mask=content_mask,
                                                    style_mask=style_mask), rtol=1e-5, atol=1e-5)


def test_a_fully_masked_instance_takes_the_style_mean_and_stays_finite(rng):
    content, style = _inputs(rng)
    content_mask = np.ones((3, 1, 6, 5), bool)
    content_mask[1] = False  # sample 1: no valid content element
    style_mask = np.ones(style.shape, bool)
    style_mask[2, 0] = False  # sample 2, channel 0: no valid style element
    out, pullback = jax.vjp(
        lambda c, s: lucid_jax.adain(c, s, content_mask=content_mask, style_mask=style_mask),
        content, style)
    oracle.assert_close(out, oracle.adain(content, style, content_mask=content_mask,
                                          style_mask=style_mask))
    style_mean = oracle.moments(style)[0]
    np.testing.assert_allclose(out[1], np.broadcast_to(style_mean[1], out[1].shape), rtol=1e-5)
    grads = pullback(rng.standard_normal(content.shape).astype(np.float32))
    assert all(np.isfinite(g).all() for g in grads)
    assert not np.any(grads[0][1])  # the padded sample gets no gradient


def test_jit_equals_eager_and_alpha_may_be_traced(rng):
    content, style = _inputs(rng, style_shape=(1, 4, 4, 7))
    eager = lucid_jax.adain(content, style, alpha=0.25)
    jitted = jax.jit(lambda c, s, a: lucid_jax.adain(c, s, alpha=a))(content, style, 0.25)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)
    # a traced alpha is not range-checked (it cannot be): documented
    assert jax.jit(lambda a: lucid_jax.adain(content, style, alpha=a))(2.0).shape == content.shape


def test_eager_calls_with_other_alphas_reuse_one_compiled_kernel(rng):
    from lucid_jax import _functional

    content, style = _inputs(rng)
    lucid_jax.adain(content, style, alpha=0.1)
    before = _functional._adain._cache_size()
    for alpha in (0.2, 0.5, np.float32(0.9)):
        lucid_jax.adain(content, style, alpha=alpha)
    assert _functional._adain._cache_size() == before


def test_vmap_over_stacks_and_over_alpha(rng):
    pairs = [_inputs(rng) for _ in range(2)]
    contents = np.stack([c for c, _ in pairs])
    styles = np.stack([s for _, s in pairs])
    out = jax.vmap(lambda c, s: lucid_jax.adain(c, s, alpha=0.5))(contents, styles)
    for i in range(2):
        oracle.assert_close(out[i], oracle.adain(contents[i], styles[i], alpha=0.5))
    alphas = jnp.array([0.0, 0.3, 1.0])
    content, style = pairs[0]
    out = jax.vmap(lambda a: lucid_jax.adain(content, style[:1], alpha=a))(alphas)
    for i, a in enumerate(alphas.tolist()):
        oracle.assert_close(out[i], oracle.adain(content, style[:1], alpha=a))


def _vdot(a, b):
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


@pytest.mark.parametrize("case", ["plain", "broadcast", "masked"])
def test_gradients_match_central_differences_of_the_float64_reference(rng, case):
    content, style = _inputs(rng, style_shape=(1 if case == "broadcast" else 3, 4, 4, 7))
    masks = {}
    if case == "masked":
        masks = {"content_mask": rng.random((3, 1, 6, 5)) < 0.6,
                 "style_mask": rng.random(style.shape) < 0.7}
    alpha = 0.7
    cotangent = rng.standard_normal(content.shape)

    def reference(c, s, a):
        return oracle.adain(c, s, alpha=a, **masks)

    with enable_x64(True):
        primals = (jnp.asarray(content, jnp.float64), jnp.asarray(style, jnp.float64),
                   jnp.asarray(alpha, jnp.float64))
        _, pullback = jax.vjp(lambda c, s, a: lucid_jax.adain(c, s, alpha=a, **masks), *primals)
        grads64 = pullback(jnp.asarray(cotangent, jnp.float64))
    _, pullback32 = jax.vjp(lambda c, s, a: lucid_jax.adain(c, s, alpha=a, **masks),
                            content, style, jnp.float32(alpha))
    grads32 = pullback32(cotangent.astype(np.float32))

    h = 1e-5
    point = [np.asarray(content, np.float64), np.asarray(style, np.float64), alpha]
    for i, name in enumerate(["content", "style", "alpha"]):
        direction = rng.standard_normal(np.shape(point[i]))
        plus, minus = list(point), list(point)
        plus[i], minus[i] = point[i] + h * direction, point[i] - h * direction
        numeric = _vdot(cotangent, (reference(*plus) - reference(*minus)) / (2 * h))
        np.testing.assert_allclose(_vdot(grads64[i], direction), numeric, rtol=1e-7, atol=1e-7,
                                   err_msg=name)
        np.testing.assert_allclose(np.asarray(grads32[i], np.float64),
                                   np.asarray(grads64[i]), rtol=1e-4, atol=1e-4, err_msg=name)


X = np.ones((2, 3, 4), np.float32)


@pytest.mark.parametrize("alpha, match", [
    (1.5, r"alpha must be in \[0, 1\] \(1 = full style, 0 = the content\), got 1\.5"),
    (-0.1, r"alpha must be in \[0, 1\] .*got -0\.1; it blends alpha \* adain"),
    (float("nan"), r"alpha must be in \[0, 1\] .*got nan"),
    (np.float32(2), r"alpha must be in \[0, 1\] .*got 2\.0"),
    (True, r"alpha must be a real scalar in \[0, 1\] .*got True"),
    (None, r"alpha must be a real scalar in \[0, 1\] .*got None"),
    ("0.5", r"alpha must be a real scalar in \[0, 1\] .*got '0\.5'"),
    (jnp.ones(2), r"alpha must be a real scalar in \[0, 1\] .*got Array\(\[1\., 1\.\]"),
], ids=["above", "below", "nan", "numpy", "bool", "none", "str", "vector"])
def test_alpha_out_of_range_or_not_a_scalar(alpha, match):
    with pytest.raises(ValueError, match=match):
        lucid_jax.adain(X, X, alpha=alpha)


@pytest.mark.parametrize("content, style, kw, match", [
    (np.ones((2, 3, 4), np.int32), X, {},
     r"adain expects a floating-point content, got dtype int32"),
    (X, np.ones((2, 3, 4), np.int32), {},
     r"adain expects a floating-point style, got dtype int32; cast it first, "
     r"e\.g\. style\.astype\(jnp\.float32\)"),
    (np.ones((3, 16), np.float32), X, {},
     r"adain expects content of rank >= 3: a batch axis \(axis 0\), the channel axis "
     r"\(channel_axis=1\) and spatial axes; got content of shape \(3, 16\) \(rank 2\)\. "
     r"A single unbatched image needs its batch axis: content\[None\]"),
    (np.ones((2, 3, 4, 4), np.float32), np.ones((2, 3, 4), np.float32), {"channel_axis": (1, 2)},
     r"adain expects style of rank >= 4: .*channel_axis=\(1, 2\).*got style of shape \(2, 3, 4\)"),
    (np.ones((2, 3, 8, 8), np.float32), np.ones((3, 8, 8), np.float32), {},
     r"adain expects content and style laid out alike \(the same rank\), got content "
     r"\(2, 3, 8, 8\) \(rank 4\) and style \(3, 8, 8\) \(rank 3\); if one is a single "
     r"unbatched image, add its batch axis with \[None\]"),
    (np.ones((2, 3, 8, 8), np.float32), np.ones((2, 8, 8, 3), np.float32), {},
     r"adain needs the same channels in content and style on channel_axis 1, got \(3,\) for "
     r"content \(2, 3, 8, 8\) and \(8,\) for style \(2, 8, 8, 3\); are both laid out alike "
     r"\(channel_axis=1 for NCHW, -1 for NHWC\)\?"),
    (np.ones((4, 3, 5), np.float32), np.ones((2, 3, 5), np.float32), {},
     r"adain needs a style batch \(axis 0\) of 4, like the content, or 1 \(one style for every "
     r"content image\), got 2: content \(4, 3, 5\), style \(2, 3, 5\)"),
], ids=["int content", "int style", "unbatched content", "rank below channel axes",
        "unbatched style", "NHWC style for NCHW content", "batch"])
def test_layout_errors_say_which_axis(content, style, kw, match):
    with pytest.raises(ValueError, match=match):
        lucid_jax.adain(content, style, **kw)
