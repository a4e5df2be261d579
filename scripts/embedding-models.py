#!/usr/bin/env python3
"""Small embedding networks of the three families users bring, exported by PyTorch to ONNX.

whaleid imports embedding models it did not write (`whaleid model import --onnx FILE`). To prove
that its ONNX Runtime features equal PyTorch's, this script builds one net of each family with
random weights (fixed seed), exports it with torch.onnx.export, and later runs the same nets in
PyTorch on input tensors that whaleid preprocessed from real photos:

- resnet: a ResNet (basic blocks, batch norm with non-trivial running statistics, a strided 1x1
  shortcut, max pooling, global average pooling);
- vit: a small vision transformer (patch embedding, class token, position embedding, multi-head
  self-attention, LayerNorm, GELU MLP);
- effnet: an EfficientNet-style net (SiLU, depthwise convolutions, squeeze-and-excitation,
  inverted residual blocks).

Usage (Debian's python3-torch; no other package):

    python3 scripts/embedding-models.py export DIR
        writes DIR/<name>.onnx for each net, DIR/<name>.pt (its weights, so that `embed` runs the
        very same net) and DIR/models.json (input size, mean, std of each)
    python3 scripts/embedding-models.py embed DIR
        for each DIR/<name>.input.f32 (float32 NCHW, little-endian, the count in
        DIR/<name>.input.json), writes DIR/<name>.torch.f32: the net's raw embeddings, N x D

The committed fixtures in test/fixtures/embedding-models were made by
`python3 scripts/embedding-models.py export test/fixtures/embedding-models` (the .pt files were
then removed: the tests export their own copy).
"""
import json
import os
import sys

import torch
from torch import nn

SEED = 2024
EMBEDDING = 64


def random_batch_norm(bn):
    """Batch norm in eval mode with random running statistics, so that exporting it is tested."""
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.7, 1.3)
        bn.bias.uniform_(-0.1, 0.1)
    return bn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = random_batch_norm(nn.BatchNorm2d(cout))
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = random_batch_norm(nn.BatchNorm2d(cout))
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), random_batch_norm(nn.BatchNorm2d(cout)))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), random_batch_norm(nn.BatchNorm2d(16)), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 48, 2))
        self.fc = nn.Linear(48, EMBEDDING)

    def forward(self, x):
        y = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax((q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5, dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(n, t, d))


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, size=48, patch=8, dim=48, heads=3, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, EMBEDDING)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.uniform_(0.7, 1.3)
                    m.bias.uniform_(-0.1, 0.1)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


class SqueezeExcite(nn.Module):
    def __init__(self, ch, squeezed):
        super().__init__()
        self.reduce = nn.Conv2d(ch, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, ch, 1)

    def forward(self, x):
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.expand(nn.functional.silu(self.reduce(s))))


class MBConv(nn.Module):
    def __init__(self, cin, cout, stride, expand=4):
        super().__init__()
        mid = cin * expand
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), random_batch_norm(nn.BatchNorm2d(mid)), nn.SiLU(),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), random_batch_norm(nn.BatchNorm2d(mid)), nn.SiLU(),
            SqueezeExcite(mid, max(1, cin // 4)),
            nn.Conv2d(mid, cout, 1, bias=False), random_batch_norm(nn.BatchNorm2d(cout)),
        )

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class EffNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), random_batch_norm(nn.BatchNorm2d(16)), nn.SiLU())
        self.blocks = nn.Sequential(MBConv(16, 16, 1), MBConv(16, 24, 2), MBConv(24, 24, 1), MBConv(24, 40, 2))
        self.top = nn.Sequential(nn.Conv2d(40, 96, 1, bias=False), random_batch_norm(nn.BatchNorm2d(96)), nn.SiLU())
        self.fc = nn.Linear(96, EMBEDDING)

    def forward(self, x):
        y = self.top(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


# name -> (constructor, input side, preprocessing the net is meant for)
IMAGENET = {'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]}
MODELS = {
    'resnet': (ResNet, 64, {**IMAGENET, 'channels': 'rgb', 'resize': 'crop'}),
    'vit': (ViT, 48, {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5], 'channels': 'rgb', 'resize': 'squash'}),
    'effnet': (EffNet, 56, {**IMAGENET, 'channels': 'bgr', 'resize': 'pad'}),
}


def spread_weights(net):
    """He-normal convolutions and linear layers without bias: PyTorch's default initialisation
    shrinks the signal layer after layer, and a deep random net then gives nearly the same
    embedding for every photo (its biases), which would make a parity check blind to the input."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                if m.bias is not None:
                    m.bias.zero_()
    return net


def export(out):
    os.makedirs(out, exist_ok=True)
    info = {}
    for index, (name, (make, size, pre)) in enumerate(MODELS.items()):
        torch.manual_seed(SEED + index)
        net = spread_weights(make()).eval()
        torch.save(net.state_dict(), os.path.join(out, f'{name}.pt'))
        dummy = torch.randn(2, 3, size, size)
        torch.onnx.export(
            net, dummy, os.path.join(out, f'{name}.onnx'), input_names=['input'], output_names=['embedding'],
            dynamic_axes={'input': {0: 'batch'}, 'embedding': {0: 'batch'}}, opset_version=17, do_constant_folding=True,
        )
        info[name] = {'inputSize': size, **pre, 'torch': torch.__version__}
    with open(os.path.join(out, 'models.json'), 'w') as f:
        json.dump(info, f, indent=2)


def embed(out):
    torch.set_num_threads(1)
    for name, (make, size, _) in MODELS.items():
        inputs = os.path.join(out, f'{name}.input.f32')
        if not os.path.exists(inputs):
            continue
        with open(os.path.join(out, f'{name}.input.json')) as f:
            count = json.load(f)['count']
        net = make().eval()
        net.load_state_dict(torch.load(os.path.join(out, f'{name}.pt')))
        with open(inputs, 'rb') as f:
            x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(count, 3, size, size)
        with torch.no_grad():
            y = net(x).contiguous()
        with open(os.path.join(out, f'{name}.torch.f32'), 'wb') as f:
            f.write(y.numpy().astype('<f4').tobytes())


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('export', 'embed'):
        sys.exit('usage: embedding-models.py export|embed DIR')
    (export if sys.argv[1] == 'export' else embed)(sys.argv[2])
