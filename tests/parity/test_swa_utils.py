"""Parity of jtorch.optim.swa_utils (AveragedModel, the averaging functions, SWALR, update_bn)
with torch.optim.swa_utils.

AveragedModel cases train a small BatchNorm MLP with SGD for 6 steps, jtorch's train step
calling `update_parameters` inside the same `jtorch.jit` program, torch's after `step()`; every
entry of the averaged state_dict (parameters, buffers, `n_averaged`) is compared after every
step (float32, rtol 2e-5 / atol 1e-6). SWALR's learning rates must equal torch's exactly (the
same float64 Python arithmetic); update_bn's statistics are compared at rtol 1e-5 / atol 1e-6.
"""

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
from jtorch import nn, optim  # noqa: E402
from jtorch.optim import swa_utils  # noqa: E402

from ._optim_helpers import ATOL, RTOL, batches  # noqa: E402


def _bn_pair():
    """A jtorch Linear-BatchNorm-ReLU-Linear and a torch copy with the same weights."""
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    ref = torch.nn.Sequential(
        torch.nn.Linear(5, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    )
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    return model, ref


def _assert_state(ours, theirs, msg):
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        np.testing.assert_allclose(
            np.asarray(ours[key]), value.numpy(), RTOL, ATOL, err_msg=f"{key} {msg}"
        )


# (id, averaging-function factory or None, its arguments, keyword it is passed as, use_buffers);
# every factory's arithmetic is compared on its own in test_averaging_functions_match_torch
AVERAGING_CASES = [
    ("swa", None, (), None, False),
    ("swa-buffers", None, (), None, True),
    ("ema-multi-buffers", "get_ema_multi_avg_fn", (0.9,), "multi_avg_fn", True),
    ("ema-avg-fn", "get_ema_avg_fn", (0.8,), "avg_fn", False),
]


def _averaged(module, lib, factory, args, keyword, use_buffers):
    kwargs = {"use_buffers": use_buffers}
    if factory is not None:
        kwargs[keyword] = getattr(lib, factory)(*args)
    return lib.AveragedModel(module, **kwargs)


@pytest.mark.parametrize("case", AVERAGING_CASES, ids=[c[0] for c in AVERAGING_CASES])
def test_averaged_model_matches_torch_inside_compiled_step(case):
    _, factory, args, keyword, use_buffers = case
    model, ref = _bn_pair()
    swa_model = _averaged(model, swa_utils, factory, args, keyword, use_buffers)
    ref_swa = _averaged(ref, torch.optim.swa_utils, factory, args, keyword, use_buffers)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    _assert_state(swa_model.state_dict(), ref_swa.state_dict(), "at construction")
    traces = []

    @jtorch.jit
    def train_step(model, optimizer, swa_model, x, y):
        traces.append(1)
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        swa_model.update_parameters(model)
        return loss

    for i, (x, y) in enumerate(batches(6)):
        train_step(model, optimizer, swa_model, jnp.asarray(x), jnp.asarray(y))
        ref_opt.zero_grad()
        torch.mean((ref(torch.tensor(x)) - torch.tensor(y)) ** 2).backward()
        ref_opt.step()
        ref_swa.update_parameters(ref)
        _assert_state(swa_model.state_dict(), ref_swa.state_dict(), f"after step {i}")
    assert len(traces) == 1, "the first (copying) update and later ones share one program"
    x = batches(1, seed=5)[0][0]
    swa_model.eval()
    ref_swa.eval()
    np.testing.assert_allclose(
        np.asarray(swa_model(jnp.asarray(x))),
        ref_swa(torch.tensor(x)).detach().numpy(),
        RTOL,
        ATOL,
    )


# (factory, arguments, multi): the lerp weights cover both of torch's lerp branches (< 0.5, ≥ 0.5)
FUNCTION_CASES = [
    ("get_swa_multi_avg_fn", (), True),
    ("get_ema_multi_avg_fn", (0.9,), True),
    ("get_ema_multi_avg_fn", (0.3,), True),
    ("get_swa_avg_fn", (), False),
    ("get_ema_avg_fn", (0.7,), False),
]


@pytest.mark.parametrize("factory,args,multi", FUNCTION_CASES, ids=str)
def test_averaging_functions_match_torch(factory, args, multi):
    """The averages of two float32 arrays after 1, 2 and 5 models, and of an int32 one where
    torch supports it, equal torch's (rtol 2e-5 / atol 1e-6)."""
    rng = np.random.default_rng(8)
    ours, theirs = (
        getattr(swa_utils, factory)(*args),
        getattr(torch.optim.swa_utils, factory)(*args),
    )
    for n in (1, 2, 5):
        averaged = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
        current = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
        if factory == "get_ema_multi_avg_fn":  # torch's int lerp replacement
            averaged.append(np.array([7, -3, 12], np.int32))
            current.append(np.array([2, 5, 12], np.int32))
        ref_avg = [torch.tensor(a) for a in averaged]
        ref_cur = [torch.tensor(c) for c in current]
        count = torch.tensor(n)
        if multi:  # called once per dtype, as AveragedModel (and torch's) do
            got = list(averaged)
            floats = [i for i, a in enumerate(averaged) if a.dtype == np.float32]
            ints = [i for i, a in enumerate(averaged) if a.dtype == np.int32]
            for indices in (floats, ints):
                if indices:
                    theirs([ref_avg[i] for i in indices], [ref_cur[i] for i in indices], count)
                    new = ours(
                        [jnp.asarray(averaged[i]) for i in indices],
                        [jnp.asarray(current[i]) for i in indices],
                        jnp.asarray(n),
                    )
                    for i, value in zip(indices, new):
                        got[i] = value
            expected = ref_avg
        else:
            got = [ours(jnp.asarray(a), jnp.asarray(c), n) for a, c in zip(averaged, current)]
            expected = [theirs(a, c, count) for a, c in zip(ref_avg, ref_cur)]
        for mine, ref_value in zip(got, expected):
            assert np.asarray(mine).dtype == ref_value.numpy().dtype.name.replace("64", "32")
            np.testing.assert_allclose(
                np.asarray(mine), ref_value.numpy(), RTOL, ATOL, err_msg=f"n={n}"
            )


def test_averaged_model_state_dict_loads_both_ways():
    """torch's keys (`n_averaged`, then `module.`-prefixed), and each side loads the other's."""
    model, ref = _bn_pair()
    swa_model, ref_swa = swa_utils.AveragedModel(model), torch.optim.swa_utils.AveragedModel(ref)
    for x, _ in batches(2):
        model.train()(jnp.asarray(x))
        ref.train()(torch.tensor(x))
        swa_model.update_parameters(model)
        ref_swa.update_parameters(ref)
    ours = swa_model.state_dict()
    theirs = ref_swa.state_dict()
    _assert_state(ours, theirs, "after 2 updates")
    assert list(ours)[0] == "n_averaged" and int(ours["n_averaged"]) == 2

    fresh_ref = torch.optim.swa_utils.AveragedModel(_bn_pair()[1])
    fresh_ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours.items()})
    _assert_state(swa_model.state_dict(), fresh_ref.state_dict(), "torch loaded jtorch's")
    fresh = swa_utils.AveragedModel(_bn_pair()[0])
    fresh.load_state_dict({k: v.numpy() for k, v in theirs.items()})
    _assert_state(fresh.state_dict(), theirs, "jtorch loaded torch's")
    x, y = batches(1, seed=7)[0]
    model(jnp.asarray(x))
    ref(torch.tensor(x))
    fresh.update_parameters(model)
    fresh_ref.update_parameters(ref)
    _assert_state(fresh.state_dict(), fresh_ref.state_dict(), "one update after loading")


