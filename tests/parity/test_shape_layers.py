"""Padding, interpolation, pixel (un)shuffle, Flatten/Unflatten, Linear and Bilinear vs torch.

Forward values and gradients w.r.t. the inputs (and every parameter for Linear/Bilinear); module
reprs. Tolerance: float32, rtol=1e-4, atol=1e-6 (1e-5 for the matrix products).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402

RTOL, ATOL = 1e-4, 1e-6
TF = torch.nn.functional


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _check_fn(name, x, *args, **kwargs):
    """Compare F.<name> with torch's on `x`: output and the gradient w.r.t. `x` (compiled VJP)."""
    x_t = torch.tensor(x, requires_grad=True)
    out_t = getattr(TF, name)(x_t, *args, **kwargs)
    g = _x(tuple(out_t.shape), seed=1)
    out_t.backward(torch.tensor(g))

    @jax.jit
    def run(x, g):
        out, vjp = jax.vjp(lambda x: getattr(F, name)(x, *args, **kwargs), x)
        return out, vjp(g)[0]

    out_j, dx = run(jnp.asarray(x), g)
    np.testing.assert_allclose(np.asarray(out_j), out_t.detach().numpy(), RTOL, ATOL)
    np.testing.assert_allclose(np.asarray(dx), x_t.grad.numpy(), RTOL, ATOL)


PAD_CASES = [
    ((2, 3, 5), (1, 2), "constant", 0.0),
    ((2, 3, 5, 6), (1, 2, 0, 3), "constant", 1.5),
    ((2, 3, 5, 6), (-1, 2, 1, -2), "constant", 0.0),
    ((2, 5, 6), (2, 1), "constant", None),
    ((2, 3, 5), (2, 4), "reflect", None),
    ((2, 3, 5, 6), (1, 2, 4, 0), "reflect", None),
    ((3, 5, 6), (2, 2, 1, 1), "reflect", None),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2), "reflect", None),
    ((2, 3, 5), (3, 1), "replicate", None),
    ((2, 3, 5, 6), (1, 2, 3, 4), "replicate", None),
    ((1, 2, 3, 4, 5), (2, 1, 0, 1, 1, 1), "replicate", None),
    ((2, 3, 5), (2, 5), "circular", None),
    ((2, 3, 5, 6), (1, 2, 3, 4), "circular", None),
    ((1, 2, 3, 4, 5), (1, 2, 3, 1, 0, 2), "circular", None),
]


@pytest.mark.parametrize("shape,pad,mode,value", PAD_CASES, ids=str)
def test_pad_matches_torch(shape, pad, mode, value):
    _check_fn("pad", _x(shape), pad, mode, value)


INTERPOLATE_CASES = [
    ((2, 3, 5), dict(scale_factor=2.5)),
    ((2, 3, 7), dict(size=3, mode="nearest-exact")),
    ((2, 3, 5, 6), dict(scale_factor=2)),
    ((2, 3, 5, 6), dict(scale_factor=(1.7, 0.6))),
    ((2, 3, 5, 6), dict(scale_factor=1.5, recompute_scale_factor=True)),
    ((2, 3, 5, 6), dict(size=(9, 13), mode="nearest-exact")),
    ((1, 2, 3, 4, 5), dict(scale_factor=(2, 1, 1.5))),
    ((2, 3, 6), dict(size=11, mode="linear")),
    ((2, 3, 6), dict(scale_factor=1.5, mode="linear", align_corners=True)),
    ((2, 3, 5, 6), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 5, 6), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((2, 3, 5, 6), dict(size=(1, 4), mode="bilinear", align_corners=True)),
    ((2, 3, 8, 9), dict(scale_factor=(0.5, 1.3), mode="bilinear")),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear", align_corners=True)),
    ((2, 3, 7, 9), dict(size=(3, 4), mode="area")),
    ((2, 3, 5, 6), dict(size=(9, 13), mode="bicubic")),
    ((2, 3, 5, 6), dict(scale_factor=(1.7, 0.6), mode="bicubic", align_corners=True)),
    ((2, 3, 8, 9), dict(scale_factor=0.5, mode="bicubic")),
    ((2, 3, 11, 9), dict(size=(4, 5), mode="bilinear", antialias=True)),
    ((2, 3, 11, 9), dict(scale_factor=(0.3, 0.5), mode="bicubic", antialias=True)),
    ((2, 3, 11, 9), dict(size=(4, 9), mode="bicubic", antialias=True, align_corners=True)),
    ((2, 3, 5, 6), dict(size=(8, 4), mode="bilinear", antialias=True)),  # up on one axis
    ((2, 3, 13, 9), dict(size=(5, 11), mode="lanczos", antialias=True)),
]


