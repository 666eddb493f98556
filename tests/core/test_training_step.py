"""The layers' training step, ``_functional.instance_norm_and_update``: one computation of the
moments gives the output and the new running statistics, the same numbers as the two public
calls it replaces."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lucid_jax
from lucid_jax import _functional, _stats
from lucid_jax._functional import instance_norm_and_update


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("edge_cases", ["torch", "flax"])
def test_matches_instance_norm_then_update_running_stats(rng, masked, edge_cases):
    x = jnp.asarray(rng.standard_normal((3, 4, 5, 6)) * 3 + 2, jnp.float32)
    weight, bias = jnp.asarray(rng.standard_normal(4)), jnp.asarray(rng.standard_normal(4))
    mean, var = jnp.asarray(rng.standard_normal(4)), jnp.asarray(rng.random(4) + 0.5)
    mask = jnp.asarray(rng.random((3, 1, 5, 6)) > 0.3) if masked else None
    settings = dict(channel_axis=1, mask=mask, edge_cases=edge_cases)
    y, (new_mean, new_var) = instance_norm_and_update(x, mean, var, weight, bias, 0.3, 1e-3,
                                                      **settings)
    np.testing.assert_allclose(
        y, lucid_jax.instance_norm(x, mean, var, weight, bias, eps=1e-3, **settings),
        rtol=1e-6, atol=1e-6)
    expected = lucid_jax.update_running_stats(x, mean, var, 0.3, **settings)
    np.testing.assert_allclose(new_mean, expected[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new_var, expected[1], rtol=1e-6, atol=1e-7)


def test_the_moments_are_computed_once(monkeypatch):
    """Traced without differentiation (under ``grad`` the custom JVP rule computes them, and
    the primal traced beside it is discarded)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return moments(*args, **kwargs)

    moments = _stats.moments
    monkeypatch.setattr(_stats, "moments", counted)
    monkeypatch.setattr(_functional, "moments", counted)
    jax.clear_caches()  # trace afresh, through the counting function

    def loss(x):
        y, (mean, var) = instance_norm_and_update(x, jnp.zeros(3), jnp.ones(3), momentum=0.5)
        return jnp.sum(y * y) + jnp.sum(mean + var)

    x = jnp.arange(2 * 3 * 7, dtype=jnp.float32).reshape(2, 3, 7)
    loss(x)
    assert calls == [(2, 3, 7)]


def test_the_new_running_statistics_carry_no_gradient_from_x_and_the_blends_from_the_old(rng):
    x = jnp.asarray(rng.standard_normal((2, 3, 8)), jnp.float32)

    def statistics(x, mean, var):
        new = instance_norm_and_update(x, mean, var, momentum=0.3)[1]
        return sum(jnp.sum(s) for s in new)

    dx, dmean, dvar = jax.grad(statistics, argnums=(0, 1, 2))(x, jnp.zeros(3), jnp.ones(3))
    np.testing.assert_array_equal(dx, 0)
    np.testing.assert_allclose(dmean, 1 - 0.3, rtol=1e-6)
    np.testing.assert_allclose(dvar, 1 - 0.3, rtol=1e-6)


def test_checks_its_settings_before_anything():
    x = jnp.ones((2, 3, 4))
    with pytest.raises(ValueError, match="momentum must be a finite float"):
        instance_norm_and_update(x, jnp.zeros(3), jnp.ones(3), momentum=float("nan"))
    with pytest.raises(ValueError, match="running_mean has shape"):
        instance_norm_and_update(x, jnp.zeros(2), jnp.ones(3))
