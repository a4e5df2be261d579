"""PyTorch peer of bench/train.ts's convolution ceiling: the forward pass of every convolution of
the branch CNN alone, with the shapes read from stdin as JSON lines
{"n","h","w","cin","cout","k","stride","pad"} (pad 'same' or 'valid'). Prints one JSON line with the
median seconds of one pass over all of them. Usage: python3 torch_convs.py --threads 2 --steps 3 < shapes
"""
import argparse, json, sys, time
import torch
import torch.nn.functional as F

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, default=2); p.add_argument('--steps', type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    work = []
    for line in sys.stdin:
        if not line.strip(): continue
        s = json.loads(line)
        x = torch.randn(s['n'], s['cin'], s['h'], s['w']).to(memory_format=torch.channels_last)
        w = torch.randn(s['cout'], s['cin'], s['k'], s['k']).to(memory_format=torch.channels_last)
        pad = s['k'] // 2 if s['pad'] == 'same' else 0
        work.append((x, w, s['stride'], pad))
    def once():
        with torch.no_grad():
            for x, w, st, pad in work: F.conv2d(x, w, stride=st, padding=pad)
    once()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter(); once(); times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({'seconds': times[len(times) // 2], 'convs': len(work), 'threads': a.threads}))

if __name__ == '__main__':
    main()