@pytest.mark.parametrize("shape,kwargs", INTERPOLATE_CASES, ids=str)
def test_interpolate_matches_torch(shape, kwargs):
    _check_fn("interpolate", _x(shape), **kwargs)


@pytest.mark.parametrize(
    "name,shape,factor",
    [
        ("pixel_shuffle", (2, 8, 3, 4), 2),
        ("pixel_shuffle", (3, 18, 2, 2), 3),
        ("pixel_shuffle", (2, 2, 9, 3, 2), 3),
        ("pixel_unshuffle", (2, 2, 6, 4), 2),
        ("pixel_unshuffle", (3, 6, 9), 3),
    ],
    ids=str,
)
def test_pixel_shuffle_matches_torch(name, shape, factor):
    _check_fn(name, _x(shape), factor)


def _check_module(jm, tm, *inputs, atol=1e-5):
    """Load torch's weights into `jm`; compare outputs and the gradients of inputs and params."""
    jm.load_state_dict(tm.state_dict())
    xs_t = [torch.tensor(x, requires_grad=True) for x in inputs]
    out_t = tm(*xs_t)
    g = _x(tuple(out_t.shape), seed=1)
    (out_t * torch.tensor(g)).sum().backward()

    def loss(m, *xs):
        out = m(*xs)
        return (out * g).sum(), out

    argnums = tuple(range(len(inputs) + 1))
    step = jtorch.jit(jtorch.value_and_grad(loss, argnums=argnums, has_aux=True))
    (_, out_j), (grads, *dxs) = step(jm, *[jnp.asarray(x) for x in inputs])
    np.testing.assert_allclose(np.asarray(out_j), out_t.detach().numpy(), RTOL, atol)
    for dx, x_t in zip(dxs, xs_t):
        np.testing.assert_allclose(np.asarray(dx), x_t.grad.numpy(), RTOL, atol)
    assert list(grads) == [name for name, _ in tm.named_parameters()]
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(grads[name]), p.grad.numpy(), RTOL, atol)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    tm, jm = torch.nn.Linear(7, 5, bias=bias), nn.Linear(7, 5, bias=bias)
    assert repr(jm) == repr(tm)
    _check_module(jm, tm, _x((3, 4, 7)))


