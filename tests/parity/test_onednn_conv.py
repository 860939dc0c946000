"""oneDNN convolutions (jtorch._backend) against torch and against XLA's conv_general_dilated.

Forward values and gradients w.r.t. input, weight and bias over a seeded grid of configurations
(1-3 spatial dims, strides, symmetric/asymmetric padding, dilations, groups, bias; transposed
convolutions with output_padding), and composition with jit, grad, value_and_grad and vmap.
Skipped when the extension is not built. Tolerance: float32, rtol=1e-4, atol=1e-5.
"""

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jtorch import _backend  # noqa: E402
from jtorch._backend import layout, native, onednn_conv  # noqa: E402
from jtorch.nn.functional import conv as F_conv  # noqa: E402

pytestmark = pytest.mark.skipif(
    not _backend.available(), reason=f"oneDNN extension not available: {_backend.load_error()}"
)

RTOL, ATOL = 1e-4, 1e-5
tF = torch.nn.functional


def _conv_cases(count, seed=0):
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        dim = [1, 2, 3][i % 3] if i < 6 else rng.choice([1, 2, 2])
        groups = rng.choice([1, 1, 2, 3])
        cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
        k = tuple(rng.randint(1, 3) for _ in range(dim))
        stride = tuple(rng.randint(1, 2) for _ in range(dim))
        dilation = tuple(rng.randint(1, 2) for _ in range(dim))
        if rng.random() < 0.3:  # torch's padding='same': the odd element on the right
            stride = (1,) * dim
            padding = tuple(
                (d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2) for kk, d in zip(k, dilation)
            )
        else:
            padding = tuple((p, p) for p in (rng.randint(0, 2) for _ in range(dim)))
        spatial = tuple(rng.randint(5, 8) if dim < 3 else 5 for _ in range(dim))
        bias = rng.random() < 0.7
        cases.append((dim, cin, cout, k, stride, padding, dilation, groups, bias, spatial))
    return cases


def _transpose_cases(count, seed=1):
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        dim = [1, 2, 3][i % 3] if i < 3 else 2
        groups = rng.choice([1, 1, 2])
        cin, cout = groups * rng.randint(1, 2), groups * rng.randint(1, 3)
        k = tuple(rng.randint(1, 3) for _ in range(dim))
        stride = tuple(rng.randint(1, 3) for _ in range(dim))
        dilation = tuple(rng.randint(1, 2) for _ in range(dim))
        padding = tuple(rng.randint(0, 2) for _ in range(dim))
        output_padding = tuple(rng.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation))
        spatial = tuple(rng.randint(3, 5) for _ in range(dim))
        bias = rng.random() < 0.7
        cases.append(
            (dim, cin, cout, k, stride, padding, output_padding, dilation, groups, bias, spatial)
        )
    return cases


