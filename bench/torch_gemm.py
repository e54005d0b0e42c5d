#!/usr/bin/env python3
"""PyTorch sgemm GFLOP/s for the GEMM shapes of WORKLOADS.md (C = A·B, row-major M×K · K×N).
Usage: python3 torch_gemm.py [--threads 2] [--seconds 1] [--json]"""
import argparse, json, time
import torch

SHAPES = [("square256", 256, 256, 256), ("square512", 512, 512, 512), ("square1024", 1024, 1024, 1024),
          ("square2048", 2048, 2048, 2048), ("stem", 64, 27, 32768), ("layer1", 64, 576, 32768),
          ("layer2", 128, 1152, 8192), ("layer3", 256, 2304, 2048), ("layer4", 512, 4608, 512),
          ("layer1_wgrad", 64, 32768, 576), ("layer1_igrad", 576, 64, 32768)]

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name, m, k, n in SHAPES:
        x, y = torch.rand(m, k), torch.rand(k, n)
        out = torch.empty(m, n)
        for _ in range(2):
            torch.mm(x, y, out=out)
        times, t0 = [], time.perf_counter()
        while time.perf_counter() - t0 < a.seconds or len(times) < 3:
            s = time.perf_counter(); torch.mm(x, y, out=out); times.append(time.perf_counter() - s)
        times.sort()
        gflops = 2 * m * n * k / times[len(times) // 2] / 1e9
        r = {"shape": name, "m": m, "k": k, "n": n, "gflops": gflops, "threads": a.threads}
        print(json.dumps(r) if a.json else f"{name:14s} {m}x{k}x{n}  {gflops:7.1f} GFLOP/s", flush=True)
