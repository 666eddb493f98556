"""Flax's own InstanceNorm tests, ported as they are, each run on Flax's module and on ours.

Sources (google/flax): ``tests/linen/linen_test.py`` (``test_instance_norm``,
``test_instance_norm_raise_error``, the ``test_normalization_equivalence`` cases with an
InstanceNorm), ``tests/nnx/nn/normalization_test.py``
(``test_nnx_linen_instancenorm_equivalence``) and the examples in the docstrings of
``flax.linen.InstanceNorm`` and ``flax.nnx.InstanceNorm``. absl's ``parameterized`` became
``pytest.mark.parametrize``; the only other change is in the NNX-vs-Linen test, which hands the
Linen ``Dense`` parameters to ``nnx.Linear`` through its initializers instead of assigning
them (``variable[...] = value`` does not exist at the oldest supported Flax).

Ours fails, as ``xfail(strict=True)``, only where its statistics deliberately differ from
Flax's formula (README, "Flax modules"): against the float32 one-liner at an offset of 1e4,
where ours is the one close to float64; and where Flax's own LayerNorm or GroupNorm is asked to
match to ``atol=1e-7``, which holds only between modules running Flax's operations in Flax's
order (ours and Flax's both stay within 4e-7 of float64 there).
"""

from __future__ import annotations

import doctest

import flax.linen as nn
import jax
import numpy as np
import pytest
from _flax_testlib import FLAX_NNX_INSTANCE_NORM, needs_flax_nnx_instance_norm
from flax import nnx
from jax import numpy as jnp
from jax import random

from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx

CLOSER_TO_FLOAT64 = ("deliberate: at offset 1e4 the float32 one-liner (and Flax) are 1.9e-3 from "
                     "float64, ours 3e-7, so ours is 1.9e-3 from the one-liner")
NOT_FLAX_FORMULA = ("deliberate: ours takes the statistics by its own accurate algorithm, not "
                    "Flax's fast variance; at offset 0 both are within 4e-7 of float64 but differ "
                    "from each other by up to 3.6e-7 > atol=1e-7")

NO_NNX_INSTANCE_NORM = needs_flax_nnx_instance_norm.kwargs["reason"]

LINEN = {"flax": nn.InstanceNorm, "ours": ours_linen.InstanceNorm}
LINEN_IDS = list(LINEN)


def _ours_fails(*values, reason):
    """A case that fails on ours, for the documented ``reason``."""
    return pytest.param(*values, marks=pytest.mark.xfail(strict=True, reason=reason))


# --------------------------------------------------------- linen_test.py: test_instance_norm

INSTANCE_NORM_CASES = [
    *[(params, which) for params in ({"feature_axes": -1}, {"feature_axes": (1, 2)},
                                     {"feature_axes": (1, 2, 3)}) for which in LINEN_IDS],
    ({"feature_axes": -1, "use_fast_variance": False}, "flax"),
    _ours_fails({"feature_axes": -1, "use_fast_variance": False}, "ours",
                reason=CLOSER_TO_FLOAT64),
]


@pytest.mark.parametrize("params, which", INSTANCE_NORM_CASES)
def test_instance_norm(params, which):
    feature_axes = params["feature_axes"]
    use_fast_variance = params.get("use_fast_variance", True)
    rng = random.key(0)
    key1, key2 = random.split(rng)
    e = 1e-5
    x = random.normal(key1, (2, 3, 4, 5))
    if not use_fast_variance:
        x += 1e4  # This blows up fast variance, but should work otherwise.
    model_cls = LINEN[which](
        use_bias=False,
        use_scale=False,
        epsilon=e,
        feature_axes=feature_axes,
        use_fast_variance=use_fast_variance,
    )
    y, _ = model_cls.init_with_output(key2, x)
    assert x.dtype == y.dtype
    assert x.shape == y.shape

    canonicalized_feature_axes = [
        i if i >= 0 else (x.ndim + i)
        for i in (feature_axes if isinstance(feature_axes, tuple) else (feature_axes,))
    ]
    reduction_axes = [i for i in range(1, x.ndim) if i not in canonicalized_feature_axes]
    y_one_liner = (
        x - x.mean(axis=reduction_axes, keepdims=True)
    ) * jax.lax.rsqrt(x.var(axis=reduction_axes, keepdims=True) + e)

    np.testing.assert_allclose(y_one_liner, y, atol=1e-6)