def _data(x_shape, w_shape, bias_size, seed=0):
    """Random input, weight and (bias_size,) bias (None when bias_size is 0)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(bias_size).astype(np.float32) if bias_size else None
    return x, w, b


def _torch_value_and_grads(fn, x, w, b, g):
    xs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    out = fn(*xs)
    (out * torch.tensor(g)).sum().backward()
    return out.detach().numpy(), [a.grad.numpy() if a is not None else None for a in xs]


def _jax_value_and_grads(fn, x, w, b, g):
    def loss(x, w, b):
        out = fn(x, w, b)
        return (out * g).sum(), out

    argnums = (0, 1, 2) if b is not None else (0, 1)
    (_, out), grads = jax.jit(jax.value_and_grad(loss, argnums=argnums, has_aux=True))(x, w, b)
    grads = list(grads) + [None] * (3 - len(grads))
    return np.asarray(out), [np.asarray(d) if d is not None else None for d in grads]


def _assert_same(got, want, label):
    (out_a, grads_a), (out_b, grads_b) = got, want
    np.testing.assert_allclose(out_a, out_b, RTOL, ATOL, err_msg=f"{label}: output")
    for name, a, b in zip(("input", "weight", "bias"), grads_a, grads_b):
        if b is not None:
            np.testing.assert_allclose(a, b, RTOL, ATOL, err_msg=f"{label}: grad {name}")


@pytest.mark.parametrize("layout", ["auto", "channels_last"])
@pytest.mark.parametrize(
    "dim,cin,cout,k,stride,padding,dilation,groups,bias,spatial", _conv_cases(14), ids=str
)
def test_conv_matches_torch_and_xla(dim, cin, cout, k, stride, padding, dilation, groups, bias,
                                    spatial, layout, monkeypatch):  # fmt: skip
    monkeypatch.setenv("JTORCH_ONEDNN_LAYOUT", layout)
    x, w, b = _data((2, cin, *spatial), (cout, cin // groups, *k), cout * bias)
    args = (stride, padding, dilation, groups)
    fn = lambda x, w, b: onednn_conv.conv_nd(x, w, b, *args)
    ref = lambda x, w, b: F_conv._xla_conv(x, w, b, *args)
    shape = jax.eval_shape(ref, x, w, b).shape
    g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    got = _jax_value_and_grads(fn, x, w, b, g)
    xla = _jax_value_and_grads(ref, x, w, b, g)

    def torch_fn(x, w, b):
        pads = [p for lo_hi in reversed(padding) for p in lo_hi]  # F.pad: last axis first
        x = tF.pad(x, pads)
        return getattr(tF, f"conv{dim}d")(x, w, b, stride, 0, dilation, groups)

    _assert_same(got, _torch_value_and_grads(torch_fn, x, w, b, g), "vs torch")
    _assert_same(got, xla, "vs XLA")


@pytest.mark.parametrize(
    "dim,cin,cout,k,stride,padding,output_padding,dilation,groups,bias,spatial",
    _transpose_cases(6),
    ids=str,
)
def test_conv_transpose_matches_torch_and_xla(dim, cin, cout, k, stride, padding, output_padding,
                                              dilation, groups, bias, spatial):  # fmt: skip
    x, w, b = _data((2, cin, *spatial), (cin, cout // groups, *k), cout * bias)
    args = (stride, padding, output_padding, dilation, groups)
    fn = lambda x, w, b: onednn_conv.conv_transpose_nd(x, w, b, *args)
    ref = lambda x, w, b: F_conv._xla_conv_transpose(x, w, b, *args)
    shape = jax.eval_shape(ref, x, w, b).shape
    g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    got = _jax_value_and_grads(fn, x, w, b, g)

    def torch_fn(x, w, b):
        f = getattr(tF, f"conv_transpose{dim}d")
        return f(x, w, b, stride, padding, output_padding, groups, dilation)

    _assert_same(got, _torch_value_and_grads(torch_fn, x, w, b, g), "vs torch")
    _assert_same(got, _jax_value_and_grads(ref, x, w, b, g), "vs XLA")


def test_fused_relu_matches_torch():
    x, w, b = _data((2, 3, 8, 8), (4, 3, 3, 3), 4)
    g = np.random.default_rng(1).standard_normal((2, 4, 8, 8)).astype(np.float32)
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    fn = lambda x, w, b: onednn_conv.conv_nd(x, w, b, *args, relu=True)
    got = _jax_value_and_grads(fn, x, w, b, g)
    want = _torch_value_and_grads(lambda x, w, b: tF.relu(tF.conv2d(x, w, b, 1, 1)), x, w, b, g)
    _assert_same(got, want, "relu")


def test_composes_with_grad_and_vmap():
    x, w, b = _data((3, 2, 4, 7, 7), (6, 4, 3, 3), 6)
    args = ((2, 1), ((1, 1), (0, 2)), (1, 1), 1)
    conv = lambda x, w, b: onednn_conv.conv_nd(x, w, b, *args)
    ref = lambda x, w, b: F_conv._xla_conv(x, w, b, *args)
    # vmap over a leading axis of the input only, and of input and weight together
    np.testing.assert_allclose(
        jax.vmap(conv, (0, None, None))(x, w, b), jax.vmap(ref, (0, None, None))(x, w, b),
        RTOL, ATOL,
    )  # fmt: skip
    ws = np.stack([w, 2 * w, -w])
    np.testing.assert_allclose(
        jax.jit(jax.vmap(conv, (0, 0, None)))(x, ws, b), jax.vmap(ref, (0, 0, None))(x, ws, b),
        RTOL, ATOL,
    )  # fmt: skip
    # per-example gradients: vmap of grad
    loss = lambda f: lambda w, x: (f(x, w, b) ** 2).sum()
    got = jax.jit(jax.vmap(jax.grad(loss(conv)), (None, 0)))(w, x)
    want = jax.vmap(jax.grad(loss(ref)), (None, 0))(w, x)
    np.testing.assert_allclose(got, want, RTOL, 1e-4)
    # plain grad without jit, and second use of a cached primitive
    got = jax.grad(loss(conv))(w, x[0])
    np.testing.assert_allclose(got, jax.grad(loss(ref))(w, x[0]), RTOL, 1e-4)


def test_non_float32_inputs_fall_back_to_xla():
    x, w, b = _data((1, 2, 5, 5), (3, 2, 3, 3), 3)
    xb, wb = jnp.asarray(x, jnp.bfloat16), jnp.asarray(w, jnp.bfloat16)
    args = ((1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    got = _backend.kernels.conv_nd(xb, wb, None, *args, portable=F_conv._xla_conv)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(got, np.float32), np.asarray(F_conv._xla_conv(xb, wb, None, *args), np.float32)
    )


def test_policy_follows_environment(monkeypatch):
    monkeypatch.setenv("JTORCH_CPU_CONV", "xla")
    assert not _backend.enabled()
    monkeypatch.setenv("JTORCH_CPU_CONV", "onednn")
    assert _backend.enabled()
    monkeypatch.setenv("JTORCH_ONEDNN_LAYOUT", "plain")
    assert not layout.activations_channels_last(64)
    monkeypatch.setenv("JTORCH_ONEDNN_LAYOUT", "nhwc")
    with pytest.raises(ValueError, match="JTORCH_ONEDNN_LAYOUT='nhwc': expected 'auto'"):
        layout.activations_channels_last(64)


def test_kernel_is_chosen_per_lowering_platform():
    """One traced F.conv2d step carries both paths: lowered for the CPU it calls oneDNN, lowered
    for CUDA (possible on a CPU-only host) it is XLA's convolution with no oneDNN call."""
    import jtorch.nn.functional as F

    x, w, b = _data((2, 16, 6, 6), (16, 16, 3, 3), 16)
    step = jax.jit(jax.grad(lambda x, w, b: (F.conv2d(x, w, b, padding=1) ** 2).sum(), (0, 1)))
    traced = step.trace(x, w, b)
    cpu = traced.lower(lowering_platforms=("cpu",)).as_text()
    cuda = traced.lower(lowering_platforms=("cuda",)).as_text()
    assert "jtorch_onednn_conv" in cpu and "stablehlo.convolution" not in cpu
    assert "jtorch_onednn_conv" not in cuda and "stablehlo.convolution" in cuda


