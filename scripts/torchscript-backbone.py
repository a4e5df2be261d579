#!/usr/bin/env python3
"""A small TorchScript backbone for whaleid's tests of `whaleid train --backbone FILE.pt`.

It stands for what users bring (torch.jit.trace or torch.jit.script of a timm or torchvision
model): convolutions, BatchNorm with running statistics, ReLU, dropout (drawn from libtorch's
generator, which whaleid seeds per step), global average pooling and a linear embedding. Small
random weights from a fixed seed; written by torch.jit.script so its train/eval modes stay live.

Usage (Debian's python3-torch; no other package):

    python3 scripts/torchscript-backbone.py OUT.pt [--seed N] [--features D]
"""
import argparse

import torch
from torch import nn


class Backbone(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.drop = nn.Dropout(0.1)
        self.embed = nn.Linear(16, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(self.stem(x)).mean(dim=(2, 3))
        return self.embed(self.drop(y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--features', type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.jit.script(Backbone(args.features)).save(args.out)


if __name__ == '__main__':
    main()
