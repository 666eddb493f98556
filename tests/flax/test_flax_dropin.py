"""lucid_jax.linen / lucid_jax.nnx as drop-ins: the cases Flax's own InstanceNorm tests check
(tests/linen/linen_test.py, tests/nnx/nn/normalization_test.py, tests/nnx/nn/linear_test.py in
google/flax), checked against the float64 oracle on Flax's module and on ours, and the traps
that now warn. ``test_flax_ported.py`` runs Flax's tests as they are written."""

from __future__ import annotations

import re
import warnings

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from _flax_testlib import FLAX_NNX_INSTANCE_NORM, needs_flax_nnx_instance_norm
from flax import nnx

from lucid_jax import linen as ours_linen
from lucid_jax import nnx as ours_nnx
from lucid_jax._compat import auto_mesh, value_of

FLAX_BATCH_AXIS = ("The channel axes cannot include the leading dimension as this is assumed "
                   "to be the batch axis.")


def _arange_init(offset):
    """A deterministic initializer, so Linen and NNX, Flax's and ours, hold equal parameters."""
    def init(key, shape, dtype=jnp.float32):
        return (offset + jnp.arange(np.prod(shape)).reshape(shape) / 10).astype(dtype)
    return init


AFFINE = {"scale_init": _arange_init(1.0), "bias_init": _arange_init(0.5)}


def _feature_shape(x, feature_axes):
    axes = (feature_axes,) if isinstance(feature_axes, int) else feature_axes
    return tuple(x.shape[a] for a in sorted(a % x.ndim for a in axes))


class Impl:
    """One InstanceNorm implementation, called the way its users call it."""

    def __init__(self, name, linen_cls=None, nnx_cls=None, **extra):
        self.name, self.linen_cls, self.nnx_cls, self.extra = name, linen_cls, nnx_cls, extra

    def __repr__(self):
        return self.name

    @property
    def tracked(self):
        return bool(self.extra.get("track_running_stats"))

    def build(self, x, **fields):
        """A callable ``f(x, mask=None) -> y`` and a function returning the module's state."""
        fields = {**fields, **self.extra}
        if self.linen_cls is not None:
            layer = self.linen_cls(**fields)
            kw = {"use_running_average": False} if self.tracked else {}
            variables = layer.init(jax.random.key(0), x, **kw)
            box = {"variables": variables}

            def call(x, mask=None):
                if not self.tracked:
                    return layer.apply(box["variables"], x, mask=mask)
                y, updates = layer.apply(box["variables"], x, use_running_average=False,
                                         mask=mask, mutable=["batch_stats"])
                box["variables"] = {**box["variables"], **updates}
                return y
            return call, lambda: box["variables"]
        features = _feature_shape(x, fields.get("feature_axes", -1))
        if self.nnx_cls is FLAX_NNX_INSTANCE_NORM:
            features = int(np.prod(features))  # Flax's NNX takes an int
        module = self.nnx_cls(features, rngs=nnx.Rngs(0), **fields)
        return (lambda x, mask=None: module(x, mask=mask)), lambda: nnx.state(module)


FLAX_LINEN = Impl("flax.linen", linen_cls=fnn.InstanceNorm)
FLAX_NNX = Impl("flax.nnx", nnx_cls=FLAX_NNX_INSTANCE_NORM) if FLAX_NNX_INSTANCE_NORM else None
FLAX = [impl for impl in (FLAX_LINEN, FLAX_NNX) if impl is not None]
OURS = [Impl("lucid_jax.linen", linen_cls=ours_linen.InstanceNorm),
        Impl("lucid_jax.nnx", nnx_cls=ours_nnx.InstanceNorm),
        Impl("lucid_jax.linen+stats", linen_cls=ours_linen.InstanceNorm,
             track_running_stats=True, momentum=0.9),
        Impl("lucid_jax.nnx+stats", nnx_cls=ours_nnx.InstanceNorm,
             track_running_stats=True, momentum=0.9)]
ALL = FLAX + OURS


