"""Model zoo: LeNet, AlexNet, VGG and ResNet with torch/torchvision layer names."""

from jtorch.vision.models.alexnet import AlexNet, alexnet, alexnet_small
from jtorch.vision.models.lenet import LeNet, lenet
from jtorch.vision.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from jtorch.vision.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg16, vgg16_bn, vgg19

__all__ = [
    "LeNet",
    "lenet",
    "AlexNet",
    "alexnet",
    "alexnet_small",
    "VGG",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
]