def test_averaging_function_errors_like_torch():
    for factory in ("get_ema_multi_avg_fn", "get_ema_avg_fn"):
        with pytest.raises(ValueError) as expected:
            getattr(torch.optim.swa_utils, factory)(1.5)
        with pytest.raises(ValueError) as got:
            getattr(swa_utils, factory)(1.5)
        assert str(got.value) == str(expected.value)
    model = nn.Linear(2, 2)
    fn = swa_utils.get_ema_avg_fn()
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=fn, multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match=r"returned shape \(\) for a parameter of shape \(2, 2\)"):
        averaged = swa_utils.AveragedModel(model, avg_fn=lambda a, c, n: jnp.sum(a))
        averaged.update_parameters(model)


# (swa_lr, anneal_epochs, anneal_strategy)
SWALR_CASES = [
    (0.05, 5, "cos"),
    ([0.01, 0.2], 3, "linear"),
    (0.02, 0, "cos"),
    (0.3, 1, "linear"),
]


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
@pytest.mark.parametrize("swa_lr,anneal_epochs,strategy", SWALR_CASES, ids=str)
def test_swalr_learning_rates_match_torch(swa_lr, anneal_epochs, strategy):
    """Two groups, a cosine schedule for 4 epochs, then SWALR for 8: every lr equals torch's
    exactly; SWALR's state_dict has torch's keys and values and reloads into a fresh one."""
    model, ref = _bn_pair()

    def groups(m):
        return [{"params": m[0].parameters()}, {"params": m[3].parameters(), "lr": 0.05}]

    opt, ref_opt = optim.SGD(groups(model), lr=0.1), torch.optim.SGD(groups(ref), lr=0.1)
    cosine = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    ref_cosine = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=10)
    for _ in range(4):
        cosine.step()
        ref_cosine.step()
    kwargs = dict(anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    swa = swa_utils.SWALR(opt, swa_lr, **kwargs)
    ref_swa = torch.optim.swa_utils.SWALR(ref_opt, swa_lr, **kwargs)
    assert swa.get_last_lr() == ref_swa.get_last_lr()
    for _ in range(8):
        swa.step()
        ref_swa.step()
        assert swa.get_last_lr() == ref_swa.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in ref_opt.param_groups]
    state, ref_state = swa.state_dict(), ref_swa.state_dict()
    # jtorch's schedulers keep no `_get_lr_called_within_step` (test_lr_scheduler.py)
    assert state == {k: v for k, v in ref_state.items() if k != "_get_lr_called_within_step"}
    resumed_opt = optim.SGD(groups(model), lr=0.1)
    resumed = swa_utils.SWALR(resumed_opt, 0.5, anneal_strategy="linear")
    resumed.load_state_dict(state)
    for group, old in zip(resumed_opt.param_groups, opt.param_groups):
        group.update(lr=old["lr"], swa_lr=old["swa_lr"])
    for _ in range(3):
        resumed.step()
        ref_swa.step()
        assert resumed.get_last_lr() == ref_swa.get_last_lr()