def _normal(shape, offset=0.0, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray((rng.normal(size=shape) * rng.uniform(0.5, 3.0, shape[-1]) + offset)
                       .astype(dtype))


# ---------------------------------------------------------------- linen_test.test_instance_norm

def _runs(impl, feature_axes):
    """flax.nnx.InstanceNorm takes an int num_features, so only one feature axis."""
    return impl is not FLAX_NNX or isinstance(feature_axes, int)


@pytest.mark.parametrize("impl, feature_axes", [
    (impl, axes) for axes in (-1, (1, 2), (1, 2, 3)) for impl in ALL if _runs(impl, axes)],
    ids=repr)
def test_flax_instance_norm_cases(impl, feature_axes):
    """Flax's test_instance_norm: output against the one-liner (here the float64 oracle)."""
    x = _normal((2, 3, 4, 5))
    call, _ = impl.build(x, use_bias=False, use_scale=False, epsilon=1e-5,
                         feature_axes=feature_axes)
    y = call(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    expected = oracle.instance_norm(x, eps=1e-5, channel_axis=feature_axes)
    oracle.assert_close(y, expected)
    if feature_axes == (1, 2, 3):  # nothing left to reduce: exactly 0, as in Flax
        np.testing.assert_array_equal(y, np.zeros(x.shape))


AXES_AS_ITERABLES = {
    "numpy [-1]": (lambda: np.array([-1]), (3,)),
    "numpy [1, 2]": (lambda: np.array([1, 2]), (1, 2)),
    "generator": (lambda: (a for a in (1, -2)), (1, 2)),
}


@pytest.mark.parametrize("given", AXES_AS_ITERABLES.values(), ids=AXES_AS_ITERABLES.keys())
def test_feature_axes_as_any_iterable_of_ints(given):
    """As in flax.linen.InstanceNorm, feature_axes may be any iterable of integers."""
    make_axes, axes = given
    x = _normal((2, 3, 4, 5))
    expected = oracle.instance_norm(x, eps=1e-5, channel_axis=axes)
    fields = {"use_bias": False, "use_scale": False, "epsilon": 1e-5}
    flax_y, _ = fnn.InstanceNorm(feature_axes=make_axes(), **fields).init_with_output(
        jax.random.key(0), x)
    linen_y, _ = ours_linen.InstanceNorm(feature_axes=make_axes(), **fields).init_with_output(
        jax.random.key(0), x)
    for y in (flax_y, linen_y):
        oracle.assert_close(y, expected)
    style = _normal((2, 3, 4, 5), offset=2.0, seed=1)
    oracle.assert_close(ours_linen.AdaIN(feature_axes=make_axes()).apply({}, x, style),
                        oracle.adain(x, style, channel_axis=axes))
    if isinstance(make_axes(), np.ndarray):  # an NNX module keeps its field: not a generator
        nnx_y = ours_nnx.InstanceNorm(_feature_shape(x, axes), feature_axes=make_axes(),
                                      rngs=nnx.Rngs(0), **fields)(x)
        oracle.assert_close(nnx_y, expected)
        oracle.assert_close(ours_nnx.AdaIN(feature_axes=make_axes())(x, style),
                            oracle.adain(x, style, channel_axis=axes))


# ------------------------------------------------------------------- Flax's edge cases, in ours

EDGE_CASES = {
    "rank-2 (N, C)": ((4, 3), -1),
    "feature axes cover all": ((2, 3, 4, 2), (1, 2, 3)),
    "one spatial element NHWC": ((2, 1, 1, 3), -1),
    "one spatial element NLC": ((3, 1, 4), -1),
}


@pytest.mark.parametrize("impl, case", [
    (impl, case) for case in EDGE_CASES for impl in ALL if _runs(impl, EDGE_CASES[case][1])],
    ids=repr)
def test_nothing_to_reduce_gives_the_bias_as_in_flax(impl, case):
    shape, feature_axes = EDGE_CASES[case]
    x = _normal(shape, offset=3.0)
    call, state = impl.build(x, feature_axes=feature_axes, **AFFINE)
    before = jax.tree.map(np.asarray, state())
    y = call(x)
    bias = _arange_init(0.5)(None, _feature_shape(x, feature_axes))
    feature_shape = [x.shape[a] if a in np.atleast_1d(np.mod(feature_axes, x.ndim)) else 1
                     for a in range(x.ndim)]
    np.testing.assert_array_equal(y, np.broadcast_to(bias.reshape(feature_shape), x.shape))
    # No instance has two elements: the running statistics stay as they were.
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, state()), before)


