"""Every ValueError the core raises, matched by its message."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest

import lucid_jax

X = jnp.ones((2, 3, 4))


def test_integer_input():
    with pytest.raises(ValueError, match=r"floating-point input, got dtype int32"):
        lucid_jax.instance_norm(jnp.ones((2, 3, 4), jnp.int32))


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_rank_below_three(shape):
    with pytest.raises(ValueError, match=rf"rank >= 3 \(N, C, \*spatial\), got rank {len(shape)} "
                                         r".*it must be at least 3-D"):
        lucid_jax.instance_norm(jnp.ones(shape))


def test_rank_below_two_under_flax_edge_cases():
    with pytest.raises(ValueError, match=r"rank >= 2 \(N, C\), got rank 1 .*at least 2-D"):
        lucid_jax.instance_norm(jnp.ones(3), edge_cases="flax")


@pytest.mark.parametrize("edge_cases", ["pytorch", None, "Flax"])
def test_unknown_edge_cases(edge_cases):
    with pytest.raises(ValueError, match=rf"edge_cases must be 'torch' .* or 'flax' .*, got "
                                         rf"{edge_cases!r}"):
        lucid_jax.instance_norm(X, edge_cases=edge_cases)
    with pytest.raises(ValueError, match=r"edge_cases must be 'torch'"):
        lucid_jax.update_running_stats(X, jnp.zeros(3), jnp.ones(3), edge_cases=edge_cases)


def test_channel_axis_is_the_batch_axis():
    with pytest.raises(ValueError, match=r"channel_axis 0 includes axis 0, the batch axis; "
                                         r".*\(e.g. 1 for NCHW, -1 for NHWC\)") as error:
        lucid_jax.instance_norm(X, channel_axis=0)
    assert "leading dimension" not in str(error.value)  # Flax's sentence is feature_axes' only
    with pytest.raises(ValueError, match=r"includes axis 0, the batch axis"):
        lucid_jax.instance_norm(X, channel_axis=-3)


def test_channel_axis_out_of_range_repeated_or_empty():
    with pytest.raises(ValueError, match=r"channel_axis 3 is out of range for an input of rank 3"):
        lucid_jax.instance_norm(X, channel_axis=3)
    with pytest.raises(ValueError, match=r"names the same axis twice"):
        lucid_jax.instance_norm(jnp.ones((2, 3, 4, 5)), channel_axis=(1, -3))
    with pytest.raises(ValueError, match=r"at least one axis, got an empty sequence"):
        lucid_jax.instance_norm(X, channel_axis=())
    with pytest.raises(ValueError, match=r"an int or a sequence of ints, got 'c'"):
        lucid_jax.instance_norm(X, channel_axis="c")


def test_no_axis_left_to_reduce():
    with pytest.raises(ValueError, match=r"rank >= 4 \(N, C, \*spatial\), got rank 3"):
        lucid_jax.instance_norm(X, channel_axis=(1, 2))


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_affine_of_wrong_length(name):
    with pytest.raises(ValueError, match=rf"{name} has shape \(4,\), expected \(3,\) or \(2, 3\)"):
        lucid_jax.instance_norm(X, **{name: jnp.ones(4)})


def test_running_stats_of_wrong_length():
    with pytest.raises(ValueError, match=r"running_mean has shape \(2,\), expected \(3,\) for"):
        lucid_jax.instance_norm(X, jnp.zeros(2), jnp.ones(3), use_input_stats=False)
    with pytest.raises(ValueError, match=r"running_var has shape \(2, 3\), expected \(3,\) for"):
        lucid_jax.update_running_stats(X, jnp.zeros(3), jnp.ones((2, 3)))


def test_running_stats_missing_when_needed():
    with pytest.raises(ValueError, match=r"running_mean and running_var are None"):
        lucid_jax.instance_norm(X, use_input_stats=False)
    with pytest.raises(ValueError, match=r"but running_var is None"):
        lucid_jax.instance_norm(X, jnp.zeros(3), use_input_stats=False)
    with pytest.raises(ValueError, match=r"but running_mean is None"):
        lucid_jax.update_running_stats(X, None, jnp.ones(3))


def test_single_element_per_instance_when_using_input_stats():
    single = jnp.ones((2, 3, 1))
    message = r"Expected more than 1 spatial element when training, got input size \(2, 3, 1\)"
    with pytest.raises(ValueError, match=message):
        lucid_jax.instance_norm(single)
    with pytest.raises(ValueError, match=message):
        lucid_jax.update_running_stats(single, jnp.zeros(3), jnp.ones(3))
    # With running statistics a single element is fine, as in PyTorch's eval mode.
    out = lucid_jax.instance_norm(single, jnp.zeros(3), jnp.ones(3), use_input_stats=False)
    assert out.shape == single.shape


@pytest.mark.parametrize("momentum", [float("nan"), float("inf"), -float("inf"),
                                      np.float32("nan")])
def test_non_finite_momentum(momentum):
    with pytest.raises(ValueError, match=r"momentum must be a finite float \(or None to freeze\), "
                                         rf"got {momentum}"):
        lucid_jax.update_running_stats(X, jnp.zeros(3), jnp.ones(3), momentum)
    with pytest.raises(ValueError, match=r"momentum must be a finite float"):
        lucid_jax.instance_norm(X, momentum=momentum)


def test_momentum_of_wrong_type():
    with pytest.raises(ValueError, match=r"momentum must be a finite float or None, got '0.1'"):
        lucid_jax.instance_norm(X, momentum="0.1")


@pytest.mark.parametrize("eps", [-1e-5, "1e-5", None])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match=r"eps must be a non-negative float, got"):
        lucid_jax.instance_norm(X, eps=eps)


def test_ambiguous_lower_rank_mask_is_refused_with_both_fixes():
    """N == C: an (N, H, W) mask fits NumPy's trailing reading (C, H, W) and the batch-first
    one (N, 1, H, W); which was meant cannot be told, so it is refused."""
    x = jnp.ones((4, 4, 5, 5))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 5, 5\) is ambiguous on the input of "
                                         r"shape \(4, 4, 5, 5\): NumPy aligns its trailing axes, "
                                         r"reading it as \(1, 4, 5, 5\), but it also fits as a "
                                         r"mask without the channel axes, \(4, 1, 5, 5\)\. .*"
                                         r"mask\[:, None\] for the mask without the channel axes, "
                                         r"mask\.reshape\(\(1, 4, 5, 5\)\) for NumPy's reading"):
        lucid_jax.instance_norm(x, mask=jnp.ones((4, 5, 5), bool))
    with pytest.raises(ValueError, match=r"\(4, 4, 4\) is ambiguous.*mask\[\.\.\., None\]"):
        lucid_jax.instance_norm(jnp.ones((4, 4, 4, 4)), mask=jnp.ones((4, 4, 4), bool),
                                channel_axis=-1)
    with pytest.raises(ValueError, match=r"\(4, 4\) is ambiguous.*mask\[\.\.\., None\]"):
        lucid_jax.instance_norm(jnp.ones((4, 4, 4)), mask=jnp.ones((4, 4), bool), channel_axis=-1)


def test_mask_without_the_channel_axes_that_numpy_cannot_broadcast_gets_the_fix():
    with pytest.raises(ValueError, match=r"mask of shape \(2, 5, 5\) cannot be broadcast to the "
                                         r"input's shape \(2, 3, 5, 5\); it looks like a mask "
                                         r"without the channel axes: use mask\[:, None\]"):
        lucid_jax.instance_norm(jnp.ones((2, 3, 5, 5)), mask=jnp.ones((2, 5, 5), bool))
    with pytest.raises(ValueError, match=r"cannot be broadcast.*use mask\[\.\.\., None\]"):
        lucid_jax.instance_norm(jnp.ones((2, 5, 5, 3)), mask=jnp.ones((2, 5, 5), bool),
                                channel_axis=-1)
    with pytest.raises(ValueError, match=r"cannot be broadcast.*"
                                         r"use jnp\.expand_dims\(mask, \(1, 2\)\)"):
        lucid_jax.instance_norm(jnp.ones((4, 4, 5, 5)), mask=jnp.ones((4, 5), bool),
                                channel_axis=(1, 2))


@pytest.mark.parametrize("x_shape, mask_shape, channel_axis", [
    ((4, 4, 5, 5), (5, 5), 1),        # (H, W) on NCHW
    ((4, 4, 5, 5), (5,), 1),          # (W,) on NCHW
    ((3, 7, 4), (7, 4), -1),          # (L, C) on (N, L, C)
    ((3, 7, 4), (4,), -1),            # (C,) on (N, L, C)
    ((2, 3, 5, 5), (3, 5, 5), 1),     # N != C: only NumPy's reading fits
])
def test_lower_rank_mask_with_one_reading_is_numpys(x_shape, mask_shape, channel_axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=x_shape).astype(np.float32)
    mask = rng.random(mask_shape) < 0.7
    mask.flat[0] = True
    full = np.broadcast_to(mask, x_shape)
    oracle.assert_close(lucid_jax.instance_norm(x, mask=mask, channel_axis=channel_axis),
                        oracle.instance_norm(x, mask=full, channel_axis=channel_axis))


def test_mask_errors():
    with pytest.raises(ValueError,
                       match=r"mask must be boolean \(or 0/1 integers\), got dtype float32"):
        lucid_jax.instance_norm(X, mask=jnp.ones((2, 3, 4), jnp.float32))
    with pytest.raises(ValueError, match=r"mask of shape \(1, 2, 5\) cannot be broadcast to the "
                                         r"input's shape \(2, 3, 4\)"):
        lucid_jax.instance_norm(X, mask=jnp.ones((1, 2, 5), bool))


def test_unbound_axis_name():
    with pytest.raises(ValueError, match=r"axis_name='devices' is not bound here"):
        lucid_jax.instance_norm(X, axis_name="devices")
    with pytest.raises(ValueError, match=r"batch_axis_name='batch' is not bound here"):
        lucid_jax.update_running_stats(X, jnp.zeros(3), jnp.ones(3), batch_axis_name="batch")


def test_errors_raise_under_jit_too():
    with pytest.raises(ValueError, match=r"weight has shape \(4,\)"):
        jax.jit(lambda x: lucid_jax.instance_norm(x, weight=jnp.ones(4)))(X)


def test_adain_with_mismatched_style():
    with pytest.raises(ValueError, match=r"same channels in content and style on channel_axis 1, "
                                         r"got \(3,\) for content \(2, 3, 4\) and \(5,\) for "
                                         r"style \(2, 5, 4\); are both laid out alike"):
        lucid_jax.adain(X, np.ones((2, 5, 4), np.float32))
