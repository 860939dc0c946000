"""Layer constructor and forward checks: bad sizes, kernel_size, stride, padding, dilation,
output_padding and groups are refused at construction with a ValueError naming the argument,
where torch fails at construction or at the first forward (asserted here on torch 2.13 itself);
wrong input ranks and channel counts are refused before any oneDNN call. Valid edge cases (zero
sizes) match torch's outputs exactly (weights copied from torch)."""

import jax.numpy as jnp
import numpy as np
import pytest

from jtorch import nn
from jtorch.nn import functional as F

torch = pytest.importorskip("torch")

# (layer, args, kwargs, argument the error names, input for torch's forward)
BAD_ARGUMENTS = [
    ("Linear", (-1, 3), {}, "in_features", None),
    ("Linear", (0, -3), {}, "out_features", None),
    ("Bilinear", (2, -1, 3), {}, "in2_features", None),
    ("Embedding", (-1, 3), {}, "num_embeddings", None),
    ("Embedding", (4, -3), {}, "embedding_dim", None),
    ("EmbeddingBag", (-2, 3), {}, "num_embeddings", None),
    ("Conv2d", (3, -1, 3), {}, "out_channels", None),
    ("Conv1d", (-3, 4, 3), {}, "in_channels", None),
    ("Conv2d", (3, 4, 0), {}, "kernel_size", (1, 3, 8, 8)),
    ("Conv3d", (3, 4, (3, 0, 3)), {}, "kernel_size", (1, 3, 8, 8, 8)),
    ("Conv2d", (3, 4, 3), {"padding": -1}, "padding", (1, 3, 8, 8)),
    ("Conv2d", (3, 4, 3), {"stride": 0}, "stride", (1, 3, 8, 8)),
    ("Conv1d", (3, 4, 3), {"stride": -2}, "stride", (1, 3, 8)),
    ("Conv2d", (3, 4, 3), {"dilation": 0}, "dilation", (1, 3, 8, 8)),
    ("Conv2d", (4, 4, 3), {"groups": 0}, "groups", None),
    ("Conv2d", (4, 6, 3), {"groups": 4}, "out_channels", None),
    ("Conv2d", (3, 4, 3), {"padding": "full"}, "padding", None),
    ("ConvTranspose2d", (3, 4, 3), {"stride": 0}, "stride", (1, 3, 8, 8)),
    ("ConvTranspose1d", (3, 4, 3), {"padding": -1}, "padding", (1, 3, 8)),
    ("ConvTranspose3d", (3, 4, 0), {}, "kernel_size", (1, 3, 4, 4, 4)),
    ("ConvTranspose2d", (3, 4, 3), {"output_padding": 2, "stride": 2}, "output_padding",
     (1, 3, 8, 8)),
    ("ConvTranspose2d", (3, 4, 3), {"output_padding": -1}, "output_padding", (1, 3, 8, 8)),
]  # fmt: skip


@pytest.mark.parametrize(
    "layer,args,kwargs,argument,shape",
    BAD_ARGUMENTS,
    ids=[f"{c[0]}{c[1]}{c[2]}" for c in BAD_ARGUMENTS],
)
def test_bad_constructor_arguments_are_named(layer, args, kwargs, argument, shape):
    with pytest.raises((RuntimeError, ValueError)):  # torch refuses too, now or at forward
        module = getattr(torch.nn, layer)(*args, **kwargs)
        module(torch.ones(shape))
    with pytest.raises(ValueError, match=f"{layer}: `{argument}`") as err:
        getattr(nn, layer)(*args, **kwargs)
    assert "domain" not in str(err.value) and "negative dimensions" not in str(err.value)


def test_non_integer_sizes_are_refused():
    for bad in (2.5, "3", None, True):
        with pytest.raises(ValueError, match="Linear: `in_features` must be an integer"):
            nn.Linear(bad, 3)
    assert nn.Linear(np.int64(3), 2).weight.shape == (2, 3)  # integer scalars are fine


# (layer, args, input shape): wrong rank or channel count for the layer
BAD_INPUTS = [
    ("Conv2d", (3, 4, 3), (2, 5, 8, 8)),
    ("Conv2d", (3, 4, 3), (2, 1, 3, 8, 8)),
    ("Conv1d", (3, 4, 3), (8,)),
    ("Conv3d", (2, 4, 3), (1, 3, 4, 4, 4)),
    ("ConvTranspose2d", (3, 4, 3), (2, 4, 8, 8)),
    ("ConvTranspose1d", (3, 4, 3), (1, 1, 3, 8)),
]


@pytest.mark.parametrize("layer,args,shape", BAD_INPUTS, ids=[str(c) for c in BAD_INPUTS])
def test_conv_input_rank_and_channels_checked_before_onednn(layer, args, shape):
    with pytest.raises(RuntimeError):
        getattr(torch.nn, layer)(*args)(torch.ones(shape))
    with pytest.raises(ValueError, match=f"{layer}: expected input of shape"):
        getattr(nn, layer)(*args)(jnp.ones(shape))


@pytest.mark.parametrize(
    "call,argument",
    [
        (lambda: F.conv2d(jnp.ones((1, 3, 5, 5)), jnp.ones((4, 3, 3, 3)), stride=0), "stride"),
        (lambda: F.conv2d(jnp.ones((1, 3, 5, 5)), jnp.ones((4, 3, 3, 3)), padding=-1), "padding"),
        (lambda: F.conv1d(jnp.ones((1, 3, 5)), jnp.ones((4, 3, 3)), dilation=0), "dilation"),
        (lambda: F.conv2d(jnp.ones((1, 3, 5, 5)), jnp.ones((4, 3, 0, 3))), "weight"),
        (lambda: F.conv_transpose2d(jnp.ones((1, 3, 5, 5)), jnp.ones((3, 4, 3, 3)), stride=0),
         "stride"),
    ],
    ids=["stride", "padding", "dilation", "empty kernel", "transposed stride"],
)  # fmt: skip
def test_functional_conv_refuses_bad_geometry_before_onednn(call, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        call()


# (layer, args, input shape): zero sizes torch accepts; outputs compared exactly
ZERO_SIZES = [
    ("Linear", (0, 3), (2, 0)),
    ("Conv2d", (3, 4, 3), (0, 3, 5, 5)),
    ("ConvTranspose2d", (3, 4, 3), (0, 3, 5, 5)),
    ("Embedding", (0, 3), None),
]


@pytest.mark.parametrize("layer,args,shape", ZERO_SIZES, ids=[str(c) for c in ZERO_SIZES])
def test_zero_sizes_match_torch(layer, args, shape):
    torch.manual_seed(0)
    reference = getattr(torch.nn, layer)(*args)
    module = getattr(nn, layer)(*args)
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    if shape is None:
        assert module.weight.shape == tuple(reference.weight.shape)
        return
    expected = reference(torch.ones(shape)).detach().numpy()
    got = np.asarray(module(jnp.ones(shape)))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_zero_input_channels_give_the_bias_without_reaching_onednn():
    """torch 2.13 returns a (1, 0, 3, 3) result here; the sum over no channels is the bias."""
    module = nn.Conv2d(0, 4, 3)
    got = np.asarray(module(jnp.ones((1, 0, 5, 5))))
    expected = np.broadcast_to(np.asarray(module.bias)[:, None, None], (4, 3, 3))[None]
    np.testing.assert_array_equal(got, expected)
