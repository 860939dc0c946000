"""Normalization layers against torch: forward values, gradients w.r.t. input and every parameter,
running statistics after several train steps (eager and inside a jtorch.jit SGD step), eval mode.

float32 tolerances: rtol=1e-4, atol=1e-5 (values and gradients are O(1)).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn, optim  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def _close(actual, expected, rtol=RTOL, atol=ATOL):
    expected = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=atol)


def _rand(seed, shape, scale=2.0, shift=0.5):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(np.float32)


def _twins(name, args, kwargs, seed=0):
    """A torch module with random affine parameters and a jtorch module loaded from it."""
    th = getattr(torch.nn, name)(*args, **kwargs)
    with torch.no_grad():
        for i, p in enumerate(th.parameters()):
            p.copy_(torch.tensor(_rand(seed + i, tuple(p.shape), 0.5, 1.0)))
    jt = getattr(nn, name)(*args, **kwargs)
    jt.load_state_dict(th.state_dict())
    return jt, th


@jtorch.jit  # one compiled program per module structure keeps the suite fast
def _forward_backward(model, x, cot):
    def loss_fn(model, x):
        out = model(x)
        return jnp.sum(out * cot), out

    (_, out), (grads, gx) = jtorch.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(model, x)
    return out, grads, gx


def _step_both(jt, th, x_np, seed):
    """One forward/backward of sum(out·cotangent) in both; compare output, input and param grads."""
    xt = torch.tensor(x_np, requires_grad=True)
    out_t = th(xt)
    cot = _rand(seed + 100, tuple(out_t.shape), 1.0, 0.0)
    (out_t * torch.tensor(cot)).sum().backward()

    out_j, grads, gx = _forward_backward(jt, jnp.asarray(x_np), jnp.asarray(cot))
    _close(out_j, out_t)
    _close(gx, xt.grad)
    assert list(grads) == [n for n, p in th.named_parameters()]
    for name, p in th.named_parameters():
        _close(grads[name], p.grad)
        p.grad = None


def _check_state(jt, th):
    sd_j, sd_t = jt.state_dict(), th.state_dict()
    assert list(sd_j) == list(sd_t)
    for key in sd_t:
        _close(sd_j[key], sd_t[key])


BATCHNORM_CASES = [
    ("BatchNorm1d", (5,), {}, (8, 5)),
    ("BatchNorm1d", (5,), dict(momentum=None), (6, 5, 7)),
    ("BatchNorm2d", (3,), {}, (4, 3, 5, 6)),
    ("BatchNorm2d", (3,), dict(momentum=None, eps=1e-3), (4, 3, 5, 6)),
    ("BatchNorm2d", (3,), dict(affine=False, momentum=0.3), (4, 3, 5, 6)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (4, 3, 5, 6)),
    ("BatchNorm2d", (3,), dict(bias=False), (4, 3, 5, 6)),
    ("BatchNorm3d", (2,), {}, (2, 2, 3, 4, 5)),
    # multiples of 16 channels: per-channel sums in place on the CPU (oneDNN's channels-last)
    ("BatchNorm1d", (16,), {}, (8, 16)),
    ("BatchNorm1d", (32,), dict(affine=False), (4, 32, 5)),
    ("BatchNorm2d", (16,), dict(momentum=None), (3, 16, 5, 6)),
    ("BatchNorm3d", (16,), {}, (2, 16, 3, 2, 4)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", BATCHNORM_CASES, ids=lambda c: str(c))
def test_batchnorm_train_steps_then_eval_match_torch(name, args, kwargs, shape):
    jt, th = _twins(name, args, kwargs)
    assert repr(jt) == repr(th)
    for step in range(3):
        _step_both(jt, th, _rand(step, shape), step)
        _check_state(jt, th)
    jt.eval()
    th.eval()
    _step_both(jt, th, _rand(9, shape), 9)
    _check_state(jt, th)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_running_stats_inside_jit_sgd_step_match_torch_loop(momentum):
    th = torch.nn.Sequential(
        torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4, momentum=momentum), torch.nn.Linear(4, 2)
    )
    jt = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4, momentum=momentum), nn.Linear(4, 2))
    jt.load_state_dict(th.state_dict())
    opt_t = torch.optim.SGD(th.parameters(), lr=0.1, momentum=0.9)
    opt_j = optim.SGD(jt.parameters(), lr=0.1, momentum=0.9)

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        return loss

    for step in range(4):
        x, y = _rand(step, (16, 6)), _rand(step + 50, (16, 2))
        opt_t.zero_grad()
        loss_t = torch.mean((th(torch.tensor(x)) - torch.tensor(y)) ** 2)
        loss_t.backward()
        opt_t.step()
        loss_j = train_step(jt, opt_j, jnp.asarray(x), jnp.asarray(y))
        _close(loss_j, loss_t)
    _check_state(jt, th)
    assert int(jt[1].num_batches_tracked.value) == 4
    jt.eval()
    th.eval()
    x = _rand(99, (5, 6))
    _close(jtorch.jit(lambda m, a: m(a))(jt, jnp.asarray(x)), th(torch.tensor(x)))


def test_functional_batch_norm_updates_buffers_like_torch_and_pure_form_returns_stats():
    x = _rand(0, (6, 3, 4))
    w, b = _rand(1, (3,)), _rand(2, (3,))
    rm_t, rv_t = torch.zeros(3), torch.ones(3)
    out_t = torch.nn.functional.batch_norm(
        torch.tensor(x), rm_t, rv_t, torch.tensor(w), torch.tensor(b), True, 0.2, 1e-4
    )
    rm_j, rv_j = nn.Buffer(jnp.zeros(3)), nn.Buffer(jnp.ones(3))
    out_j = F.batch_norm(x, rm_j, rv_j, w, b, True, 0.2, 1e-4)
    _close(out_j, out_t)
    _close(rm_j.value, rm_t)
    _close(rv_j.value, rv_t)
    out2, rm2, rv2 = F.batch_norm_stats(x, jnp.zeros(3), jnp.ones(3), w, b, True, 0.2, 1e-4)
    _close(out2, out_t)
    _close(rm2, rm_t)
    _close(rv2, rv_t)
    out_eval = F.batch_norm(x, rm_j, rv_j, w, b, training=False, eps=1e-4)
    _close(
        out_eval,
        torch.nn.functional.batch_norm(
            torch.tensor(x), rm_t, rv_t, torch.tensor(w), torch.tensor(b), False, 0.2, 1e-4
        ),
    )


@pytest.mark.parametrize("channels", [4, 16])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_functional_batch_norm_training_gradients_match_torch_far_from_zero_mean(dtype, channels):
    """The hand-written training backward, on inputs whose mean (300) dwarfs their spread (2):
    values and gradients of input, weight and bias against torch. Tolerances: float32 rtol=1e-4,
    atol=1e-2, bf16 rtol=2e-2, atol=5e-2. The weight gradient sums g·(x − mean), so an error in
    the mean is multiplied by Σg: XLA's float32 reductions (the path without the C++ sums, which
    accumulate in double) put the mean ~1e-4 off here and the weight gradient up to 6e-3 off,
    where torch's is 6e-4 off float64."""
    x = _rand(3, (8, channels, 5, 3), shift=300.0)
    w, b, cot = _rand(4, (channels,)), _rand(5, (channels,)), _rand(6, x.shape)
    tdt = getattr(torch, dtype)
    xt, wt, bt = (torch.tensor(a, dtype=tdt, requires_grad=True) for a in (x, w, b))
    out_t = torch.nn.functional.batch_norm(xt, None, None, wt, bt, True)
    (out_t * torch.tensor(cot, dtype=tdt)).sum().backward()

    def loss(x, w, b):
        out = F.batch_norm(x, None, None, w, b, training=True)
        return jnp.sum(out * jnp.asarray(cot, dtype)), out

    jdt = jnp.dtype(dtype)
    args = (jnp.asarray(x, jdt), jnp.asarray(w, jdt), jnp.asarray(b, jdt))
    (_, out_j), grads = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(*args)
    tol = dict(rtol=1e-4, atol=1e-2) if dtype == "float32" else dict(rtol=2e-2, atol=5e-2)
    for actual, expected in zip((out_j, *grads), (out_t, xt.grad, wt.grad, bt.grad)):
        assert actual.dtype == jdt
        _close(actual.astype(jnp.float32), expected.float(), **tol)


