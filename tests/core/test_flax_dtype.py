"""Flax modules with a low-precision ``dtype`` on float32 input: statistics of the float32 values.

Rounding the input to bfloat16 before its statistics are taken costs ~0.3 at an offset of 30;
the output must be the float32 result rounded once, to within half a bfloat16 ulp. Rounding
the input first (Flax's ``promote_dtype`` applied to ``x``) fails this test.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from flax import nnx

from lucid_jax import linen
from lucid_jax import nnx as lucid_nnx
from lucid_jax._compat import assign


def _linen(x, scale, bias):
    module = linen.InstanceNorm(dtype=jnp.bfloat16)
    return module.apply({"params": {"scale": scale, "bias": bias}}, x)


def _nnx(x, scale, bias):
    module = lucid_nnx.InstanceNorm(x.shape[-1], dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    assign(module.scale, scale)
    assign(module.bias, bias)
    return module(x)


@pytest.mark.parametrize(("call", "params_promoted"), [(_linen, False), (_nnx, True)],
                         ids=["linen", "nnx"])
def test_bfloat16_dtype_on_float32_input_is_the_float32_result_rounded(rng, call,
                                                                      params_promoted):
    """NNX applies Flax's ``promote_dtype`` to ``scale``/``bias`` too (as ``flax.nnx`` does):
    its affine uses their bfloat16 values. Linen, as ``flax.linen``, keeps them float32."""
    x = (rng.standard_normal((2, 8, 8, 4)) + 30).astype(np.float32)
    scale = jnp.asarray(rng.standard_normal(4) + 1, jnp.float32)
    bias = jnp.asarray(rng.standard_normal(4), jnp.float32)
    y = jax.jit(call)(jnp.asarray(x), scale, bias)
    assert y.dtype == jnp.bfloat16
    if params_promoted:
        scale, bias = (p.astype(jnp.bfloat16).astype(jnp.float32) for p in (scale, bias))
    expected = oracle.instance_norm(x, weight=np.asarray(scale), bias=np.asarray(bias),
                                    eps=1e-6, channel_axis=-1)
    oracle.assert_within_half_ulp(y, expected, jnp.bfloat16)
