#!/usr/bin/env python3
"""PyTorch (CPU) speed reference for one contrastive (CSI) training epoch.

Mirrors the Swift command `anomaly-bench epoch` (Sources/anomaly-bench/EpochBench.swift): N random
images in [0, 1) (fixed seed), shuffled, batches of B images (last incomplete batch dropped). Per
batch, CSI's view construction on tensors, vectorised over the batch with per-sample randomness
(METHODS §1.2, §1.4, as in CSI's `transform_layers.py`): two independently h-flipped copies (p 0.5)
-> the 4 rotations of each copy (row (v*4 + k)*B + b) -> `simclr_aug` on all 8B views: ColorJitter
(p 0.8; contrast c~U(0.6,1.4) and HSV jitter in random order per sample), RandomGrayscale (p 0.2),
RandomResizedCrop (scale (0.08, 1), ratio (3/4, 4/3)) as affine_grid + grid_sample (reflection).
Then CSI's step: encoder (CIFAR ResNet-20, or ResNet-18 with --arch resnet18) -> projector
(Linear-ReLU-Linear to 128) and shift head (Linear to 4); NT-Xent (tau 0.5, positive of row i is
(i + 4B) mod 8B) + rotation cross-entropy; Adam lr 1e-3; model in train mode.

Reported: the full epoch (augmentation + step per batch, all on the main thread, as CSI does on
its GPU), the bare step over pre-built augmented batches, and the augmentation alone (the time
to pre-build those batches). img/s counts source images: steps*B/seconds.

    python bench/torch_contrastive_epoch.py [--images 2048] [--batch 32] [--shape 3x32x32]
        [--arch resnet20|resnet18] [--threads 2] [--seed 0] [--json]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_models import BasicBlock  # the reference workloads' block (bench/torch_models.py)


# ---------------------------------------------------------------- augmentation (batched)

def contrast(x, c):  # c: [n]; c = 1 is the identity on [0, 1] data
    mean = x.mean(dim=(2, 3), keepdim=True)
    return torch.clamp((x - mean) * c.view(-1, 1, 1, 1) + mean, 0, 1)


def hsv_jitter(x, fh, fs, fv):
    """CSI's RandomHSVFunction: RGB -> HSV (atan2 hue), shift/scale, clamp, back to RGB."""
    fv = fv.view(-1, 1, 1)
    if x.shape[1] == 1:
        return torch.clamp(x * fv.unsqueeze(1), 0, 1)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    cmax, cmin = x.max(1)[0], x.min(1)[0]
    h = torch.atan2(math.sqrt(3) * (g - b), 2 * r - g - b) % (2 * math.pi) / (2 * math.pi)
    s = torch.nan_to_num((cmax - cmin) / cmax, nan=0.0, posinf=0.0, neginf=0.0)
    h = torch.clamp((h + fh.view(-1, 1, 1) * 255.0 / 360.0) % 1, 0, 1).unsqueeze(1)
    s = torch.clamp(s * fs.view(-1, 1, 1), 0, 1).unsqueeze(1)
    v = torch.clamp(cmax * fv, 0, 1).unsqueeze(1)
    k = (h.new_tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1) + h * 6) % 6
    return v - v * s * torch.clamp(torch.min(k, 4 - k), 0, 1)


def uniform(n, lo, hi):
    return torch.empty(n).uniform_(lo, hi)


def color_jitter(x, p=0.8, b=0.4, c=0.4, s=0.4, hue=0.1):
    n = x.shape[0]
    apply = torch.rand(n) < p
    first = torch.rand(n) < 0.5  # contrast before HSV (per sample)
    cf = uniform(n, 1 - c, 1 + c)
    one = torch.ones(n)
    y = contrast(x, torch.where(first, cf, one))
    y = hsv_jitter(y, uniform(n, -hue, hue), uniform(n, 1 - s, 1 + s), uniform(n, 1 - b, 1 + b))
    y = contrast(y, torch.where(first, one, cf))
    return torch.where(apply.view(-1, 1, 1, 1), y, x)


def random_grayscale(x, p=0.2):
    if x.shape[1] != 3:
        return x
    grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
    return torch.where((torch.rand(x.shape[0]) < p).view(-1, 1, 1, 1), grey, x)


