"""Convolutions against torch: forward values and gradients w.r.t. the input, weight and bias.

Random valid configurations (dims 1-3, strides, int/tuple/'same'/'valid' padding, dilations,
groups, bias, every padding_mode; transposed convolutions with output_padding) are drawn from a
seeded generator. Tolerance: float32, rtol=1e-4, atol=1e-5 (sums of up to ~100 products).
"""

import math
import random

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def _check_module(jm, tm, *inputs):
    """Load torch's weights into `jm`; compare outputs and all gradients for a random cotangent."""
    jm.load_state_dict(tm.state_dict())
    xs_t = [torch.tensor(x, requires_grad=True) for x in inputs]
    out_t = tm(*xs_t)
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.tensor(g)).sum().backward()

    def loss(m, *xs):
        out = m(*xs)
        return (out * g).sum(), out

    # compiled: one XLA compilation per case is cheaper than one per primitive
    argnums = tuple(range(len(inputs) + 1))
    step = jtorch.jit(jtorch.value_and_grad(loss, argnums=argnums, has_aux=True))
    (_, out_j), (grads, *dxs) = step(jm, *[jnp.asarray(x) for x in inputs])
    np.testing.assert_allclose(np.asarray(out_j), out_t.detach().numpy(), RTOL, ATOL)
    for dx, x_t in zip(dxs, xs_t):
        np.testing.assert_allclose(np.asarray(dx), x_t.grad.numpy(), RTOL, ATOL)
    names = [name for name, _ in tm.named_parameters()]
    assert list(grads) == names
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            np.asarray(grads[name]), p.grad.numpy(), RTOL, ATOL, err_msg=name
        )


def _conv_cases(count, seed=0):
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        dim = rng.choice([1, 2, 2, 2, 3])
        groups = rng.choice([1, 1, 2, 3])
        cin, cout = groups * rng.randint(1, 2), groups * rng.randint(1, 3)
        k = tuple(rng.randint(1, 3) for _ in range(dim))
        stride = tuple(rng.randint(1, 2) for _ in range(dim))
        dilation = tuple(rng.randint(1, 2) for _ in range(dim))
        choice = rng.choice(["int", "tuple", "same", "valid"])
        if choice == "same" and all(s == 1 for s in stride):
            padding = "same"
        elif choice == "valid":
            padding = "valid"
        elif choice == "int":
            padding = rng.randint(0, 2)
        else:
            padding = tuple(rng.randint(0, 2) for _ in range(dim))
        kwargs = dict(
            stride=stride if rng.random() < 0.5 else stride[0],
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=rng.random() < 0.7,
            padding_mode=rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"]),
        )
        if isinstance(kwargs["stride"], int):
            kwargs["stride"] = (kwargs["stride"],) * dim
        spatial = tuple(rng.randint(5, 7) if dim < 3 else 5 for _ in range(dim))
        cases.append((dim, cin, cout, k, kwargs, spatial))
    return cases


@pytest.mark.parametrize("dim,cin,cout,k,kwargs,spatial", _conv_cases(10), ids=str)
def test_conv_matches_torch(dim, cin, cout, k, kwargs, spatial):
    tm = getattr(torch.nn, f"Conv{dim}d")(cin, cout, k, **kwargs)
    jm = getattr(nn, f"Conv{dim}d")(cin, cout, k, **kwargs)
    assert repr(jm) == repr(tm)
    x = np.random.default_rng(0).standard_normal((2, cin, *spatial)).astype(np.float32)
    _check_module(jm, tm, x)


def _transpose_cases(count, seed=1):
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        dim = rng.choice([1, 2, 2, 3])
        groups = rng.choice([1, 1, 2])
        cin, cout = groups * rng.randint(1, 2), groups * rng.randint(1, 3)
        k = tuple(rng.randint(1, 3) for _ in range(dim))
        stride = tuple(rng.randint(1, 3) for _ in range(dim))
        dilation = tuple(rng.randint(1, 2) for _ in range(dim))
        padding = tuple(rng.randint(0, 2) for _ in range(dim))
        output_padding = tuple(rng.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation))
        kwargs = dict(
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            groups=groups,
            bias=rng.random() < 0.7,
            dilation=dilation,
        )
        spatial = tuple(rng.randint(3, 5) for _ in range(dim))
        cases.append((dim, cin, cout, k, kwargs, spatial))
    return cases