# --------------------------------------------------- linen_test.py: test_instance_norm_raise_error

@pytest.mark.parametrize("which", LINEN_IDS)
@pytest.mark.parametrize("feature_axes", [0, -4, (0, 3), (2, -4)])
def test_instance_norm_raise_error(feature_axes, which):
    with pytest.raises(
        ValueError,
        match="The channel axes cannot include the leading dimension "
        "as this is assumed to be the batch axis.",
    ):
        x = jax.random.normal(jax.random.key(0), (2, 3, 4, 5))
        layer = LINEN[which](feature_axes=feature_axes)
        _ = layer.init(jax.random.key(1), x)


# ------------------------------------------------ linen_test.py: test_normalization_equivalence

def _equivalence_layers(case, instance_norm):
    """Flax's parameter dicts with an InstanceNorm (the LayerNorm-vs-GroupNorm one has none)."""
    return [
        {"layer1": nn.LayerNorm(feature_axes=(1, 2)),
         "layer2": instance_norm(feature_axes=(1, 2))},
        {"layer1": nn.LayerNorm(reduction_axes=(1, 2), feature_axes=-1),
         "layer2": instance_norm(feature_axes=-1)},
        {"layer1": nn.LayerNorm(reduction_axes=-2, feature_axes=(1, 3),
                                bias_init=nn.initializers.uniform(),
                                scale_init=nn.initializers.uniform()),
         "layer2": instance_norm(feature_axes=(1, -1), bias_init=nn.initializers.uniform(),
                                 scale_init=nn.initializers.uniform())},
        {"layer1": instance_norm(bias_init=nn.initializers.uniform(),
                                 scale_init=nn.initializers.uniform()),
         "layer2": nn.GroupNorm(num_groups=None, group_size=1,
                                bias_init=nn.initializers.uniform(),
                                scale_init=nn.initializers.uniform())},
    ][case]


OURS_BEYOND_1E_7 = {0, 1}  # measured: cases 2 and 3 hold to 1e-7 on ours too


@pytest.mark.parametrize("which", ["flax", "ours"])
@pytest.mark.parametrize("case", [0, 1, 2, 3])
def test_normalization_equivalence(request, case, which):
    if which == "ours" and case in OURS_BEYOND_1E_7:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NOT_FLAX_FORMULA))
    layers = _equivalence_layers(case, LINEN[which])
    layer1, layer2 = layers["layer1"], layers["layer2"]
    x = jax.random.normal(jax.random.key(0), (2, 3, 4, 5))
    layer1_variables = layer1.init(jax.random.key(1), x)
    layer2_variables = layer2.init(jax.random.key(1), x)
    assert jax.tree_util.tree_all(
        jax.tree_util.tree_map(
            lambda v1, v2: (v1 == v2).all(),
            layer1_variables,
            layer2_variables,
        )
    )

    layer1_y = layer1.apply(layer1_variables, x)
    layer2_y = layer2.apply(layer2_variables, x)
    np.testing.assert_allclose(layer1_y, layer2_y, atol=1e-7)


# -------------------------- normalization_test.py: test_nnx_linen_instancenorm_equivalence

PAIRS = {"flax": (lambda: FLAX_NNX_INSTANCE_NORM, nn.InstanceNorm),
         "ours": (lambda: ours_nnx.InstanceNorm, ours_linen.InstanceNorm)}


@pytest.mark.parametrize("which", ["flax", "ours"])
@pytest.mark.parametrize("mask", [None, np.array([True, False, True, False, True, False])],
                         ids=["no mask", "rank-1 mask"])
