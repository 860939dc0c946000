"""Module system parity with torch 2.13: state_dict keys/order/shapes, repr text, loading.

Expected values (keys, shapes, printed text, outputs) are produced by torch in each test.
"""

from collections import OrderedDict

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn as jnn

torch = pytest.importorskip("torch")
tnn = torch.nn


def build_mlp(nn):
    class MLP(nn.Module):
        def __init__(self, **kwargs):
            super(MLP, self).__init__(**kwargs)
            self.hidden = nn.Linear(784, 256)
            self.act = nn.ReLU()
            self.output = nn.Linear(256, 10)

        def forward(self, x):
            return self.output(self.act(self.hidden(x)))

    return MLP()


def build_list_dense(nn, randn):
    class MyListDense(nn.Module):
        def __init__(self):
            super(MyListDense, self).__init__()
            self.params = nn.ParameterList([nn.Parameter(randn(4, 4)) for i in range(3)])
            self.params.append(nn.Parameter(randn(4, 1)))

        def forward(self, x):
            for i in range(len(self.params)):
                x = x @ self.params[i]
            return x

    return MyListDense()


def build_dict_dense(nn, randn):
    class MyDictDense(nn.Module):
        def __init__(self):
            super(MyDictDense, self).__init__()
            self.params = nn.ParameterDict(
                {"linear1": nn.Parameter(randn(4, 4)), "linear2": nn.Parameter(randn(4, 1))}
            )
            self.params.update({"linear3": nn.Parameter(randn(4, 2))})

        def forward(self, x, choice="linear1"):
            return x @ self.params[choice]

    return MyDictDense()


def build_sequential(nn):
    return nn.Sequential(
        OrderedDict(
            [
                ("fc1", nn.Linear(20, 30)),
                ("relu", nn.ReLU()),
                ("drop", nn.Dropout(0.25)),
                ("fc2", nn.Linear(30, 5, bias=False)),
            ]
        )
    )