@pytest.mark.parametrize("bias,batch", [(True, (4,)), (False, (2, 3)), (True, ())])
def test_bilinear_matches_torch(bias, batch):
    tm, jm = torch.nn.Bilinear(3, 4, 5, bias=bias), nn.Bilinear(3, 4, 5, bias=bias)
    assert repr(jm) == repr(tm)
    assert [n for n, _ in jm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert jm.weight.value.shape == (5, 3, 4)
    _check_module(jm, tm, _x((*batch, 3)), _x((*batch, 4), seed=2))


def test_bilinear_default_init_bound():
    m = nn.Bilinear(16, 3, 4)
    bound = 1 / np.sqrt(16)  # torch: U(±1/√in1_features) for weight and bias
    assert np.abs(np.asarray(m.weight.value)).max() <= bound
    assert np.abs(np.asarray(m.bias.value)).max() <= bound
    assert np.abs(np.asarray(m.weight.value)).max() > 0.8 * bound


@pytest.mark.parametrize(
    "dim,size,shape",
    [
        (1, (2, 3), (4, 6, 5)),
        (-1, [2, -1], (4, 5, 6)),
        (0, (2, 2), (4, 3)),
        (-2, (1, 5, 1), (2, 5, 3)),
    ],
    ids=str,
)
def test_unflatten_matches_torch(dim, size, shape):
    tm, jm = torch.nn.Unflatten(dim, size), nn.Unflatten(dim, size)
    assert repr(jm) == repr(tm)
    x = _x(shape)
    np.testing.assert_array_equal(np.asarray(jm(x)), tm(torch.tensor(x)).numpy())
    flat = nn.Flatten(dim % len(shape), dim % len(shape) + len(size) - 1)
    np.testing.assert_array_equal(np.asarray(flat(jm(x))), x)


MODULE_CASES = [
    ("ZeroPad1d", (2,)),
    ("ZeroPad2d", (2,)),
    ("ZeroPad2d", ((1, 0, 2, 1),)),
    ("ZeroPad3d", (1,)),
    ("ConstantPad1d", (2, 3.5)),
    ("ConstantPad2d", ((1, 2, 3, 4), 1)),
    ("ConstantPad3d", (1, -2.0)),
    ("ReflectionPad1d", (2,)),
    ("ReflectionPad2d", ((1, 0, 2, 1),)),
    ("ReflectionPad3d", (1,)),
    ("ReplicationPad1d", (3,)),
    ("ReplicationPad2d", (1,)),
    ("ReplicationPad3d", ((1, 0, 1, 2, 0, 1),)),
    ("CircularPad1d", (2,)),
    ("CircularPad2d", ((1, 2, 0, 1),)),
    ("CircularPad3d", (1,)),
]


@pytest.mark.parametrize("name,args", MODULE_CASES, ids=str)
def test_padding_modules_match_torch(name, args):
    tm, jm = getattr(torch.nn, name)(*args), getattr(nn, name)(*args)
    assert repr(jm) == repr(tm)
    x = _x((2, 3, *(4,) * int(name[-2])))
    got = jax.jit(lambda x: jm(x))(x)  # one compilation
    np.testing.assert_array_equal(np.asarray(got), tm(torch.tensor(x)).numpy())


RESAMPLE_MODULES = [
    ("Upsample", (), dict(scale_factor=2)),
    ("Upsample", (), dict(size=(5, 7), mode="bilinear")),
    ("Upsample", (), dict(scale_factor=(1.5, 2), mode="bilinear", align_corners=True)),
    ("Upsample", (), dict(size=(7, 3), mode="bicubic")),
    ("UpsamplingNearest2d", (), dict(scale_factor=3)),
    ("UpsamplingBilinear2d", (), dict(size=(6, 5))),
    ("PixelShuffle", (2,), {}),
    ("PixelUnshuffle", (2,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", RESAMPLE_MODULES, ids=str)
def test_resampling_modules_match_torch(name, args, kwargs):
    tm, jm = getattr(torch.nn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)
    assert repr(jm) == repr(tm)
    x = _x((2, 4, 4, 6))
    got = jax.jit(lambda x: jm(x))(x)
    np.testing.assert_allclose(np.asarray(got), tm(torch.tensor(x)).numpy(), RTOL, ATOL)


def test_bad_arguments_raise_value_error():
    x = _x((2, 3, 4, 4))
    with pytest.raises(ValueError, match="reflect"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match=r"4-D input, got shape \(3, 4, 4\)"):
        F.interpolate(x[0], scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="size"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"`antialias`=True.*'nearest'"):
        F.interpolate(x, scale_factor=0.5, antialias=True)
    with pytest.raises(ValueError, match=r"'bicubic' needs a 4-D input"):
        F.interpolate(x[0], scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"'lanczos' requires `antialias`=True"):
        F.interpolate(x, scale_factor=0.5, mode="lanczos")
    with pytest.raises(ValueError, match="floating-point `input`, got uint8"):
        F.interpolate(x.astype(np.uint8), scale_factor=0.5, mode="bicubic")
    with pytest.raises(ValueError, match=r"upscale_factor.*\(2, 3, 4, 4\)"):
        F.pixel_shuffle(x, 2)
    with pytest.raises(ValueError, match=r"input1 \(\*, 5\).*got input1 \(2, 3\)"):
        F.bilinear(_x((2, 3)), _x((2, 4)), _x((6, 5, 4)))
    with pytest.raises(ValueError, match="unflattened_size"):
        nn.Unflatten(1, (4, 2))(x)
