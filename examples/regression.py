"""pytorch/examples regression/main.py, ported to jtorch: fit a degree-4 polynomial with one
Linear layer and smooth-L1 loss until the loss drops below 1e-3.

Changes to the original: the imports; the step (`fc.zero_grad(); output = ...; output.backward();
for param in fc.parameters(): param.data.add_(-0.1 * param.grad)` becomes a compiled `train_step`
with `optim.SGD(lr=0.1)`, the same update); the script body moves into `main(max_batches=None)`
(indented; 3 lines: the `def` and an optional batch limit) so tests can import the file.
Lines changed beyond imports and the step: 0 (3 for test access).

Run: python examples/regression.py
"""

# ruff: noqa: UP032  (the original's str.format calls are kept)
from itertools import count

import jtorch
import jtorch as torch
import jtorch.nn.functional as F

POLY_DEGREE = 4
W_target = torch.randn(POLY_DEGREE, 1) * 5
b_target = torch.randn(1) * 5


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    """Approximated function."""
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = "y = "
    for i, w in enumerate(W):
        result += "{:+.2f} x^{} ".format(w, i + 1)
    result += "{:+.2f}".format(b[0])
    return result


def get_batch(batch_size=32):
    """Builds a batch i.e. (x, f(x)) pair."""
    random = torch.randn(batch_size)
    x = make_features(random)
    y = f(x)
    return x, y


@jtorch.jit
def train_step(fc, optimizer, batch_x, batch_y):
    def loss_fn(fc):
        return F.smooth_l1_loss(fc(batch_x), batch_y)

    output, grads = jtorch.value_and_grad(loss_fn)(fc)
    optimizer.step(grads)
    return output


def main(max_batches=None):
    # Define model
    fc = torch.nn.Linear(W_target.size(0), 1)
    optimizer = torch.optim.SGD(fc.parameters(), lr=0.1)

    for batch_idx in count(1):
        if max_batches and batch_idx > max_batches:
            break
        # Get data
        batch_x, batch_y = get_batch()

        # Forward pass, backward pass, apply gradients
        output = train_step(fc, optimizer, batch_x, batch_y)
        loss = output.item()

        # Stop criterion
        if loss < 1e-3:
            break

    print("Loss: {:.6f} after {} batches".format(loss, batch_idx))
    print("==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias))
    print("==> Actual function:\t" + poly_desc(W_target.view(-1), b_target))


if __name__ == "__main__":
    main()
