#!/usr/bin/env python3
"""PyTorch's dense softmax attention, forward + backward, one thread: the reference of issue 9's speed and
memory benchmark (tests/bench/diffuser_attention.sh). Same shapes as relfm_diffuser_attention: random q, k, v
of L x d split into H heads, loss sum(out * w). Prints one JSON line (median seconds, peak MB).

  /usr/bin/python3 tests/bench/torch_attention.py L [D=256] [HEADS=4] [REPS=3]
"""
import json
import resource
import sys
import time

import torch


def main():
    L = int(sys.argv[1])
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    heads = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    dh = d // heads
    q, k, v, w = (torch.randn(L, d, generator=g) for _ in range(4))
    q = q / dh ** 0.5
    times = []
    for _ in range(reps):
        qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))
        t0 = time.perf_counter()
        split = lambda t: t.view(L, heads, dh).transpose(0, 1)  # H x L x dh
        p = torch.softmax(split(qq) @ split(kk).transpose(1, 2), dim=-1)
        out = (p @ split(vv)).transpose(0, 1).reshape(L, d)
        (out * w).sum().backward()
        times.append(time.perf_counter() - t0)
    times.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"kind": "torch_dense", "L": L, "d": d, "heads": heads, "seconds": round(times[len(times) // 2], 4),
                      "peak_mb": round(peak, 1), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