@pytest.mark.parametrize(
    "kwargs", [dict(anneal_strategy="exp"), dict(anneal_epochs=-1), dict(anneal_epochs=2.5)]
)
def test_swalr_rejects_like_torch(kwargs):
    with pytest.raises(ValueError) as expected:
        torch.optim.swa_utils.SWALR(
            torch.optim.SGD([torch.zeros(1, requires_grad=True)]), 0.1, **kwargs
        )
    with pytest.raises(ValueError) as got:
        swa_utils.SWALR(optim.SGD([nn.Parameter(jnp.zeros(1))]), 0.1, **kwargs)
    assert str(got.value) == str(expected.value)


def _stats(module):
    return {k: v for k, v in module.state_dict().items() if "running" in k or "batches" in k}


def test_update_bn_matches_torch():
    """Statistics spoiled by training with momentum 0.3, then recomputed by one pass over three
    batches ((x, y), a bare x, a smaller (x, y)) on an eval-mode AveragedModel: running stats
    and batch counts as torch's; momentum and eval mode restored."""
    model, ref = _bn_pair()
    model[1].momentum = ref[1].momentum = 0.3
    for x, _ in batches(2, seed=3):
        model(jnp.asarray(x) * 3 + 1)
        ref(torch.tensor(x) * 3 + 1)
    swa_model, ref_swa = swa_utils.AveragedModel(model), torch.optim.swa_utils.AveragedModel(ref)
    swa_model.eval()
    ref_swa.eval()
    data = batches(2, seed=4) + [(x[:5], y[:5]) for x, y in batches(1, seed=6)]
    loader = [data[0], data[1][0], data[2]]
    swa_utils.update_bn([_jax_batch(b) for b in loader], swa_model)
    torch.optim.swa_utils.update_bn([_torch_batch(b) for b in loader], ref_swa)
    ours, theirs = _stats(swa_model), _stats(ref_swa)
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        np.testing.assert_allclose(np.asarray(ours[key]), value.numpy(), 1e-5, 1e-6, err_msg=key)
    assert swa_model.module[1].momentum == 0.3 and not swa_model.training
    assert not swa_model.module[1].training


def _jax_batch(batch):
    return tuple(jnp.asarray(b) for b in batch) if isinstance(batch, tuple) else jnp.asarray(batch)


def _torch_batch(batch):
    return (
        tuple(torch.tensor(b) for b in batch) if isinstance(batch, tuple) else torch.tensor(batch)
    )


def test_update_bn_without_batchnorm_is_a_no_op():
    model = nn.Linear(3, 2)
    before = {k: np.asarray(v) for k, v in model.state_dict().items()}
    swa_utils.update_bn([jnp.ones((2, 3))], model)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), before[key])