def build_nested(nn):
    """Own parameters registered after children, buffers, a ModuleList and a ModuleDict."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Identity(), nn.Flatten())
            self.heads = nn.ModuleList([nn.Linear(6, 2) for _ in range(3)])
            self.extra = nn.ModuleDict({"b": nn.Linear(6, 3), "a": nn.Dropout()})
            self.scale = nn.Parameter(torch_or_jnp_ones(nn, 6))
            self.register_buffer("running", torch_or_jnp_ones(nn, 6))
            self.register_buffer("scratch", torch_or_jnp_ones(nn, 2), persistent=False)

        def forward(self, x):
            h = self.body(x) * self.scale
            return sum(head(h) for head in self.heads)

    return Block()


def torch_or_jnp_ones(nn, n):
    return torch.ones(n) if nn is tnn else jnp.ones(n)


def jt_randn(*shape):
    return jtorch.randn(*shape)


PAIRS = {
    "mlp": (lambda: build_mlp(tnn), lambda: build_mlp(jnn)),
    "list_dense": (
        lambda: build_list_dense(tnn, torch.randn),
        lambda: build_list_dense(jnn, jt_randn),
    ),
    "dict_dense": (
        lambda: build_dict_dense(tnn, torch.randn),
        lambda: build_dict_dense(jnn, jt_randn),
    ),
    "sequential": (lambda: build_sequential(tnn), lambda: build_sequential(jnn)),
    "nested": (lambda: build_nested(tnn), lambda: build_nested(jnn)),
}


def shapes(sd):
    return [(k, tuple(v.shape)) for k, v in sd.items()]


@pytest.mark.parametrize("name", list(PAIRS))
def test_state_dict_keys_order_shapes_equal_torch(name):
    t_model, j_model = PAIRS[name][0](), PAIRS[name][1]()
    assert shapes(j_model.state_dict()) == shapes(t_model.state_dict())
    assert [n for n, _ in j_model.named_parameters()] == [n for n, _ in t_model.named_parameters()]
    assert [n for n, _ in j_model.named_buffers()] == [n for n, _ in t_model.named_buffers()]
    assert [n for n, _ in j_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    assert [n for n, _ in j_model.named_children()] == [n for n, _ in t_model.named_children()]


@pytest.mark.parametrize("name", list(PAIRS))
def test_repr_equals_torch(name):
    assert repr(PAIRS[name][1]()) == repr(PAIRS[name][0]())
    assert str(PAIRS[name][1]()) == str(PAIRS[name][0]())


def test_seed_list_and_dict_dense_print_as_in_seed():
    assert str(build_list_dense(jnn, jt_randn)) == (
        "MyListDense(\n"
        "  (params): ParameterList(\n"
        "      (0): Parameter containing: [torch.float32 of size 4x4]\n"
        "      (1): Parameter containing: [torch.float32 of size 4x4]\n"
        "      (2): Parameter containing: [torch.float32 of size 4x4]\n"
        "      (3): Parameter containing: [torch.float32 of size 4x1]\n"
        "  )\n"
        ")"
    )
    assert "(linear3): Parameter containing: [torch.FloatTensor of size 4x2]" in str(
        build_dict_dense(jnn, jt_randn)
    )


@pytest.mark.parametrize("name", list(PAIRS))
def test_torch_state_dict_loads_and_gives_torch_outputs(name):
    t_model, j_model = PAIRS[name][0](), PAIRS[name][1]()
    t_model.eval()
    j_model.eval()
    result = j_model.load_state_dict(t_model.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    in_features = {"mlp": 784, "list_dense": 4, "dict_dense": 4, "sequential": 20, "nested": 6}
    x = np.random.default_rng(0).standard_normal((3, in_features[name])).astype(np.float32)
    with torch.no_grad():
        expected = t_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(j_model(jnp.asarray(x))), expected, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_into_torch():
    t_model, j_model = PAIRS["nested"][0](), PAIRS["nested"][1]()
    t_model.load_state_dict({k: torch.tensor(np.array(v)) for k, v in j_model.state_dict().items()})
    for key, value in t_model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), np.asarray(j_model.state_dict()[key]))


def test_strict_loading_reports_missing_and_unexpected_like_torch():
    t_model, j_model = PAIRS["sequential"][0](), PAIRS["sequential"][1]()
    sd = dict(t_model.state_dict())
    sd.pop("fc1.bias")
    sd["fc3.weight"] = torch.zeros(2, 2)
    with pytest.raises(RuntimeError) as t_err:
        t_model.load_state_dict(sd)
    with pytest.raises(RuntimeError) as j_err:
        j_model.load_state_dict(sd)
    assert str(j_err.value) == str(t_err.value)
    t_result = t_model.load_state_dict(sd, strict=False)
    j_result = j_model.load_state_dict(sd, strict=False)
    assert j_result.missing_keys == t_result.missing_keys == ["fc1.bias"]
    assert j_result.unexpected_keys == t_result.unexpected_keys == ["fc3.weight"]
    np.testing.assert_array_equal(np.asarray(j_model.fc1.weight), sd["fc1.weight"].numpy())


def test_shape_mismatch_names_key_and_both_shapes():
    j_model = build_sequential(jnn)
    sd = {k: np.asarray(v) for k, v in j_model.state_dict().items()}
    sd["fc2.weight"] = np.zeros((7, 30), np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"fc2\.weight.*\(7, 30\).*\(5, 30\)"):
            j_model.load_state_dict(sd, strict=strict)


def test_apply_and_init_change_values_like_seed():
    def initialize_weights(m):
        if isinstance(m, jnn.Linear):
            jnn.init.constant_(m.weight.data, 0.3)
            if m.bias is not None:
                jnn.init.zeros_(m.bias.data)

    model = build_sequential(jnn)
    assert model.apply(initialize_weights) is model
    np.testing.assert_array_equal(np.asarray(model.fc1.weight), np.full((30, 20), 0.3, np.float32))
    np.testing.assert_array_equal(np.asarray(model.fc1.bias), np.zeros(30, np.float32))


def test_surgery_keeps_torch_order_and_repr():
    """Seed 003: replace classifier[6] and add a layer; names, order and text stay torch's."""
    models = []
    for nn in (tnn, jnn):
        model = build_sequential(nn)
        model[3] = nn.Linear(30, 10)  # replace the last layer in place
        model.add_module("out_act", nn.ReLU())
        model.fc1 = nn.Linear(20, 30)  # reassign by name
        models.append(model)
    t_model, j_model = models
    assert repr(j_model) == repr(t_model)
    assert shapes(j_model.state_dict()) == shapes(t_model.state_dict())
