"""The seeds' model and training-loop code blocks, run as written on torch and ported to jtorch
by changing only the imports and the step.

Each case copies a block from the seed notes (plotting lines left out) as `setup` (imports,
data, model, optimizer), `train` (the torch step loop) and `ported_train` (the same loop with the
step as a `jtorch.jit` function). `setup` runs on both sides with the imports turned into
jtorch's (`import torch` -> `import jtorch as torch`, ...); then the test copies torch's random
data and initial weights into the jtorch side (the two libraries' generators differ), runs the
two loops, and runs the block's `after` code (evaluation, prints) on both. Compared: the last
loss (rtol 1e-4), every parameter (rtol 1e-4, atol 1e-5), the `check` names (rtol 1e-4,
atol 1e-5) and the printed lines, which must be equal.
"""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

_JTORCH_IMPORTS = [
    (r"^import torch$", "import jtorch as torch"),
    (r"^from torch import (\w+)$", r"from jtorch import \1"),
    (r"^import torch\.(\S+) as (\w+)$", r"import jtorch.\1 as \2"),
]


def _ported(source: str) -> str:
    for pattern, repl in _JTORCH_IMPORTS:
        source = re.sub(pattern, repl, source, flags=re.M)
    return "import jtorch\n" + source


# Seed 001 §2 (the device version of §1.4's linear regression): `.to(device)`, `.cpu()`,
# `.detach()`, `.data`, `.numpy()`, `loss.data` in a format string.
LINEAR_REGRESSION = dict(
    setup="""
import torch
from torch import nn
from torch import optim
import numpy as np

# 1. 定义数据
x = torch.rand([50,1])
y = x*3 + 0.8

#2 .定义模型
class Lr(nn.Module):
    def __init__(self):
        super(Lr,self).__init__()
        self.linear = nn.Linear(1,1)

    def forward(self, x):
        out = self.linear(x)
        return out

# 2. 实例化模型，loss，和优化器

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
x,y = x.to(device),y.to(device)

model = Lr().to(device)
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr=1e-3)
""",
    data=("x", "y"),
    train="""
for i in range(300):
    out = model(x)
    loss = criterion(y,out)

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if (i+1) % 20 == 0:
        print('Epoch[{}/{}], loss: {:.6f}'.format(i,30000,loss.data))
""",
    ported_train="""
@jtorch.jit
def train_step(model, optimizer, x, y):
    def loss_fn(model):
        out = model(x)
        return criterion(y,out)
    loss, grads = jtorch.value_and_grad(loss_fn)(model)
    optimizer.step(grads)
    return loss

for i in range(300):
    loss = train_step(model, optimizer, x, y)
    if (i+1) % 20 == 0:
        print('Epoch[{}/{}], loss: {:.6f}'.format(i,30000,loss.data))
""",
    after="""
model.eval() #
predict = model(x)
predict = predict.cpu().detach().numpy() #转化为numpy数组
scatter = (x.cpu().data.numpy(),y.cpu().data.numpy())
""",
    check=("predict",),
)

# Seed 002 §4.3.1: LeNet with `x.view(-1, self.num_flat_features(x))` and `x.size()[1:]`, its
# parameter listing, a forward pass and `out.backward(torch.randn(1, 10))`.
LENET = dict(
    setup="""
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        # 输入图像channel是1；输出channel是6；5x5卷积核
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        # 2x2 Max pooling
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        # 如果是方阵,则可以只使用一个数字进行定义
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

    def num_flat_features(self, x):
        # 除去批处理维度的其他所有维度
        size = x.size()[1:]
        num_features = 1
        for s in size:
            num_features *= s
        return num_features

net = Net()
print(net)
# 一个模型的可学习参数可以通过 `net.parameters()`返回
params = list(net.parameters())
print(len(params))
print(params[0].size())  # conv1的权重
# 假设输入的数据为随机的32x32
input = torch.randn(1, 1, 32, 32)
v = torch.randn(1, 10)
""",
    data=("input", "v"),
    model="net",
    train="""
out = net(input)
# 清零所有参数的梯度缓存，然后进行随机梯度的反向传播
net.zero_grad()
out.backward(v)
conv1_bias_grad = net.conv1.bias.grad
loss = (out * v).sum()
""",
    ported_train="""
@jtorch.jit
def backward_step(net, input, v):
    def vjp(net):
        out = net(input)
        return (out * v).sum(), out
    (loss, out), grads = jtorch.value_and_grad(vjp, has_aux=True)(net)
    return loss, out, grads

loss, out, grads = backward_step(net, input, v)
conv1_bias_grad = grads['conv1.bias']
""",
    after="""
print(out.size(), out.argmax(1).item())
""",
    check=("out", "conv1_bias_grad"),
)

