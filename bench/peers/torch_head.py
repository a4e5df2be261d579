"""PyTorch peer of whaleid's score matrix: the 706-parameter head written the obvious way
(gather the two rows of each pair, stack [a*b, a+b, |a-b|, (a-b)^2], Linear 4->32 relu, Linear
32->1, Linear F->1, sigmoid) on batches of upper-triangle pairs, for bench/score.ts.

Usage: python3 torch_head.py --features f.bin --weights w.json --n 1000 --seconds 10 --threads 2
Scores pairs (i, j >= i) in row order until --seconds have passed (the triangle of n = 4,000 takes
~10 minutes this way), then prints one JSON line: pairs, seconds, pairs_per_s and row 0's scores
(to check against whaleid's kernel).
"""
import argparse, json, time
import numpy as np
import torch
import torch.nn as nn


class Head(nn.Module):
    def __init__(self, f, m):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(4, m), nn.Linear(m, 1), nn.Linear(f, 1)

    def forward(self, a, b):
        d = (a - b).abs()
        x = torch.stack([a * b, a + b, d, d * d], dim=-1)
        y = self.l2(torch.relu(self.l1(x))).squeeze(-1)
        return torch.sigmoid(self.l3(y)).squeeze(-1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--features', required=True); p.add_argument('--weights', required=True)
    p.add_argument('--n', type=int, required=True); p.add_argument('--seconds', type=float, default=10)
    p.add_argument('--threads', type=int, default=2); p.add_argument('--batch', type=int, default=4096)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    w = json.load(open(a.weights))
    F, M = w['features'], w['mid']
    head = Head(F, M)
    with torch.no_grad():
        head.l1.weight.copy_(torch.tensor(w['w1'], dtype=torch.float32).reshape(4, M).t())
        head.l1.bias.copy_(torch.tensor(w['b1'], dtype=torch.float32))
        head.l2.weight.copy_(torch.tensor(w['w2'], dtype=torch.float32).reshape(1, M))
        head.l2.bias.fill_(w['b2'])
        head.l3.weight.copy_(torch.tensor(w['w3'], dtype=torch.float32).reshape(1, F))
        head.l3.bias.fill_(w['b3'])
    X = torch.from_numpy(np.fromfile(a.features, dtype=np.float32).reshape(a.n, F).copy())
    ia, ib = torch.triu_indices(a.n, a.n)
    row0 = None
    done = 0
    with torch.no_grad():
        head(X[:8], X[:8])  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        while done < ia.numel() and (time.perf_counter() - t0 < a.seconds or row0 is None):
            s = slice(done, min(done + a.batch, ia.numel()))
            out = head(X[ia[s]], X[ib[s]])
            if row0 is None:
                row0 = out[: a.n].tolist()
            done = s.stop
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({'torch': torch.__version__, 'threads': a.threads, 'batch': a.batch, 'pairs': done, 'seconds': dt, 'pairs_per_s': done / dt, 'pairs_per_cpu_s': done / cpu, 'row0': row0}))


if __name__ == '__main__':
    main()