def random_resized_crop(x, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), trials=10):
    n, _, H, W = x.shape
    area = torch.empty(n, trials).uniform_(*scale) * (H * W)
    aspect = torch.exp(torch.empty(n, trials).uniform_(math.log(ratio[0]), math.log(ratio[1])))
    w, h = torch.round(torch.sqrt(area * aspect)), torch.round(torch.sqrt(area / aspect))
    ok = (w > 0) & (w <= W) & (h > 0) & (h <= H)
    pick = ok.int().argmax(1, keepdim=True)  # first trial that fits
    found = ok.any(1)
    w = torch.where(found, w.gather(1, pick).squeeze(1), torch.tensor(float(W)))
    h = torch.where(found, h.gather(1, pick).squeeze(1), torch.tensor(float(H)))
    ox = torch.floor(torch.rand(n) * (2 * (W - w) + 1)) + (w - W)  # integer in [w-W, W-w]
    oy = torch.floor(torch.rand(n) * (2 * (H - h) + 1)) + (h - H)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w / W, ox / W
    theta[:, 1, 1], theta[:, 1, 2] = h / H, oy / H
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def csi_views(x):
    """[B,C,H,W] -> [8B,C,H,W]: 2 h-flipped copies x 4 rotations, then simclr_aug."""
    copies = [torch.where((torch.rand(x.shape[0]) < 0.5).view(-1, 1, 1, 1), x.flip(3), x) for _ in range(2)]
    views = torch.cat([torch.rot90(c, k, (2, 3)) for c in copies for k in range(4)])
    return random_resized_crop(random_grayscale(color_jitter(views)))


# ---------------------------------------------------------------- network

class CSINet(nn.Module):
    def __init__(self, blocks, widths, channels):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, (count, width) in enumerate(zip(blocks, widths)):
            for j in range(count):
                layers.append(BasicBlock(cin, width, 2 if i > 0 and j == 0 else 1))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.projector = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(), nn.Linear(cin, 128))
        self.shift = nn.Linear(cin, 4)

    def forward(self, x):
        h = self.layers(self.stem((x - 0.5) * 2)).mean(dim=(2, 3))
        return self.projector(h), self.shift(h)


ARCHS = {"resnet20": ([3, 3, 3], [16, 32, 64]), "resnet18": ([2, 2, 2, 2], [64, 128, 256, 512])}


def nt_xent(z, tau=0.5):
    z = F.normalize(z, dim=1)
    n = z.shape[0]
    sim = (z @ z.t() / tau).masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(sim, (torch.arange(n) + n // 2) % n)


# ---------------------------------------------------------------- benchmark

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--shape", default="3x32x32", help="CxHxW (C = 1 or 3, H = W)")
    ap.add_argument("--arch", choices=sorted(ARCHS), default="resnet20")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print exactly one JSON line")
    a = ap.parse_args()
    shape = [int(s) for s in a.shape.lower().split("x")]
    assert len(shape) == 3 and shape[0] in (1, 3) and shape[1] == shape[2], f"bad --shape {a.shape}"
    B, steps = a.batch, a.images // a.batch
    assert steps >= 1, "--images must be at least --batch"
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = torch.rand([a.images] + shape, generator=torch.Generator().manual_seed(a.seed))
    model = CSINet(*ARCHS[a.arch], shape[0]).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    labels = (torch.arange(8 * B) // B) % 4

    def step(views):
        opt.zero_grad(set_to_none=True)
        z, logits = model(views)
        (nt_xent(z) + F.cross_entropy(logits, labels)).backward()
        opt.step()

    def batches():
        order = torch.randperm(a.images)
        return (data[order[i * B:(i + 1) * B]] for i in range(steps))

    with torch.no_grad():
        warm = csi_views(data[:B])
    step(warm)  # warm-up
    t0 = time.perf_counter()
    with torch.no_grad():
        prebuilt = [csi_views(x) for x in batches()]
    augmentation = time.perf_counter() - t0
    t0 = time.perf_counter()
    for views in prebuilt:
        step(views)
    bare = time.perf_counter() - t0
    del prebuilt
    t0 = time.perf_counter()
    for x in batches():
        with torch.no_grad():
            views = csi_views(x)
        step(views)
    full = time.perf_counter() - t0

    rate = lambda t: steps * B / t
    if a.json:
        print(json.dumps({"workload": "csi_epoch", "arch": a.arch, "images": a.images, "batch": B,
                          "threads": a.threads, "full_img_per_s": round(rate(full), 2),
                          "bare_img_per_s": round(rate(bare), 2), "augmentation_s": round(augmentation, 4),
                          "epoch_s": round(full, 4)}))
        return
    print(f"Contrastive epoch, PyTorch {torch.__version__} CPU (CSI on {a.arch}, {a.images} images of "
          f"{'×'.join(map(str, shape))}, {B} images = {8 * B} views per step, Adam), {a.threads} threads")
    print(f"bare step   {rate(bare):8.1f} img/s  ({bare:.2f} s for {steps} steps)")
    print(f"full epoch  {rate(full):8.1f} img/s  ({full:.2f} s): {bare / full:.2f}× the bare step")
    print(f"augmentation alone, on the calling thread: {augmentation:.2f} s per epoch")


if __name__ == "__main__":
    main()