@pytest.mark.parametrize("channels", [3, 16])
def test_batch_norm_training_backward_equals_autodiff_of_its_formula_for_every_output(channels):
    """The custom VJP against JAX's autodiff of the textbook formula, with cotangents on the
    output and on the batch mean and variance it also returns; 16 channels take the in-place
    per-channel sums where the oneDNN extension is built (float32, rtol=1e-4, atol=1e-5)."""
    from jtorch.nn.functional.normalization import _train_norm

    def formula(x, w, b):
        mean = jnp.mean(x, axis=(0, 2), keepdims=True)
        var = jnp.mean((x - mean) ** 2, axis=(0, 2), keepdims=True)
        out = (x - mean) / jnp.sqrt(var + 1e-5) * w.reshape(1, -1, 1) + b.reshape(1, -1, 1)
        return out, mean, var

    x, w, b = _rand(7, (5, channels, 4)), _rand(8, (channels,)), _rand(9, (channels,))
    cts = (_rand(10, x.shape), _rand(11, (1, channels, 1)), _rand(12, (1, channels, 1)))
    _, custom_vjp = jax.vjp(lambda *a: _train_norm(*a, 1e-5), x, w, b)
    _, autodiff_vjp = jax.vjp(formula, x, w, b)
    for actual, expected in zip(custom_vjp(cts), autodiff_vjp(cts)):
        _close(actual, expected)