@pytest.mark.parametrize("argnums", [(0,), (1,), (2,), (1, 2)], ids=str)
def test_partial_gradients_skip_unneeded_passes(argnums):
    """Differentiating only some arguments runs one backward primitive; values must not change."""
    x, w, b = _data((2, 4, 7, 7), (6, 2, 3, 3), 6)
    args = ((2, 1), ((1, 0), (1, 1)), (1, 2), 2)
    g = np.random.default_rng(1).standard_normal((2, 6, 3, 5)).astype(np.float32)
    loss = lambda f: lambda x, w, b: (f(x, w, b, *args) * g).sum()
    got = jax.jit(jax.grad(loss(onednn_conv.conv_nd), argnums))(x, w, b)
    want = jax.grad(loss(F_conv._xla_conv), argnums)(x, w, b)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, RTOL, ATOL)


@pytest.mark.parametrize("mode", [0, 1], ids=["plain", "blocked"])
def test_both_layout_modes_match_xla(mode):
    """The layout modes the default (measured) mode chooses between, each forced in turn."""
    lib = native._state["lib"]
    x, w, b = _data((2, 8, 9, 9), (16, 4, 3, 3), 16)
    args = ((2, 1), ((1, 2), (1, 1)), (1, 2), 2)
    g = np.random.default_rng(1).standard_normal((2, 16, 5, 7)).astype(np.float32)
    ref = _jax_value_and_grads(lambda x, w, b: F_conv._xla_conv(x, w, b, *args), x, w, b, g)
    lib.jtorch_onednn_set_blocked(mode)
    try:
        got = _jax_value_and_grads(lambda x, w, b: onednn_conv.conv_nd(x, w, b, *args), x, w, b, g)
    finally:
        lib.jtorch_onednn_set_blocked(2)
    _assert_same(got, ref, f"mode {mode}")


