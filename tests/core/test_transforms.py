"""The core under JAX's transformations: jit, grad, vmap, jvp, hessian."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest

import lucid_jax
from lucid_jax._compat import enable_x64


@pytest.fixture
def x(rng):
    return jnp.asarray(rng.standard_normal((3, 4, 5, 6)) * 2 + 1, jnp.float32)


def test_jit_equals_eager(x, rng):
    weight = jnp.asarray(rng.standard_normal(4), jnp.float32)
    eager = lucid_jax.instance_norm(x, weight=weight, eps=1e-3)
    jitted = jax.jit(lambda x, w: lucid_jax.instance_norm(x, weight=w, eps=1e-3))(x, weight)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)


def test_eager_calls_reuse_one_compiled_kernel(x):
    from lucid_jax import _functional

    lucid_jax.instance_norm(x)
    before = _functional._instance_norm._cache_size()
    for _ in range(3):
        lucid_jax.instance_norm(x + 1.0)
    assert _functional._instance_norm._cache_size() == before


def test_vmap_over_an_extra_leading_axis(x):
    stacked = jnp.stack([x, 2 * x + 3])
    batched = jax.vmap(lucid_jax.instance_norm)(stacked)
    for i in range(2):
        oracle.assert_close(batched[i], oracle.instance_norm(np.asarray(stacked[i])))


def test_vmap_over_weights(x, rng):
    weights = jnp.asarray(rng.standard_normal((5, 4)), jnp.float32)
    out = jax.vmap(lambda w: lucid_jax.instance_norm(x, weight=w))(weights)
    for i in range(5):
        oracle.assert_close(out[i], oracle.instance_norm(np.asarray(x), weight=weights[i]))


def test_grad_with_respect_to_weight_and_bias(x, rng):
    cotangent = jnp.asarray(rng.standard_normal(x.shape), jnp.float32)
    weight = jnp.asarray(rng.standard_normal(4), jnp.float32)
    bias = jnp.asarray(rng.standard_normal(4), jnp.float32)

    def loss(weight, bias):
        return jnp.vdot(lucid_jax.instance_norm(x, weight=weight, bias=bias), cotangent)

    dw, db = jax.grad(loss, argnums=(0, 1))(weight, bias)
    xhat = oracle.instance_norm(np.asarray(x))
    g = np.asarray(cotangent, np.float64)
    oracle.assert_close(dw, (g * xhat).sum((0, 2, 3)))
    oracle.assert_close(db, g.sum((0, 2, 3)))


def test_jvp_matches_finite_differences(x, rng):
    with enable_x64(True):
        x64 = jnp.asarray(x, jnp.float64)
        tangent = jnp.asarray(rng.standard_normal(x.shape))
        _, jvp_out = jax.jvp(lucid_jax.instance_norm, (x64,), (tangent,))
        h = 1e-6
        numeric = (lucid_jax.instance_norm(x64 + h * tangent)
                   - lucid_jax.instance_norm(x64 - h * tangent)) / (2 * h)
        np.testing.assert_allclose(jvp_out, numeric, rtol=1e-6, atol=1e-7)


def test_hessian_matches_central_differences_of_the_gradient(rng):
    """``jax.hessian`` (forward over reverse through the custom JVP rule) against central
    differences of ``jax.grad`` in float64, independent of how the rule is differentiated."""
    with enable_x64(True):
        x = jnp.asarray(rng.standard_normal((1, 2, 5)) * 2 + 3)
        cotangent = jnp.asarray(rng.standard_normal(x.shape))
        weight = jnp.asarray(rng.standard_normal(2))

        def loss(x):
            return jnp.vdot(jnp.tanh(lucid_jax.instance_norm(x, weight=weight)), cotangent)

        hessian = np.asarray(jax.hessian(loss)(x)).reshape(10, 10)
        grad = jax.jit(jax.grad(loss))
        h = 1e-5
        basis = np.eye(10).reshape(10, *x.shape)
        numeric = np.stack([(grad(x + h * e) - grad(x - h * e)).ravel() / (2 * h)
                            for e in basis])
        np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(hessian, hessian.T, atol=1e-10)
        assert np.abs(hessian).max() > 1e-2
        # Instances do not interact: the cross-channel block is zero.
        np.testing.assert_array_equal(hessian[:5, 5:], 0)


@pytest.mark.parametrize("weight", [None, np.array([1.5, -0.5, 2.0])])
def test_masked_gradient_matches_the_oracle(rng, weight):
    """Gradient of a masked normalisation under a random cotangent, against the float64 formula:
    masked-out elements are normalised too but never enter the statistics."""
    x = (rng.standard_normal((2, 3, 10)) * 2 + 1).astype(np.float32)
    cotangent = rng.standard_normal(x.shape).astype(np.float32)
    mask = np.arange(10)[None, None, :] < np.array([7, 10])[:, None, None]  # (2, 1, 10)

    def loss(x):
        return jnp.vdot(lucid_jax.instance_norm(x, weight=weight, mask=mask), cotangent)

    grad = jax.jit(jax.grad(loss))(jnp.asarray(x))
    oracle.assert_close(grad, oracle.input_grad(x, cotangent, mask=mask, weight=weight))
    oracle.assert_close(lucid_jax.instance_norm(x, weight=weight, mask=mask),
                        oracle.instance_norm(x, weight=weight, mask=mask))


def test_update_running_stats_is_differentiable_in_x(rng):
    x = jnp.asarray(rng.standard_normal((2, 3, 6)), jnp.float32)
    probe = jnp.asarray(rng.standard_normal(3), jnp.float32)
    grad = jax.grad(
        lambda x: jnp.vdot(lucid_jax.update_running_stats(x, jnp.zeros(3), jnp.ones(3))[0],
                           probe))(x)
    # d(0.1 * mean over batch and length)/dx = 0.1 / (N * L) * probe[c]
    expected = np.broadcast_to(0.1 / 12 * np.asarray(probe)[None, :, None], x.shape)
    oracle.assert_close(grad, expected)


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("offset", [0.0, 1e4, 1e5])
def test_gradients_of_input_weight_and_bias_far_from_zero(rng, offset, per_sample):
    """One backward pass gives dx, dweight and dbias (sharing its two per-instance
    reductions); each within a few float32 rounding errors of float64 at large offsets."""
    x = (rng.standard_normal((2, 4, 8, 8)) + offset).astype(np.float32)
    cotangent = rng.standard_normal(x.shape).astype(np.float32)
    shape = (2, 4) if per_sample else (4,)
    weight = (rng.standard_normal(shape) + 1).astype(np.float32)
    bias = rng.standard_normal(shape).astype(np.float32)
    _, pullback = jax.vjp(lambda x, w, b: lucid_jax.instance_norm(x, weight=w, bias=b),
                          *map(jnp.asarray, (x, weight, bias)))
    dx, dw, db = (np.asarray(d, np.float64) for d in pullback(jnp.asarray(cotangent)))
    g = cotangent.astype(np.float64)
    xhat = oracle.instance_norm(x)
    reduced = (2, 3) if per_sample else (0, 2, 3)
    np.testing.assert_allclose(dx, oracle.input_grad(x, cotangent, weight=weight), rtol=0,
                               atol=2e-6)
    np.testing.assert_allclose(dw, (g * xhat).sum(reduced), rtol=0, atol=2e-5)
    np.testing.assert_allclose(db, g.sum(reduced), rtol=0, atol=2e-5)


def test_jvp_in_input_weight_and_bias_matches_finite_differences(x, rng):
    """Forward mode through the rule's weight and bias tangents, as well as the input's."""
    with enable_x64(True):
        primals = (jnp.asarray(x, jnp.float64), jnp.asarray(rng.standard_normal(4)),
                   jnp.asarray(rng.standard_normal(4)))
        tangents = tuple(jnp.asarray(rng.standard_normal(p.shape)) for p in primals)

        def f(x, w, b):
            return lucid_jax.instance_norm(x, weight=w, bias=b)

        _, jvp_out = jax.jvp(f, primals, tangents)
        h = 1e-6
        numeric = (f(*(p + h * t for p, t in zip(primals, tangents, strict=True)))
                   - f(*(p - h * t for p, t in zip(primals, tangents, strict=True)))) / (2 * h)
        np.testing.assert_allclose(jvp_out, numeric, rtol=1e-6, atol=1e-7)
