"""``update_running_stats`` against torch's InstanceNorm modules over several training steps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
import torch

import lucid_jax

MODULES = {3: torch.nn.InstanceNorm1d, 4: torch.nn.InstanceNorm2d, 5: torch.nn.InstanceNorm3d}


@pytest.mark.parametrize("shape", [(4, 3, 9), (3, 2, 5, 4), (2, 3, 3, 4, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None, 1.0, -1.2, -1.0, 1.7])
def test_matches_torch_module_over_steps(rng, shape, momentum):
    c = shape[1]
    module = MODULES[len(shape)](c, momentum=momentum, affine=True, track_running_stats=True)
    module.train()
    mean, var = jnp.zeros(c), jnp.ones(c)
    oracle_mean, oracle_var = np.zeros(c), np.ones(c)
    for step in range(5):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        module(torch.from_numpy(x))
        mean, var = lucid_jax.update_running_stats(x, mean, var, momentum)
        oracle_mean, oracle_var = oracle.update_running_stats(x, oracle_mean, oracle_var,
                                                              momentum)
    oracle.assert_close(mean, module.running_mean.numpy())
    oracle.assert_close(var, module.running_var.numpy())
    oracle.assert_close(mean, oracle_mean)
    oracle.assert_close(var, oracle_var)
    if momentum is None:  # frozen, as PyTorch's InstanceNorm does
        np.testing.assert_array_equal(mean, np.zeros(c))
        np.testing.assert_array_equal(var, np.ones(c))
    else:
        assert not np.allclose(mean, 0)


def test_eval_uses_running_stats_unchanged(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    module = torch.nn.InstanceNorm2d(3, track_running_stats=True)
    module(torch.from_numpy(x))
    mean, var = lucid_jax.update_running_stats(x, jnp.zeros(3), jnp.ones(3))
    module.eval()
    y = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    expected = module(torch.from_numpy(y)).detach().numpy()
    ours = lucid_jax.instance_norm(y, mean, var, use_input_stats=False)
    oracle.assert_close(ours, expected)


def test_channels_last_and_dtype_kept(rng):
    x = rng.standard_normal((3, 6, 5, 2)).astype(np.float32)
    old_mean, old_var = jnp.zeros(2, jnp.float16), jnp.ones(2, jnp.float16)
    mean, var = lucid_jax.update_running_stats(x, old_mean, old_var, channel_axis=-1)
    assert mean.dtype == var.dtype == jnp.float16
    expected_mean, expected_var = oracle.update_running_stats(np.moveaxis(x, -1, 1),
                                                              np.zeros(2), np.ones(2))
    oracle.assert_close(mean, expected_mean, np.float16)
    oracle.assert_close(var, expected_var, np.float16)


def test_under_jit_and_differentiable_inputs_untouched(rng):
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    old = (jnp.zeros(3), jnp.ones(3))
    eager = lucid_jax.update_running_stats(x, *old, 0.2)
    jitted = jax.jit(lambda x, m, v: lucid_jax.update_running_stats(x, m, v, 0.2))(x, *old)
    for a, b in zip(eager, jitted, strict=True):
        oracle.assert_close(a, b)
    np.testing.assert_array_equal(old[0], 0)  # pure: the inputs are not written


def test_masked_instances_with_too_few_elements_are_left_out(rng):
    x = rng.standard_normal((3, 2, 6)).astype(np.float32)
    mask = np.ones((3, 1, 6), bool)
    mask[1, :, 1:] = False  # instance 1 has one valid element: no unbiased variance
    mean, var = lucid_jax.update_running_stats(x, jnp.zeros(2), jnp.ones(2), 1.0, mask=mask)
    kept = x[[0, 2]]
    oracle.assert_close(mean, kept.mean((0, 2)))
    oracle.assert_close(var, kept.var(2, ddof=1).mean(0))
    mask[:] = False
    mean, var = lucid_jax.update_running_stats(x, jnp.zeros(2), jnp.ones(2), 1.0, mask=mask)
    np.testing.assert_array_equal(mean, 0)  # nothing valid: statistics unchanged
    np.testing.assert_array_equal(var, 1)
