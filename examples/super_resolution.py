"""pytorch/examples super_resolution (model.py and main.py in one file), ported to jtorch:
the sub-pixel CNN (four convolutions, orthogonal init, PixelShuffle) trained with Adam and MSE to
enlarge images, on Digits (8x8 input, its bilinear 16x16 enlargement as target) instead of
BSDS300.

Changes to the original: the imports; the step (`optimizer.zero_grad(); loss = criterion(...);
loss.backward(); optimizer.step()` becomes a compiled `train_step`); the data
(`get_training_set`/`get_test_set` build Digits pairs instead of downloading BSDS300); the script
body moves into `main(argv=None)` (indented; `parse_args(argv)`, `--upscale_factor` defaults to
2, `--out` for the checkpoints: 4 lines). `torch.save(model, path)` writes a directory, not a
.pth file. Lines changed beyond imports and the step: 0 (4 for test access, the data loaders).

Run: python examples/super_resolution.py --nEpochs 1
"""

# ruff: noqa: UP032  (the original's str.format calls are kept)
import argparse
import os
from math import log10

import jtorch
import jtorch as torch
import jtorch.nn as nn
import jtorch.nn.init as init
import jtorch.optim as optim
from jtorch.utils.data import DataLoader
from jtorch.vision import datasets, transforms


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()

        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor**2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv4.weight)


def _pairs(train, upscale_factor):
    """(low-resolution input, high-resolution target) pairs from Digits: the 8x8 digit is the
    input, its `upscale_factor`-times bicubic-free (bilinear) enlargement the target."""
    digits = datasets.Digits(train=train)
    up = transforms.Resize(8 * upscale_factor)
    x = jtorch.tensor(digits.data)
    return jtorch.utils.data.TensorDataset(x, jtorch.stack([up(img) for img in x]))


@jtorch.jit
def train_step(model, optimizer, criterion, input, target):
    def loss_fn(model):
        return criterion(model(input), target)

    loss, grads = jtorch.value_and_grad(loss_fn)(model)
    optimizer.step(grads)
    return loss


def get_training_set(upscale_factor):
    return _pairs(True, upscale_factor)


def get_test_set(upscale_factor):
    return _pairs(False, upscale_factor)


def main(argv=None):

    # Training settings
    parser = argparse.ArgumentParser(description="PyTorch Super Res Example")
    parser.add_argument(
        "--upscale_factor", type=int, default=2, help="super resolution upscale factor"
    )
    parser.add_argument("--batchSize", type=int, default=64, help="training batch size")
    parser.add_argument("--testBatchSize", type=int, default=10, help="testing batch size")
    parser.add_argument("--nEpochs", type=int, default=2, help="number of epochs to train for")
    parser.add_argument("--lr", type=float, default=0.01, help="Learning Rate. Default=0.01")
    parser.add_argument(
        "--accel", action="store_true", help="Enables acceleration for training, if available"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="number of threads for data loader to use"
    )
    parser.add_argument("--out", default=".", help="where checkpoints go")
    parser.add_argument("--seed", type=int, default=123, help="random seed to use. Default=123")
    opt = parser.parse_args(argv)

    print(opt)

    torch.manual_seed(opt.seed)

    if opt.accel and torch.accelerator.is_available():
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    print("===> Loading datasets")
    train_set = get_training_set(opt.upscale_factor)
    test_set = get_test_set(opt.upscale_factor)
    training_data_loader = DataLoader(
        dataset=train_set, num_workers=opt.threads, batch_size=opt.batchSize, shuffle=True
    )
    testing_data_loader = DataLoader(
        dataset=test_set, num_workers=opt.threads, batch_size=opt.testBatchSize, shuffle=False
    )

    print("===> Building model")
    model = Net(upscale_factor=opt.upscale_factor).to(device)
    criterion = nn.MSELoss()

    optimizer = optim.Adam(model.parameters(), lr=opt.lr)

    def train(epoch):
        epoch_loss = 0
        for iteration, batch in enumerate(training_data_loader, 1):
            input, target = batch[0].to(device), batch[1].to(device)

            loss = train_step(model, optimizer, criterion, input, target)
            epoch_loss += loss.item()

            print(
                "===> Epoch[{}]({}/{}): Loss: {:.4f}".format(
                    epoch, iteration, len(training_data_loader), loss.item()
                )
            )

        print(
            "===> Epoch {} Complete: Avg. Loss: {:.4f}".format(
                epoch, epoch_loss / len(training_data_loader)
            )
        )

    def test():
        avg_psnr = 0
        with torch.no_grad():
            for batch in testing_data_loader:
                input, target = batch[0].to(device), batch[1].to(device)

                prediction = model(input)
                mse = criterion(prediction, target)
                psnr = 10 * log10(1 / mse.item())
                avg_psnr += psnr
        print("===> Avg. PSNR: {:.4f} dB".format(avg_psnr / len(testing_data_loader)))

    def checkpoint(epoch):
        model_out_path = os.path.join(opt.out, "model_epoch_{}".format(epoch))
        torch.save(model, model_out_path)  # a directory of arrays
        print("Checkpoint saved to {}".format(model_out_path))

    for epoch in range(1, opt.nEpochs + 1):
        train(epoch)
        test()
        checkpoint(epoch)


if __name__ == "__main__":
    main()