@pytest.mark.parametrize("impl", [FLAX_LINEN, OURS[0], OURS[2]], ids=repr)
def test_nothing_to_reduce_has_a_zero_input_gradient(impl):
    x = _normal((4, 1, 3), offset=2.0)
    cot = _normal((4, 1, 3), seed=1)
    call, _ = impl.build(x, **AFFINE)
    dx = jax.grad(lambda x: jnp.vdot(call(x), cot))(x)
    np.testing.assert_array_equal(dx, np.zeros(x.shape))


# ------------------------------------------------- linen_test: test_instance_norm_raise_error

@pytest.mark.parametrize("impl", ALL, ids=repr)
@pytest.mark.parametrize("feature_axes", [0, -4, (0, 3), (2, -4)])
def test_feature_axes_with_the_batch_axis(impl, feature_axes):
    x = _normal((2, 3, 4, 5))
    if impl.nnx_cls is not None:  # NNX checks at call time
        module = impl.nnx_cls(5, rngs=nnx.Rngs(0), feature_axes=feature_axes, **impl.extra)
        with pytest.raises(ValueError, match=re.escape(FLAX_BATCH_AXIS)) as error:
            module(x)
    else:
        with pytest.raises(ValueError, match=re.escape(FLAX_BATCH_AXIS)) as error:
            impl.build(x, feature_axes=feature_axes)
    if impl in OURS:  # Flax's sentence, then our hint
        assert re.search(r"feature_axes=.* includes axis 0 of a rank-4 input; .* name the "
                         r"channel axis \(e.g. feature_axes=-1 for NHWC\)", str(error.value))


# ----------------------------------------------- linen_test: test_normalization_equivalence

@pytest.mark.parametrize("layer1, fields", [
    (fnn.LayerNorm(feature_axes=(1, 2)), {"feature_axes": (1, 2)}),
    (fnn.LayerNorm(reduction_axes=(1, 2), feature_axes=-1), {"feature_axes": -1}),
    (fnn.LayerNorm(reduction_axes=-2, feature_axes=(1, 3), bias_init=fnn.initializers.uniform(),
                   scale_init=fnn.initializers.uniform()),
     {"feature_axes": (1, -1), "bias_init": fnn.initializers.uniform(),
      "scale_init": fnn.initializers.uniform()}),
    (fnn.GroupNorm(num_groups=None, group_size=1, bias_init=fnn.initializers.uniform(),
                   scale_init=fnn.initializers.uniform()),
     {"bias_init": fnn.initializers.uniform(), "scale_init": fnn.initializers.uniform()}),
])
def test_equivalent_to_layernorm_and_groupnorm(layer1, fields):
    x = jax.random.normal(jax.random.key(0), (2, 3, 4, 5))
    layer2 = ours_linen.InstanceNorm(**fields)
    v1, v2 = layer1.init(jax.random.key(1), x), layer2.init(jax.random.key(1), x)
    jax.tree.map(np.testing.assert_array_equal, v1, v2)
    oracle.assert_close(layer2.apply(v2, x), layer1.apply(v1, x))


# ----------------------------------------------------------- linear_test: graph and metadata

def test_nnx_graph_does_not_depend_on_initializers():
    zeros, ones = nnx.initializers.zeros, nnx.initializers.ones
    a = ours_nnx.InstanceNorm(6, scale_init=zeros, bias_init=zeros, rngs=nnx.Rngs(0))
    b = ours_nnx.InstanceNorm(6, scale_init=ones, bias_init=ones, rngs=nnx.Rngs(0))
    assert nnx.graphdef(a) == nnx.graphdef(b)


@pytest.mark.skipif(not hasattr(jax, "set_mesh"),
                    reason="jax.set_mesh and Flax's out_sharding metadata are new in jax 0.7")