@pytest.mark.parametrize("use_fast_variance", [True, False])
@pytest.mark.parametrize("param_dtype", [jnp.float32, jnp.float16])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_nnx_linen_instancenorm_equivalence(dtype, param_dtype, use_fast_variance, mask, which):
    if which == "flax" and FLAX_NNX_INSTANCE_NORM is None:
        pytest.skip(NO_NNX_INSTANCE_NORM)
    nnx_instance_norm, linen_instance_norm = PAIRS[which][0](), PAIRS[which][1]

    class NNXModel(nnx.Module):
        def __init__(self, dtype, param_dtype, use_fast_variance, rngs, kernel, bias):
            self.norm_layer = nnx_instance_norm(
                6,
                dtype=dtype,
                param_dtype=param_dtype,
                use_fast_variance=use_fast_variance,
                rngs=rngs,
            )
            self.linear = nnx.Linear(
                6, 4, dtype=dtype, param_dtype=param_dtype, rngs=rngs,
                kernel_init=lambda *_: kernel, bias_init=lambda *_: bias,
            )

        def __call__(self, x, *, mask=None):
            x = self.norm_layer(x, mask=mask)
            x = self.linear(x)
            return x

    class LinenModel(nn.Module):
        dtype: jnp.dtype | None = None
        param_dtype: jnp.dtype = jnp.float32
        use_fast_variance: bool = True

        def setup(self):
            self.norm_layer = linen_instance_norm(
                dtype=self.dtype,
                param_dtype=self.param_dtype,
                use_fast_variance=self.use_fast_variance,
            )
            self.linear = nn.Dense(4, dtype=self.dtype, param_dtype=self.param_dtype)

        def __call__(self, x, *, mask=None):
            x = self.norm_layer(x, mask=mask)
            x = self.linear(x)
            return x

    rngs = nnx.Rngs(42)
    x = jax.random.normal(jax.random.key(0), (10, 6))

    linen_model = LinenModel(
        dtype=dtype, param_dtype=param_dtype, use_fast_variance=use_fast_variance
    )
    variables = linen_model.init(jax.random.key(1), x)
    linen_out = linen_model.apply(variables, x, mask=mask)

    nnx_model = NNXModel(
        dtype=dtype,
        param_dtype=param_dtype,
        use_fast_variance=use_fast_variance,
        rngs=rngs,
        kernel=variables["params"]["linear"]["kernel"],
        bias=variables["params"]["linear"]["bias"],
    )

    nnx_out = nnx_model(x, mask=mask)
    assert isinstance(linen_out, jax.Array)
    np.testing.assert_array_equal(linen_out, nnx_out)


# ---------------------------------------------------- the docstring examples, with ours swapped in

def _docstring_examples(cls, ours_name):
    """The ``>>>`` examples of Flax's ``cls`` docstring, its InstanceNorm replaced by ours
    when ``ours_name`` is given."""
    text = cls.__doc__
    globs = {}
    if ours_name is not None:
        text = text.replace(f"{ours_name[0]}.InstanceNorm(", "_ours_InstanceNorm(")
        globs["_ours_InstanceNorm"] = ours_name[1]
    return doctest.DocTestParser().get_doctest(text, globs, cls.__qualname__, None, 0)


DOCSTRINGS = {
    "flax.linen": lambda: (nn.InstanceNorm, None),
    "ours.linen": lambda: (nn.InstanceNorm, ("nn", ours_linen.InstanceNorm)),
    "flax.nnx": lambda: (FLAX_NNX_INSTANCE_NORM, None),
    "ours.nnx": lambda: (FLAX_NNX_INSTANCE_NORM, ("nnx", ours_nnx.InstanceNorm)),
}


@pytest.mark.parametrize("which", [
    _ours_fails(which, reason=NOT_FLAX_FORMULA + " (its LayerNorm and GroupNorm lines; the "
                "printed variables and state match)") if which.startswith("ours") else which
    for which in DOCSTRINGS])
def test_docstring_examples(which):
    if which.endswith("nnx") and FLAX_NNX_INSTANCE_NORM is None:
        pytest.skip(NO_NNX_INSTANCE_NORM + ", so no docstring to run")
    cls, ours = DOCSTRINGS[which]()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    result = runner.run(_docstring_examples(cls, ours))
    assert result.attempted > 0
    assert result.failed == 0
