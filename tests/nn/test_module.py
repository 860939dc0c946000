"""Module behaviour that needs no reference values: containers, freezing, modes, moves, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim


def small_net():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))


def test_sequential_indexing_slicing_and_mutation():
    net = small_net()
    assert len(net) == 4 and isinstance(net[0], nn.Linear) and isinstance(net[-1], nn.Linear)
    head = net[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is net[0]
    net[3] = nn.Linear(8, 10)
    assert net[3].out_features == 10
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert list(net.state_dict())[-2:] == ["3.weight", "3.bias"]
    net.append(nn.ReLU())
    net.insert(0, nn.Identity())
    assert [type(m).__name__ for m in net] == [
        "Identity",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
    ]
    del net[0]
    assert [k for k, _ in net.named_children()] == ["0", "1", "2", "3", "4"]
    net.extend([nn.Identity()])
    assert len(net) == 6
    with pytest.raises(IndexError):
        net[10]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.ReLU())
    layers += [nn.Identity()]
    assert len(layers) == 4 and isinstance(layers[-1], nn.Identity)
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert heads.keys() == ["a", "b"] and "b" in heads and len(heads) == 2
    assert heads.pop("a").out_features == 1 and heads.keys() == ["b"]


def test_parameter_behaves_like_an_array():
    p = nn.Parameter(jnp.arange(6.0).reshape(2, 3))
    x = jnp.ones((4, 2))
    np.testing.assert_array_equal(np.asarray(x @ p), np.asarray(x @ p.value))
    assert (p + 1).shape == (2, 3) and p.shape == (2, 3) and float(jnp.sum(p)) == 15.0
    assert p.size() == (2, 3) and p.numel() == 6 and p.dim() == 2
    p.data.fill_(2.0)
    assert float(jnp.sum(p)) == 12.0


def test_freezing_excludes_parameters_from_grads_and_updates():
    jtorch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    net[0].requires_grad_(False)
    frozen = np.array(net[0].weight.value)
    opt = optim.SGD(net.parameters(), lr=0.1)
    x, y = jtorch.randn(5, 3), jtorch.randn(5, 1)

    @jtorch.jit
    def step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        return loss, grads

    before = np.array(net[2].weight.value)
    _, grads = step(net, opt, x, y)
    assert list(grads) == ["2.weight", "2.bias"]
    np.testing.assert_array_equal(np.asarray(net[0].weight.value), frozen)
    assert not np.array_equal(np.asarray(net[2].weight.value), before)


def test_dropout_follows_train_eval_inside_jit_and_draws_fresh_masks():
    jtorch.manual_seed(1)
    drop = nn.Dropout(0.5)
    run = jtorch.jit(lambda m, x: m(x))
    x = jnp.ones((64,))
    a, b = np.asarray(run(drop, x)), np.asarray(run(drop, x))
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)
    drop.eval()
    np.testing.assert_array_equal(np.asarray(run(drop, x)), np.ones(64))
    drop.train()
    assert set(np.unique(np.asarray(run(drop, x)))) <= {0.0, 2.0}


def test_manual_seed_reproduces_init_and_random_draws():
    jtorch.manual_seed(42)
    a = (nn.Linear(3, 3).weight.value, jtorch.randn(3, 5), jtorch.rand([50, 1]))
    jtorch.manual_seed(42)
    b = (nn.Linear(3, 3).weight.value, jtorch.randn((3, 5)), jtorch.rand(50, 1))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert a[1].shape == (3, 5) and a[2].shape == (50, 1)
    assert jtorch.randint(0, 10, (4,)).shape == (4,) and jtorch.zeros(2, 3).shape == (2, 3)


def test_dtype_and_device_moves():
    net = small_net()
    assert net.half() is net and net[0].weight.value.dtype == jnp.float16
    net.float()
    assert net[0].weight.value.dtype == jnp.float32
    assert net.to("cpu") is net and net.cpu() is net
    assert net[0].weight.value.devices() == {jax.devices("cpu")[0]}
    x = jtorch.to(jnp.ones(3), jtorch.device("cpu"))
    assert x.devices() == {jax.devices("cpu")[0]}
    assert repr(jtorch.device("cuda:0")) == "device(type='cuda', index=0)"
    assert repr(jtorch.device("cpu")) == "device(type='cpu')"
    if not jtorch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no gpu devices"):
            net.to("cuda")
    with pytest.raises(RuntimeError, match="mps"):
        net.to("mps")


def test_registration_errors_name_the_problem():
    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Early()
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match=r'contain "\.", got: a.b'):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="parameter `weight`"):
        m.weight = jnp.zeros((2, 2))
    with pytest.raises(AttributeError, match="no sub-module `nope`"):
        small_net().get_submodule("0.nope")
    assert small_net().get_submodule("3").out_features == 2


def test_buffers_update_by_assignment_and_persistence():
    class WithStats(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", jnp.zeros(()))
            self.register_buffer("cache", jnp.zeros(2), persistent=False)

        def forward(self, x):
            self.count = self.count + 1
            return x

    m = WithStats()
    run = jtorch.jit(lambda m, x: m(x))
    run(m, jnp.ones(1))
    run(m, jnp.ones(1))
    assert float(m.count.value) == 2.0
    assert list(m.state_dict()) == ["count"]
    assert [n for n, _ in m.named_buffers()] == ["count", "cache"]


def test_zero_grad_and_no_grad_are_harmless():
    net = small_net()
    assert net.zero_grad() is None
    with jtorch.no_grad():
        assert net.eval()(jnp.ones((1, 4))).shape == (1, 2)


def test_linear_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match="expected in_features=4"):
        nn.Linear(4, 2)(jnp.ones((3, 5)))


def test_seed_linear_regression_example_converges():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "examples" / "linear_regression.py"
    spec = importlib.util.spec_from_file_location("linear_regression", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    w, b = module.main(["--steps", "2000", "--lr", "0.5"])
    assert abs(w - 3.0) < 0.02 and abs(b - 0.8) < 0.02