INSTANCENORM_CASES = [
    ("InstanceNorm1d", (4,), {}, (3, 4, 7)),
    ("InstanceNorm1d", (4,), dict(affine=True), (4, 7)),
    ("InstanceNorm2d", (3,), {}, (2, 3, 5, 4)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 5, 4)),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True, momentum=0.4), (3, 5, 4)),
    ("InstanceNorm3d", (2,), dict(affine=True), (2, 2, 3, 3, 4)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", INSTANCENORM_CASES, ids=lambda c: str(c))
def test_instancenorm_train_then_eval_match_torch(name, args, kwargs, shape):
    jt, th = _twins(name, args, kwargs)
    assert repr(jt) == repr(th)
    for step in range(2):
        _step_both(jt, th, _rand(step, shape), step)
        _check_state(jt, th)
    jt.eval()
    th.eval()
    _step_both(jt, th, _rand(5, shape), 5)


NORM_CASES = [
    ("LayerNorm", (6,), {}, (4, 6)),
    ("LayerNorm", ((3, 6),), dict(eps=1e-3), (2, 4, 3, 6)),
    ("LayerNorm", ([5],), dict(bias=False), (3, 5)),
    ("LayerNorm", (5,), dict(elementwise_affine=False), (2, 3, 5)),
    ("GroupNorm", (2, 6), {}, (3, 6, 5)),
    ("GroupNorm", (3, 6), dict(affine=False), (2, 6, 4, 4)),
    ("GroupNorm", (1, 4), dict(eps=1e-3), (2, 4, 3, 2, 2)),
    ("GroupNorm", (2, 4), dict(bias=False), (2, 4)),
    ("LocalResponseNorm", (3,), {}, (2, 7, 5)),
    ("LocalResponseNorm", (2,), dict(alpha=0.1, beta=0.5, k=2.0), (2, 5, 4, 3)),
    ("LocalResponseNorm", (4,), dict(alpha=0.05), (2, 6, 2, 3, 2)),
    ("RMSNorm", (6,), {}, (4, 6)),
    ("RMSNorm", ((3, 6),), dict(eps=1e-3), (2, 4, 3, 6)),
    ("RMSNorm", (5,), dict(elementwise_affine=False), (2, 3, 5)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", NORM_CASES, ids=lambda c: str(c))
def test_layer_group_lrn_rms_norm_match_torch(name, args, kwargs, shape):
    jt, th = _twins(name, args, kwargs)
    assert repr(jt) == repr(th)
    _step_both(jt, th, _rand(3, shape), 3)
    jt.eval()
    th.eval()
    _step_both(jt, th, _rand(4, shape), 4)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_rms_norm_default_eps_matches_torch(dtype):
    """eps=None is the machine epsilon of the compute type (float32 for bfloat16 inputs, which
    are normalised in float32 and cast back); inputs ~1e-4 so that eps matters. Tolerance:
    rtol=1e-5 for float32, one bfloat16 ulp (rtol=8e-3) for bfloat16."""
    x = _rand(0, (3, 4, 6), 1e-4, 0.0)
    w = _rand(1, (6,), 0.5, 1.0)
    tdt = getattr(torch, dtype)
    expected = torch.nn.functional.rms_norm(
        torch.tensor(x).to(tdt), [6], torch.tensor(w).to(tdt)
    ).float()
    got = F.rms_norm(jnp.asarray(x, dtype), 6, jnp.asarray(w, dtype))
    assert got.dtype == jnp.dtype(dtype)
    rtol = 1e-5 if dtype == "float32" else 8e-3
    _close(got.astype(jnp.float32), expected, rtol=rtol, atol=0)


@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (0, 3)), ("BatchNorm2d", (0, 3, 2, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_zero_size_batch_in_training_matches_torch(name, shape, momentum):
    """An empty batch gives an empty output and zero gradients; the running stats stay as they
    were and num_batches_tracked still counts the batch, as in torch (after one real batch)."""
    jt, th = _twins(name, (3,), dict(momentum=momentum))
    _step_both(jt, th, _rand(0, (4, *shape[1:])), 0)
    _step_both(jt, th, np.zeros(shape, np.float32), 1)
    _check_state(jt, th)
    assert int(jt.num_batches_tracked.value) == 2


def test_bad_inputs_raise_value_errors_naming_shapes():
    with pytest.raises(ValueError, match=r"expected 4D input of shape \(N, C, H, W\).*\(2, 3, 4\)"):
        nn.BatchNorm2d(3)(jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"2D or 3D input.*\(2, 3, 4, 5\)"):
        nn.BatchNorm1d(3)(jnp.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match=r"4 channels on dim 1, expected num_features=3"):
        nn.BatchNorm2d(3)(jnp.ones((2, 4, 4, 4)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(jnp.ones((1, 3)))
    with pytest.raises(
        ValueError, match=r"`num_channels` \(6\) must be divisible by `num_groups` \(4\)"
    ):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"\(2, 6, 3\).*`num_groups`=4"):
        F.group_norm(jnp.ones((2, 6, 3)), 4)
    with pytest.raises(ValueError, match=r"normalized_shape`=\[4\].*\(2, 5\)"):
        nn.LayerNorm(4)(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="dim=1 to match num_features"):
        nn.InstanceNorm2d(3, affine=True)(jnp.ones((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="3-D or more"):
        F.local_response_norm(jnp.ones((2, 3)), 2)
    with pytest.raises(ValueError, match=r"rms_norm: `normalized_shape`=\[4\].*\(2, 5\)"):
        nn.RMSNorm(4)(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"`weight` must have shape \(5,\)"):
        F.rms_norm(jnp.ones((2, 5)), 5, jnp.ones(4))


def test_instancenorm_without_affine_warns_on_channel_mismatch_like_torch():
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(jnp.asarray(_rand(0, (2, 4, 5))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.InstanceNorm1d(4)(jnp.asarray(_rand(0, (2, 4, 5))))
