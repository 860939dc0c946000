"""In-place methods on Parameters and Buffers (`p.add_(g, alpha=-lr)`, `p.mul_`, `p.data.sub_`,
`buf.div_`) against torch's on the same values: within one float32 rounding (rtol 2.5e-7; torch
fuses `x + alpha * y` and divides by a scalar as a multiply by its reciprocal),
the dtype kept, and torch's refusals (a result that would grow the tensor, a float result into
an integer buffer) raised with the method named."""

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jtorch import nn  # noqa: E402

CASES = [
    ("add_", (np.float32(0.5),), {}),
    ("add_", ("tensor",), {"alpha": -0.1}),
    ("sub_", ("tensor",), {"alpha": 2.0}),
    ("sub_", ("row",), {}),
    ("mul_", (3.0,), {}),
    ("mul_", ("tensor",), {}),
    ("div_", ("tensor",), {}),
    ("div_", (7,), {}),
]


def _arg(a, rng, lib):
    if isinstance(a, str):
        value = rng.standard_normal((3, 4) if a == "tensor" else (4,)).astype(np.float32)
        return torch.from_numpy(value) if lib == "torch" else jnp.asarray(value)
    return a


@pytest.mark.parametrize("method,args,kwargs", CASES, ids=[f"{c[0]}{c[2]}" for c in CASES])
@pytest.mark.parametrize("through_data", [False, True], ids=["param", "param.data"])
def test_matches_torch(method, args, kwargs, through_data):
    start = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    t = torch.nn.Parameter(torch.from_numpy(start.copy()))
    j = nn.Parameter(jnp.asarray(start))
    t_args = [_arg(a, np.random.default_rng(1), "torch") for a in args]
    j_args = [_arg(a, np.random.default_rng(1), "jtorch") for a in args]
    with torch.no_grad():
        getattr(t.data if through_data else t, method)(*t_args, **kwargs)
    out = getattr(j.data if through_data else j, method)(*j_args, **kwargs)
    assert out is j
    assert j.value.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(j.value), t.detach().numpy(), rtol=2.5e-7, atol=0)


def test_integer_buffer_counts_like_torch():
    t = torch.zeros((), dtype=torch.int64)
    j = nn.Buffer(jnp.zeros((), jnp.int32))
    t.add_(2)
    j.add_(2)
    t.mul_(3)
    j.mul_(3)
    assert int(j.value) == int(t) and j.value.dtype == jnp.int32
    with pytest.raises(RuntimeError, match="can't be cast"):
        t.div_(2)
    with pytest.raises(RuntimeError, match="div_: result type float32 can't be cast"):
        j.div_(2)


def test_result_that_would_grow_the_tensor_is_refused():
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.nn.Parameter(torch.zeros(4)).data.add_(torch.ones(3, 4))
    with pytest.raises(RuntimeError, match=r"add_: the result's shape \(3, 4\) does not match"):
        nn.Parameter(jnp.zeros(4)).add_(jnp.ones((3, 4)))
