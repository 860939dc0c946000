"""nn.init against torch.nn.init: the same distributions (bounds, std, structure) and gains.

Random draws cannot match torch bit for bit, so each test compares statistics of large samples
drawn by both libraries, with tolerances stated per test; exact quantities (gains, bounds,
deterministic initialisers) must be equal.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn

torch = pytest.importorskip("torch")

SHAPE = (128, 128, 3, 3)  # 147k samples, fan_in = fan_out = 1152: tight enough statistics


def draw(name, shape, **kwargs):
    """One sample from jtorch's in-place initialiser and one from torch's."""
    jtorch.manual_seed(0)
    torch.manual_seed(0)
    p = nn.Parameter(jnp.zeros(shape))
    getattr(nn.init, name + "_")(p, **kwargs)
    t = torch.empty(shape)
    getattr(torch.nn.init, name + "_")(t, **kwargs)
    return np.asarray(p.value), t.numpy()


@pytest.mark.parametrize(
    "nonlinearity,param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ],
)
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
        nonlinearity, param
    )


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")


UNIFORM_CASES = [
    ("uniform", dict(a=-0.5, b=2.0)),
    ("xavier_uniform", dict(gain=1.7)),
    ("kaiming_uniform", dict(a=math.sqrt(5))),
    ("kaiming_uniform", dict(mode="fan_out", nonlinearity="relu")),
]


@pytest.mark.parametrize("name,kwargs", UNIFORM_CASES, ids=str)
def test_uniform_family_bounds_and_std_match_torch(name, kwargs):
    ours, ref = draw(name, SHAPE, **kwargs)
    # same support: min/max within 0.1% of the bound torch reaches
    np.testing.assert_allclose(
        [ours.min(), ours.max()], [ref.min(), ref.max()], rtol=1e-3, atol=1e-4
    )
    np.testing.assert_allclose(ours.std(), ref.std(), rtol=1e-2)
    assert abs(ours.mean() - ref.mean()) < 3e-2 * ref.std()  # noise is ~4e-3·std


NORMAL_CASES = [
    ("normal", dict(mean=0.3, std=2.0)),
    ("xavier_normal", dict(gain=0.5)),
    ("kaiming_normal", dict()),
    ("kaiming_normal", dict(a=0.1, mode="fan_out", nonlinearity="leaky_relu")),
    ("trunc_normal", dict(mean=0.0, std=1.0, a=-1.0, b=1.5)),
]


@pytest.mark.parametrize("name,kwargs", NORMAL_CASES, ids=str)
def test_normal_family_mean_and_std_match_torch(name, kwargs):
    ours, ref = draw(name, SHAPE, **kwargs)
    np.testing.assert_allclose(ours.std(), ref.std(), rtol=1e-2)  # 147k samples: ~0.3% noise
    assert abs(ours.mean() - ref.mean()) < 1e-2 * ref.std()
    if name == "trunc_normal":
        assert ours.min() >= -1.0 and ours.max() <= 1.5


@pytest.mark.parametrize(
    "name,shape,kwargs",
    [
        ("constant", (3, 4), dict(val=0.3)),
        ("ones", (3, 4), {}),
        ("zeros", (3, 4), {}),
        ("eye", (3, 5), {}),
        ("dirac", (6, 3, 3, 3), {}),
        ("dirac", (8, 2, 3), dict(groups=2)),
    ],
    ids=str,
)
def test_deterministic_initialisers_equal_torch(name, shape, kwargs):
    ours, ref = draw(name, shape, **kwargs)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (16, 4, 3, 3)])
def test_orthogonal_is_orthogonal_with_torch_gain(shape):
    ours, ref = draw("orthogonal", shape, gain=2.0)
    rows = shape[0]
    flat = ours.reshape(rows, -1)
    tflat = ref.reshape(rows, -1)
    small = flat @ flat.T if rows <= flat.shape[1] else flat.T @ flat
    tsmall = tflat @ tflat.T if rows <= tflat.shape[1] else tflat.T @ tflat
    np.testing.assert_allclose(small, tsmall, atol=1e-4)  # both equal 4·I
    np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-4)


def test_sparse_zeros_per_column_and_std_match_torch():
    ours, ref = draw("sparse", (200, 300), sparsity=0.3, std=0.05)
    zeros_per_col = (ours == 0).sum(axis=0)
    np.testing.assert_array_equal(zeros_per_col, (ref == 0).sum(axis=0))  # ceil(0.3·200) each
    np.testing.assert_allclose(ours[ours != 0].std(), ref[ref != 0].std(), rtol=2e-2)


def test_layer_default_init_matches_torch_bounds():
    jtorch.manual_seed(0)
    ours = nn.Linear(400, 300)
    ref = torch.nn.Linear(400, 300)
    for name in ("weight", "bias"):
        a = np.asarray(getattr(ours, name).value)
        b = getattr(ref, name).detach().numpy()
        np.testing.assert_allclose(np.abs(a).max(), np.abs(b).max(), rtol=1e-2)
        np.testing.assert_allclose(a.std(), b.std(), rtol=5e-2)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(jnp.zeros(5)))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_normal_(nn.Parameter(jnp.zeros((3, 3))), mode="fan_avg")
    with pytest.raises(TypeError, match="must be a Parameter or Buffer"):
        nn.init.normal_(jnp.zeros((3, 3)))


def test_pure_forms_take_a_key_and_a_shape():
    import jax

    key = jax.random.key(0)
    w = nn.init.kaiming_uniform(key, (8, 4), a=math.sqrt(5))
    assert w.shape == (8, 4) and float(jnp.abs(w).max()) <= 1 / math.sqrt(4) + 1e-6
    assert nn.init.dirac(None, (2, 2, 3)).shape == (2, 2, 3)
