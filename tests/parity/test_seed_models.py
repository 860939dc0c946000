"""The seed models LeNet (002 §4.3.1) and AlexNet (002 §4.3.2), written with jtorch.

Each prints exactly the seed's text and torch's repr of the same model, and after loading torch's
state_dict gives torch's outputs on random input (float32, rtol=1e-4, atol=1e-5; AlexNet in eval
mode because of its Dropout layers; 195x195 is the smallest input its fc accepts). LeNet's
parameter gradients are compared too.
"""

import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5

LENET_TEXT = """\
Net(
  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
  (fc1): Linear(in_features=400, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""

ALEXNET_TEXT = """\
AlexNet(
  (conv): Sequential(
    (0): Conv2d(1, 96, kernel_size=(11, 11), stride=(4, 4))
    (1): ReLU()
    (2): MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)
    (3): Conv2d(96, 256, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    (4): ReLU()
    (5): MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)
    (6): Conv2d(256, 384, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (7): ReLU()
    (8): Conv2d(384, 384, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (9): ReLU()
    (10): Conv2d(384, 256, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (11): ReLU()
    (12): MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)
  )
  (fc): Sequential(
    (0): Linear(in_features=6400, out_features=4096, bias=True)
    (1): ReLU()
    (2): Dropout(p=0.5, inplace=False)
    (3): Linear(in_features=4096, out_features=4096, bias=True)
    (4): ReLU()
    (5): Dropout(p=0.5, inplace=False)
    (6): Linear(in_features=4096, out_features=10, bias=True)
  )
)"""


def _define(nn_, F_, view):
    """The seed's two classes, for either library (`view` reshapes: torch .view / jax reshape)."""

    class Net(nn_.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn_.Conv2d(1, 6, 5)
            self.conv2 = nn_.Conv2d(6, 16, 5)
            self.fc1 = nn_.Linear(16 * 5 * 5, 120)
            self.fc2 = nn_.Linear(120, 84)
            self.fc3 = nn_.Linear(84, 10)

        def forward(self, x):
            x = F_.max_pool2d(F_.relu(self.conv1(x)), (2, 2))
            x = F_.max_pool2d(F_.relu(self.conv2(x)), 2)
            x = view(x, -1, self.num_flat_features(x))
            x = F_.relu(self.fc1(x))
            x = F_.relu(self.fc2(x))
            x = self.fc3(x)
            return x

        def num_flat_features(self, x):
            num_features = 1
            for s in x.shape[1:]:
                num_features *= s
            return num_features

    class AlexNet(nn_.Module):
        def __init__(self):
            super(AlexNet, self).__init__()
            self.conv = nn_.Sequential(
                nn_.Conv2d(1, 96, 11, 4),
                nn_.ReLU(),
                nn_.MaxPool2d(3, 2),
                nn_.Conv2d(96, 256, 5, 1, 2),
                nn_.ReLU(),
                nn_.MaxPool2d(3, 2),
                nn_.Conv2d(256, 384, 3, 1, 1),
                nn_.ReLU(),
                nn_.Conv2d(384, 384, 3, 1, 1),
                nn_.ReLU(),
                nn_.Conv2d(384, 256, 3, 1, 1),
                nn_.ReLU(),
                nn_.MaxPool2d(3, 2),
            )
            self.fc = nn_.Sequential(
                nn_.Linear(256 * 5 * 5, 4096),
                nn_.ReLU(),
                nn_.Dropout(0.5),
                nn_.Linear(4096, 4096),
                nn_.ReLU(),
                nn_.Dropout(0.5),
                nn_.Linear(4096, 10),
            )

        def forward(self, img):
            feature = self.conv(img)
            output = self.fc(view(feature, img.shape[0], -1))
            return output

    return Net, AlexNet


JNet, JAlexNet = _define(nn, F, lambda x, *shape: x.reshape(*shape))
TNet, TAlexNet = _define(torch.nn, torch.nn.functional, lambda x, *shape: x.view(*shape))


def test_lenet_prints_the_seed_text_and_matches_torch():
    jnet, tnet = JNet(), TNet()
    assert str(jnet) == LENET_TEXT == str(tnet)
    assert repr(jnet) == textwrap.dedent(LENET_TEXT)
    params = list(jnet.parameters())
    assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)
    jnet.load_state_dict(tnet.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((4, 10)).astype(np.float32)
    x_t = torch.tensor(x)
    out_t = tnet(x_t)
    (out_t * torch.tensor(g)).sum().backward()

    def loss(m, x):
        out = m(x)
        return (out * g).sum(), out

    (_, out_j), grads = jtorch.jit(jtorch.value_and_grad(loss, has_aux=True))(jnet, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(out_j), out_t.detach().numpy(), RTOL, ATOL)
    assert list(grads) == [name for name, _ in tnet.named_parameters()]
    for name, p in tnet.named_parameters():
        np.testing.assert_allclose(np.asarray(grads[name]), p.grad.numpy(), RTOL, ATOL)


@pytest.mark.slow  # ~60M parameters to initialise in both libraries
def test_alexnet_prints_the_seed_text_and_matches_torch_in_eval_mode():
    jnet, tnet = JAlexNet(), TAlexNet()
    assert str(jnet) == ALEXNET_TEXT == str(tnet)
    jnet.load_state_dict(tnet.state_dict())
    jnet.eval()
    tnet.eval()
    x = np.random.default_rng(0).standard_normal((1, 1, 195, 195)).astype(np.float32)
    with torch.no_grad():
        want = tnet(torch.tensor(x)).numpy()
    got = jtorch.jit(lambda m, x: m(x))(jnet, jnp.asarray(x))
    assert got.shape == (1, 10)
    np.testing.assert_allclose(np.asarray(got), want, RTOL, ATOL)