def _compiled_text(fn, *args) -> str:
    return jax.jit(fn).lower(*args).compile().as_text()


@pytest.mark.parametrize(
    "cin,cout,expected", [(16, 32, True), (48, 16, True), (3, 16, False), (6, 16, False)]
)
def test_layout_policy_keeps_16_channel_activations_channels_last(cin, cout, expected):
    """auto: channels-last (XLA layout {1,3,2,0}, no reorders) when input and output channels
    are multiples of 16; plain otherwise."""
    x, w, b = _data((2, cin, 6, 6), (cout, cin, 3, 3), cout)
    fn = lambda x, w, b: onednn_conv.conv_nd(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    text = _compiled_text(fn, x, w, b)
    conv = next(line for line in text.splitlines() if "jtorch_onednn_conv_fwd" in line)
    assert ("{1,3,2,0}" in conv) == expected, conv


def test_batch_norm_sums_in_place_on_channels_last_activations():
    """16-channel BatchNorms between oneDNN convolutions reduce with the channel-sum custom calls
    and XLA keeps every activation channels-last: the only activation copies are the network's
    input into that layout and its output back for the loss's reduction."""
    import jtorch
    from jtorch import nn

    if not _backend.enabled():
        pytest.skip("convolutions dispatch to XLA here (JTORCH_CPU_CONV=xla or not a CPU)")
    jtorch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    )  # fmt: skip
    x = jnp.asarray(_data((2, 16, 6, 6), (1,), 0)[0])
    loss = lambda m, x: (m(x) ** 2).sum()
    text = jax.jit(jtorch.value_and_grad(loss)).lower(model, x).compile().as_text()
    assert text.count('custom_call_target="jtorch_channel_moments"') == 2
    assert text.count('custom_call_target="jtorch_channel_grad_sums"') == 2
    copies = [ln for ln in text.splitlines() if " copy(" in ln and "f32[2,16,6,6]" in ln]
    assert len(copies) <= 2, copies


def test_residual_block_train_steps_match_torch():
    """conv-BN-ReLU-conv-BN + 1×1 downsample, ReLU (ResNet's block, channels-last throughout):
    three SGD steps in a compiled train step against torch, then every parameter and buffer."""
    import jtorch
    from jtorch import nn, optim
    from jtorch.train import stateful_train_step

    def block(lib):
        class Block(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = lib.nn.Conv2d(16, 32, 3, 2, 1, bias=False)
                self.bn1 = lib.nn.BatchNorm2d(32)
                self.conv2 = lib.nn.Conv2d(32, 32, 3, 1, 1, bias=False)
                self.bn2 = lib.nn.BatchNorm2d(32)
                self.down = lib.nn.Sequential(
                    lib.nn.Conv2d(16, 32, 1, 2, bias=False), lib.nn.BatchNorm2d(32)
                )
                self.head = lib.nn.Linear(32 * 4 * 4, 10)

            def forward(self, x):
                out = lib.nn.functional.relu(self.bn1(self.conv1(x)))
                out = lib.nn.functional.relu(self.bn2(self.conv2(out)) + self.down(x))
                return self.head(out.reshape(out.shape[0], -1))

        return Block()

    torch.manual_seed(0)
    t_model = block(torch).train()
    j_model = block(jtorch).train()
    j_model.load_state_dict(t_model.state_dict())
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.05, momentum=0.9)
    j_opt = optim.SGD(j_model.parameters(), lr=0.05, momentum=0.9)
    step = stateful_train_step(nn.CrossEntropyLoss())
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((4, 16, 8, 8)).astype(np.float32)
        y = rng.integers(0, 10, 4)
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(y)).backward()
        t_opt.step()
        step(j_model, j_opt, (jnp.asarray(x), jnp.asarray(y, jnp.int32)))
    want = t_model.state_dict()
    for key, value in j_model.state_dict().items():
        np.testing.assert_allclose(
            np.asarray(value), want[key].numpy(), 1e-4, 1e-4, err_msg=key
        )  # after three steps of SGD with momentum: rtol=atol=1e-4