def test_nnx_parameter_metadata_sets_the_sharding():
    mesh = auto_mesh((1, 1), ("din", "dout"))
    with jax.set_mesh(mesh):
        module = ours_nnx.InstanceNorm(6, rngs=nnx.Rngs(0),
                                       scale_metadata={"out_sharding": ("din",)},
                                       bias_metadata={"out_sharding": ("din",)})
    assert module.scale.out_sharding == ("din",)
    assert module.bias.out_sharding == ("din",)


# --------------------------------------------------------------------------------- masks

@pytest.mark.parametrize("impl", ALL, ids=repr)
def test_float_mask_nonzero_is_valid(impl):
    """flax.linen casts the mask to bool; flax.nnx (0.12) hands it to jnp.mean's ``where``,
    which refuses floats. Both of ours take it as flax.linen does."""
    x = _normal((3, 5, 4, 2), offset=1.0)
    rng = np.random.default_rng(1)
    valid = rng.uniform(size=(3, 5, 4, 1)) > 0.4
    float_mask = jnp.asarray(np.where(valid, rng.choice([1.0, 0.5, -2.0], valid.shape), 0.0),
                             jnp.float32)
    call, _ = impl.build(x, **AFFINE)
    if impl is FLAX_NNX:
        with pytest.raises(ValueError, match="where must be None or a boolean array"):
            call(x, mask=float_mask)
        return
    y = call(x, mask=float_mask)
    scale, bias = (_arange_init(o)(None, (2,)) for o in (1.0, 0.5))
    expected = oracle.instance_norm(x, weight=scale, bias=bias, eps=1e-6, channel_axis=-1,
                                    mask=valid)
    oracle.assert_close(y, expected)
    if impl in OURS:  # the same result as the boolean mask, bit for bit
        call_bool, _ = impl.build(x, **AFFINE)
        np.testing.assert_array_equal(y, call_bool(x, mask=valid))


LAYOUTS = {"channels last": (-1, "mask[..., None]"), "channels first": (1, "mask[:, None]")}


@pytest.mark.parametrize("impl", ALL, ids=repr)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_ambiguous_mask_is_refused_the_one_deliberate_difference(impl, layout):
    """An (N, H, W) mask on a (4, 4, 4, 4) input, either layout: Flax broadcasts it NumPy's way,
    as the trailing axes, and silently normalises with the wrong elements; ours refuses it, since
    the mask without the channel axis fits too, and names both fixes."""
    feature_axes, fix = LAYOUTS[layout]
    x = _normal((4, 4, 4, 4), offset=1.0)
    valid = np.random.default_rng(2).uniform(size=(4, 4, 4)) > 0.3
    with_channel = np.expand_dims(valid, feature_axes)
    call, _ = impl.build(x, feature_axes=feature_axes)
    right = oracle.instance_norm(x, eps=1e-6, channel_axis=feature_axes, mask=with_channel)
    if impl in FLAX:
        wrong = call(x, mask=valid)
        assert np.abs(np.asarray(wrong, np.float64) - right).max() > 0.1
    else:
        with pytest.raises(ValueError, match=r"mask of shape \(4, 4, 4\) is ambiguous on the "
                                             r"input of shape \(4, 4, 4, 4\).*"
                                             + re.escape(fix)):
            call(x, mask=valid)
    oracle.assert_close(call(x, mask=with_channel), right)


@pytest.mark.parametrize("impl", ALL, ids=repr)
@pytest.mark.parametrize("mask_shape", [(5, 6, 3), (6, 3), (6, 1)], ids=repr)
def test_a_lower_rank_mask_with_one_reading_is_taken_as_flax_takes_it(impl, mask_shape):
    """(H, W, C), (W, C) and (W, 1) masks on NHWC: only NumPy's trailing reading fits, so ours
    takes it, as Flax does."""
    x = _normal((2, 5, 6, 3), offset=1.0)
    valid = np.random.default_rng(3).uniform(size=mask_shape) > 0.3
    valid.flat[0] = True  # no instance left empty (Flax's gives NaN there)
    call, _ = impl.build(x, **AFFINE)
    expected = oracle.instance_norm(x, weight=_arange_init(1.0)(None, (3,)),
                                    bias=_arange_init(0.5)(None, (3,)), eps=1e-6,
                                    channel_axis=-1, mask=np.broadcast_to(valid, x.shape))
    oracle.assert_close(call(x, mask=valid), expected)