@pytest.mark.parametrize("dim,cin,cout,k,kwargs,spatial", _transpose_cases(5), ids=str)
def test_conv_transpose_matches_torch(dim, cin, cout, k, kwargs, spatial):
    tm = getattr(torch.nn, f"ConvTranspose{dim}d")(cin, cout, k, **kwargs)
    jm = getattr(nn, f"ConvTranspose{dim}d")(cin, cout, k, **kwargs)
    assert repr(jm) == repr(tm)
    x = np.random.default_rng(0).standard_normal((2, cin, *spatial)).astype(np.float32)
    _check_module(jm, tm, x)


def test_conv_transpose_output_size_matches_torch():
    tm = torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)
    jm = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)
    jm.load_state_dict(tm.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 5)).astype(np.float32)
    want = tm(torch.tensor(x), output_size=[8, 10]).detach().numpy()
    got = jm(x, output_size=[8, 10])
    assert got.shape == want.shape == (1, 4, 8, 10)
    np.testing.assert_allclose(np.asarray(got), want, RTOL, ATOL)
    with pytest.raises(ValueError, match="output_size"):
        jm(x, output_size=[20, 10])


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_functional_conv_unbatched_matches_torch(dim):
    rng = np.random.default_rng(dim)
    x = rng.standard_normal((4, *(6,) * dim)).astype(np.float32)
    w = rng.standard_normal((6, 2, *(3,) * dim)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    fj, ft = getattr(F, f"conv{dim}d"), getattr(torch.nn.functional, f"conv{dim}d")
    got = fj(x, w, b, 1, "same", 2, 2)
    want = ft(torch.tensor(x), torch.tensor(w), torch.tensor(b), 1, "same", 2, 2)
    np.testing.assert_allclose(np.asarray(got), want.numpy(), RTOL, ATOL)


def test_default_init_follows_torch_bounds():
    m = nn.Conv2d(6, 8, (3, 2), groups=2)
    fan_in = 3 * 3 * 2  # in_channels/groups · kH · kW
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=√5) and the bias share it
    w, b = np.asarray(m.weight.value), np.asarray(m.bias.value)
    assert w.shape == (8, 3, 3, 2) and b.shape == (8,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound
    t = nn.ConvTranspose2d(6, 8, 3, groups=2)
    assert t.weight.value.shape == (6, 4, 3, 3)  # (in, out/groups, k, k) as torch
    assert [n for n, _ in t.named_parameters()] == ["weight", "bias"]


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "in_channels"),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), "out_channels"),
        (lambda: nn.Conv2d(4, 4, 3, groups=0), "groups"),
        (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), "padding"),
        (lambda: nn.Conv1d(4, 4, 3, padding="full"), "padding"),
        (lambda: nn.Conv2d(4, 4, 3, padding_mode="mirror"), "padding_mode"),
        (lambda: nn.Conv2d(4, 4, (3, 3, 3)), "kernel_size"),
        (lambda: nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"), "padding_mode"),
    ],
)
def test_bad_configuration_raises_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_input_shape_names_expected_and_received():
    m = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*got shape \(2, 3, 8\)"):
        m(np.zeros((2, 3, 8), np.float32))
    with pytest.raises(ValueError, match=r"in_channels=3.*got shape \(2, 5, 8, 8\)"):
        m(np.zeros((2, 5, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"stride.*expected all 1"):
        F.conv1d(np.zeros((1, 2, 8)), np.zeros((2, 2, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"input.*channels.*\(1, 3, 8\)"):
        F.conv1d(np.zeros((1, 3, 8)), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(np.zeros((1, 2, 4, 4)), np.zeros((2, 2, 3, 3)), stride=2,
                           output_padding=2)  # fmt: skip