# Seed 004: TheModelClass (`x.view(-1, 16 * 5 * 5)`, MaxPool2d module), SGD with momentum, the
# state_dict listing with `.size()`, a few steps of CrossEntropyLoss.
STATE_DICT_MODEL = dict(
    setup="""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

# 定义模型
class TheModelClass(nn.Module):
    def __init__(self):
        super(TheModelClass, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

# 初始化模型
model = TheModelClass()

# 初始化优化器
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

# 打印模型的状态字典
print("Model's state_dict:")
for param_tensor in model.state_dict():
    print(param_tensor, "\\t", model.state_dict()[param_tensor].size())

inputs = torch.randn(4, 3, 32, 32)
labels = torch.randint(0, 10, (4,))
criterion = nn.CrossEntropyLoss()
""",
    data=("inputs", "labels"),
    train="""
for i in range(3):
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
""",
    ported_train="""
@jtorch.jit
def train_step(model, optimizer, inputs, labels):
    def loss_fn(model):
        outputs = model(inputs)
        return criterion(outputs, labels)
    loss, grads = jtorch.value_and_grad(loss_fn)(model)
    optimizer.step(grads)
    return loss

for i in range(3):
    loss = train_step(model, optimizer, inputs, labels)
""",
    after="""
print("Optimizer's lr and momentum:", optimizer.state_dict()['param_groups'][0]['lr'],
      optimizer.state_dict()['param_groups'][0]['momentum'])
""",
    check=(),
)

SEED_BLOCKS = {
    "001_linear_regression_device": LINEAR_REGRESSION,
    "002_lenet_num_flat_features": LENET,
    "004_state_dict_model": STATE_DICT_MODEL,
}


def _to_jax(value):
    return jnp.asarray(value.numpy()) if isinstance(value, torch.Tensor) else value


def _as_np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


@pytest.mark.parametrize("name", list(SEED_BLOCKS))
def test_seed_block_runs_ported_with_only_imports_and_step_changed(name, capsys):
    block = SEED_BLOCKS[name]
    torch.manual_seed(0)
    ns_t, ns_j = {}, {}
    exec(block["setup"], ns_t)
    exec(_ported(block["setup"]), ns_j)
    printed_setup = capsys.readouterr().out.splitlines()
    half = len(printed_setup) // 2
    assert printed_setup[:half] == printed_setup[half:]  # torch's lines, then jtorch's
    for key in block["data"]:
        ns_j[key] = _to_jax(ns_t[key])
    model = block.get("model", "model")
    missing, unexpected = ns_j[model].load_state_dict(ns_t[model].state_dict())
    assert not missing and not unexpected

    exec(block["train"] + block["after"], ns_t)
    printed_t = capsys.readouterr().out
    exec(block["ported_train"] + block["after"], ns_j)
    printed_j = capsys.readouterr().out
    assert printed_j.splitlines() == printed_t.splitlines() or _close_lines(printed_j, printed_t)
    np.testing.assert_allclose(float(ns_j["loss"]), ns_t["loss"].item(), rtol=1e-4)
    for key, value in ns_t[model].state_dict().items():
        got = np.asarray(ns_j[model].state_dict()[key])
        np.testing.assert_allclose(got, value.numpy(), rtol=1e-4, atol=1e-5, err_msg=key)
    for key in block["check"]:
        np.testing.assert_allclose(
            _as_np(ns_j[key]), _as_np(ns_t[key]), rtol=1e-4, atol=1e-5, err_msg=key
        )


def _close_lines(a: str, b: str) -> bool:
    """Printed losses may differ in the last printed digit (float32 summation order)."""
    num = re.compile(r"-?\d+\.\d+")
    la, lb = a.splitlines(), b.splitlines()
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb, strict=True):
        if num.sub("#", x) != num.sub("#", y):
            return False
        for p, q in zip(num.findall(x), num.findall(y), strict=True):
            if abs(float(p) - float(q)) > 1e-5 + 1e-4 * abs(float(q)):
                return False
    return True