@pytest.mark.parametrize("impl", OURS, ids=repr)
def test_fully_masked_instance_gives_the_bias(impl):
    """Flax's modules give NaN there (a mean over nothing); ours give the bias."""
    x = _normal((3, 4, 4, 2), offset=5.0)
    valid = np.ones((3, 4, 4, 1), bool)
    valid[1] = False
    call, state = impl.build(x, **AFFINE)
    y = np.asarray(call(x, mask=valid))
    bias = np.asarray(_arange_init(0.5)(None, (2,)))
    np.testing.assert_array_equal(y[1], np.broadcast_to(bias, y[1].shape))
    others = oracle.instance_norm(x[::2], weight=_arange_init(1.0)(None, (2,)), bias=bias,
                                  eps=1e-6, channel_axis=-1)
    oracle.assert_close(y[::2], others)
    if impl.tracked:  # the masked instance is left out of the batch average
        expected = oracle.update_running_stats(x[::2], np.zeros(2), np.ones(2), 0.1, -1)
        stats = state()
        stats = stats.get("batch_stats", stats)
        oracle.assert_close(value_of(stats["mean"]), expected[0])
        oracle.assert_close(value_of(stats["var"]), expected[1])


@pytest.mark.parametrize("impl", OURS, ids=repr)
def test_refused_call_leaves_state_untouched(impl):
    x = _normal((2, 4, 4, 3), offset=1.0)
    call, state = impl.build(x, **AFFINE)
    call(x)
    before = jax.tree.map(np.array, state())
    with pytest.raises(ValueError, match=r"mask\[\.\.\., None\]"):
        call(x, mask=np.ones((2, 4, 4), bool))  # no channel axis: refused, not misaligned
    with pytest.raises(ValueError, match=r"feature shape \(3,\)"):
        call(x[..., :2])
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, state()), before)


# -------------------------------------------------------------------------------- dtypes

FLOATS = [jnp.float32, jnp.float16, jnp.bfloat16]


@pytest.mark.parametrize("x_dtype", FLOATS)
@pytest.mark.parametrize("dtype", [None, *FLOATS])
@pytest.mark.parametrize("param_dtype", FLOATS)
def test_output_and_parameter_dtypes_are_flaxs(x_dtype, dtype, param_dtype):
    x = _normal((2, 5, 4, 3), offset=1.0).astype(x_dtype)
    fields = dict(dtype=dtype, param_dtype=param_dtype)
    exact = oracle.instance_norm(np.asarray(x, np.float32), eps=1e-6, channel_axis=-1)
    pairs = ((FLAX_LINEN, OURS[0]), (FLAX_NNX, OURS[1]), (FLAX_LINEN, OURS[2]),
             (FLAX_NNX, OURS[3]))
    for theirs, ours in [(t, o) for t, o in pairs if t is not None]:
        t_call, t_state = theirs.build(x, **fields)
        o_call, o_state = ours.build(x, **fields)
        y_theirs, y_ours = t_call(x), o_call(x)
        assert y_ours.dtype == y_theirs.dtype, (theirs, ours)
        t_params = t_state()["params"] if theirs.linen_cls else t_state()
        o_params = o_state()["params"] if ours.linen_cls else o_state()
        for k in ("scale", "bias"):
            assert jnp.asarray(o_params[k]).dtype == jnp.asarray(t_params[k]).dtype
        loosest = max((np.dtype(x_dtype), np.dtype(y_ours.dtype)),
                      key=lambda d: oracle.TOLERANCE[d.name][0])
        oracle.assert_close(y_ours, exact, loosest, err_msg=repr(ours))


@pytest.mark.parametrize("impl_pair", list(zip(FLAX, OURS, strict=False)), ids=repr)
@pytest.mark.parametrize("fields", [{"use_scale": False, "use_bias": False},
                                    {"use_scale": False, "param_dtype": jnp.bfloat16}])
