"""PyTorch peer of whaleid's Siamese network (the method's branch CNN + 706-parameter head),
for bench/train.ts. Prints one JSON line: photos/s of training steps (forward + backward + Adam)
for each requested input size. Usage: python3 torch_siamese.py --sizes 192,384 --batch 16 --steps 3
[--warmup 1] [--device cpu|cuda] [--precision fp32|bf16] (on cuda each timed step ends with a
synchronize; bf16 is autocast on cuda or the cpu, the loss in float32).
"""
import argparse, contextlib, json, time
import torch
import torch.nn as nn

class Sub(nn.Module):
    def __init__(self, c, w):
        super().__init__()
        self.bn1, self.c1 = nn.BatchNorm2d(c, eps=1e-3), nn.Conv2d(c, w, 1)
        self.bn2, self.c2 = nn.BatchNorm2d(w, eps=1e-3), nn.Conv2d(w, w, 3, padding=1)
        self.bn3, self.c3 = nn.BatchNorm2d(w, eps=1e-3), nn.Conv2d(w, c, 1)
    def forward(self, x):
        x = self.bn1(x)
        y = torch.relu(self.c1(x))
        y = torch.relu(self.c2(self.bn2(y)))
        y = self.c3(self.bn3(y))
        return torch.relu(x + y)

class Branch(nn.Module):
    def __init__(self):
        super().__init__()
        L = [nn.Conv2d(1, 64, 9, stride=2, padding=4), nn.ReLU(), nn.MaxPool2d(2)]
        for _ in range(2): L += [nn.BatchNorm2d(64, eps=1e-3), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU()]
        c = 64
        for i, (ch, w) in enumerate([(128, 64), (256, 64), (384, 96), (512, 128)]):
            L += [nn.MaxPool2d(2), nn.BatchNorm2d(c, eps=1e-3), nn.Conv2d(c, ch, 1), nn.ReLU()]
            c = ch
            L += [Sub(c, w) for _ in range(4)]
        self.net = nn.Sequential(*L)
    def forward(self, x):
        return torch.amax(self.net(x), dim=(2, 3))

class Head(nn.Module):
    def __init__(self, f=512, m=32):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(4, m), nn.Linear(m, 1), nn.Linear(f, 1)
    def forward(self, a, b):
        d = (a - b).abs()
        x = torch.stack([a * b, a + b, d, d * d], dim=-1)
        y = self.l2(torch.relu(self.l1(x))).squeeze(-1)
        return torch.sigmoid(self.l3(y))

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default='192,384'); p.add_argument('--batch', type=int, default=16)
    p.add_argument('--steps', type=int, default=3); p.add_argument('--threads', type=int, default=2)
    p.add_argument('--warmup', type=int, default=1); p.add_argument('--device', default='cpu')
    p.add_argument('--precision', default='fp32', choices=['fp32', 'bf16'])
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    branch, head = Branch().to(dev), Head().to(dev)
    params = sum(x.numel() for x in branch.parameters()) + sum(x.numel() for x in branch.buffers() if x.dtype == torch.float32)
    opt = torch.optim.Adam(list(branch.parameters()) + list(head.parameters()), lr=64e-5)
    out = {'branch_params': params, 'torch': torch.__version__, 'threads': a.threads, 'device': a.device, 'precision': a.precision}
    bf16 = a.precision == 'bf16'
    for s in [int(v) for v in a.sizes.split(',')]:
        xa = torch.randn(a.batch, 1, s, s).to(dev, memory_format=torch.channels_last)
        xb = torch.randn(a.batch, 1, s, s).to(dev, memory_format=torch.channels_last)
        y = (torch.arange(a.batch) % 2).float().unsqueeze(1).to(dev)
        branch.to(memory_format=torch.channels_last)
        autocast = (lambda: torch.autocast(device_type=dev.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
        def step():
            opt.zero_grad()
            with autocast():
                p = head(branch(xa), branch(xb))
            loss = nn.functional.binary_cross_entropy(p.float(), y)
            loss.backward(); opt.step()
        for _ in range(a.warmup): step()
        sync()
        times = []
        for _ in range(a.steps):
            t = time.perf_counter(); step(); sync(); times.append(time.perf_counter() - t)
        times.sort()
        out[str(s)] = 2 * a.batch / times[len(times) // 2]
    print(json.dumps(out))

if __name__ == '__main__':
    main()