@pytest.mark.parametrize("x_dtype", FLOATS)
def test_output_dtype_without_parameters_is_flaxs(impl_pair, fields, x_dtype):
    x = _normal((2, 5, 3), offset=1.0).astype(x_dtype)
    theirs, ours = impl_pair
    assert ours.build(x, **fields)[0](x).dtype == theirs.build(x, **fields)[0](x).dtype


@pytest.mark.parametrize("x_dtype", FLOATS)
@pytest.mark.parametrize("param_dtype", FLOATS)
def test_linen_force_float32_reductions_false_casts_stored_parameters(x_dtype, param_dtype):
    """Flax casts stored parameters to param_dtype when force_float32_reductions=False, which
    decides the output dtype of float32 parameters restored into a half-precision module."""
    x = _normal((2, 5, 3), offset=1.0).astype(x_dtype)
    variables = {"params": {"scale": jnp.ones(3, jnp.float32), "bias": jnp.zeros(3)}}
    for force in (True, False):
        fields = dict(param_dtype=param_dtype, force_float32_reductions=force)
        y_theirs = fnn.InstanceNorm(**fields).apply(variables, x)
        y_ours = ours_linen.InstanceNorm(**fields).apply(variables, x)
        assert y_ours.dtype == y_theirs.dtype
        oracle.assert_close(y_ours, oracle.instance_norm(np.asarray(x, np.float32), eps=1e-6,
                                                         channel_axis=-1), y_ours.dtype)


@pytest.mark.parametrize("ours", OURS[:2], ids=repr)
def test_statistics_are_taken_before_rounding_to_dtype(ours):
    """dtype=bfloat16 on a float32 input: only the output is rounded. (flax.nnx's default
    promote_dtype rounds the input to bfloat16 first: at an offset of 300 that moves each
    value by up to 1, about the spread of the data.)"""
    x = _normal((2, 8, 8, 3), offset=300.0)
    exact = oracle.instance_norm(x, eps=1e-6, channel_axis=-1)
    y = ours.build(x, dtype=jnp.bfloat16)[0](x)
    assert y.dtype == jnp.bfloat16
    oracle.assert_close(y, exact, jnp.bfloat16)
    if FLAX_NNX is None:
        return  # flax < 0.12 has no flax.nnx.InstanceNorm to compare with
    rounded_first = FLAX_NNX.build(x, dtype=jnp.bfloat16)[0](x)
    ours_error = np.abs(np.asarray(y, np.float64) - exact).max()
    flax_error = np.abs(np.asarray(rounded_first, np.float64) - exact).max()
    assert flax_error > 5 * ours_error


@needs_flax_nnx_instance_norm
def test_nnx_custom_promote_dtype_is_applied_to_the_parameters():
    seen = []

    def to_float16(args, *, dtype=None):
        seen.append(([None if a is None else jnp.asarray(a).dtype for a in args], dtype))
        return tuple(None if a is None else jnp.asarray(a, jnp.float16) for a in args)

    x = _normal((2, 4, 4, 3))
    module = ours_nnx.InstanceNorm(3, promote_dtype=to_float16, rngs=nnx.Rngs(0), **AFFINE)
    y = module(x)
    assert seen == [([jnp.float32] * 3, None)] and y.dtype == jnp.float16
    theirs = FLAX_NNX_INSTANCE_NORM(3, promote_dtype=to_float16, rngs=nnx.Rngs(0), **AFFINE)(x)
    assert theirs.dtype == jnp.float16
    oracle.assert_close(y, theirs, jnp.float16)


# ------------------------------------------------------------------------------- numerics

@pytest.mark.parametrize("theirs, ours", list(zip(FLAX, OURS, strict=False)), ids=repr)
@pytest.mark.parametrize("shape", [(2, 6, 5, 3), (4, 17, 2), (2, 3, 4, 5, 2)])
def test_agrees_with_flax_to_float32_rounding_at_offset_zero(theirs, ours, shape):
    x = _normal(shape)
    y_theirs, y_ours = theirs.build(x, **AFFINE)[0](x), ours.build(x, **AFFINE)[0](x)
    oracle.assert_close(y_ours, y_theirs)


@pytest.mark.parametrize("theirs, ours", list(zip(FLAX, OURS, strict=False)), ids=repr)
@pytest.mark.parametrize("offset", [1e4, 1e5])
@pytest.mark.parametrize("use_fast_variance", [True, False])
def test_closer_to_float64_than_flax_at_large_offsets(theirs, ours, offset, use_fast_variance):
    x = _normal((2, 16, 16, 3), offset=offset)
    exact = oracle.instance_norm(x, eps=1e-6, channel_axis=-1)
    fields = {"use_fast_variance": use_fast_variance}
    errors = {impl: float(np.abs(np.asarray(impl.build(x, **fields)[0](x), np.float64)
                                 - exact).max()) for impl in (theirs, ours)}
    print(f"max |error| at offset {offset:g}, use_fast_variance={use_fast_variance}: "
          f"{theirs} {errors[theirs]:.3g}, {ours} {errors[ours]:.3g}")
    oracle.assert_close(ours.build(x, **fields)[0](x), exact)
    assert errors[ours] < errors[theirs] / 10


# ------------------------------------------------------------------------------- warnings

def _build_linen(**fields):
    return ours_linen.InstanceNorm(**fields)


def _build_nnx(**fields):
    return ours_nnx.InstanceNorm(3, rngs=nnx.Rngs(0), **fields)


@pytest.mark.parametrize("build", [_build_linen, _build_nnx])
@pytest.mark.parametrize("momentum", [0.1, 0.0, np.float32(0.4)])
def test_momentum_below_half_warns_once_at_construction(build, momentum):
    x = _normal((2, 4, 4, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = build(track_running_stats=True, momentum=momentum)
        if isinstance(layer, nnx.Module):
            layer(x)
        else:
            variables = layer.init(jax.random.key(0), x, use_running_average=False)
            layer.apply(variables, x, use_running_average=False, mutable=["batch_stats"])
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert caught[0].category is UserWarning and caught[0].filename == __file__
    assert f"momentum={float(momentum):g} follows Flax's convention" in messages[0]
    assert "PyTorch's momentum=0.1 is momentum=0.9 here" in messages[0]


@pytest.mark.parametrize("build", [_build_linen, _build_nnx])
def test_no_warning_from_half_momentum_up(build):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(momentum=0.5)
        build(track_running_stats=True, momentum=0.9)
        build(track_running_stats=True)


def test_linen_momentum_warning_inside_a_model_comes_from_the_model():
    class Net(fnn.Module):
        def setup(self):
            self.norm = ours_linen.InstanceNorm(track_running_stats=True, momentum=0.1)

        def __call__(self, x):
            return self.norm(x, use_running_average=True)

    x = _normal((2, 4, 4, 3))
    with pytest.warns(UserWarning, match="PyTorch's momentum=0.1 is momentum=0.9 here") as caught:
        Net().init(jax.random.key(0), x)
    assert len(caught) == 1


@pytest.mark.parametrize("epsilon", [64, 1, np.int64(3)])
def test_linen_integer_epsilon_warns_that_linen_infers_the_features(epsilon):
    with pytest.warns(UserWarning) as caught:
        layer = ours_linen.InstanceNorm(epsilon)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert re.search(rf"InstanceNorm epsilon={epsilon}: the first field of the Linen "
                     r"InstanceNorm is epsilon, not the number of features. Linen infers the "
                     r"feature count from the input", str(caught[0].message))
    assert layer.epsilon == epsilon  # a warning, not a refusal


@pytest.mark.parametrize("epsilon", [1e-5, 1.0, 0])
def test_linen_float_or_zero_epsilon_does_not_warn(epsilon):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours_linen.InstanceNorm(epsilon)


def test_warnings_can_be_silenced_by_filters():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="InstanceNorm momentum", category=UserWarning)
        warnings.filterwarnings("ignore", message="InstanceNorm epsilon", category=UserWarning)
        ours_linen.InstanceNorm(64, momentum=0.1)
        _build_nnx(momentum=0.1)
    assert caught == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=UserWarning, module=__name__)
        ours_linen.InstanceNorm(64, momentum=0.1)
        _build_nnx(momentum=0.1)
    assert caught == []
