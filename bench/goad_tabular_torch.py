"""GOAD on tables, as the official code (lironber/GOAD: train_ad_tabular.py, opt_tc_tabular.py,
fcnet.py) runs it, in PyTorch, on the split of one of our run folders — the reference that our
GOAD's tabular results are compared with (README, "Tables: F1 under DROCC's protocol").

Conventions taken from METHODS.md §3.5 and the official code:
- z-score with the training rows' mean and std (std 0 -> 1), before the transformations;
- M random N(0, 1) matrices d x d_out, T_m(x) = x W_m, stacked as [N, d_out, M];
- netC1 (thyroid, arrhythmia): a bias-free 1x1 convolution d_out -> ndf (the trunk), head
  LeakyReLU(0.2) + 1x1 convolution ndf -> M with bias; netC5 (kdd, --deep): five bias-free 1x1
  convolutions with LeakyReLU(0.2) between them; Xavier-normal weights with gain sqrt(2);
- loss CE(head, m) + lambda * tc_loss(trunk, margin), Adam(lr, betas=(0.5, 0.999)), batch 64,
  shuffled each epoch, the last batch kept;
- the centres are the mean over the *training batches of the last epoch* of each batch's mean
  trunk output, taken while the weights change (the code's `sum_zs / n_batch`), not a pass
  over the training data after training;
- score(x) = -sum_m log softmax_m'(-max(||f(T_m x) - c_m'||^2, eps))[m].

Usage: python3 bench/goad_tabular_torch.py RUN_FOLDER DATA.csv[.gz] [--seeds 0-19] [--epochs 1]
       [--rotations 256] [--d-out 32] [--ndf 8] [--deep] [--centres after]
Prints per seed the last epoch's mean CE loss, the test AUROC and the F1 at the test anomaly
count (the DROCC/GOAD threshold), then the means; with RUN_FOLDER's scores.csv, ours too.
"""
import argparse
import csv
import math
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score

from tabular_split import f1_at_count, run_split, seed_range


def tc_loss(zs, margin):
    # zs: [B, M, ndf]; the official tc_loss.
    means = zs.mean(0).unsqueeze(0)
    res = ((zs.unsqueeze(2) - means.unsqueeze(1)) ** 2).sum(-1)
    pos = torch.diagonal(res, dim1=1, dim2=2)
    offset = torch.diagflat(torch.ones(zs.size(1))).unsqueeze(0) * 1e6
    neg = (res + offset).min(-1)[0]
    return torch.clamp(pos + margin - neg, min=0).mean()


def make_net(d_out, ndf, rotations, deep):
    layers = [nn.Conv1d(d_out, ndf, kernel_size=1, bias=False)]
    if deep:
        for _ in range(4):
            layers += [nn.LeakyReLU(0.2), nn.Conv1d(ndf, ndf, kernel_size=1, bias=False)]
    trunk = nn.Sequential(*layers)
    head = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv1d(ndf, rotations, kernel_size=1, bias=True))
    for module in list(trunk) + list(head):
        if isinstance(module, nn.Conv1d):
            nn.init.xavier_normal_(module.weight, gain=math.sqrt(2.0))
    return trunk, head


def run(seed, train, test, is_anomaly, a):
    np.random.seed(seed)
    torch.manual_seed(seed)
    d = train.shape[1]
    rots = np.random.randn(a.rotations, d, a.d_out)
    transform = lambda x: np.stack([x.dot(rot) for rot in rots], 2).astype(np.float32)  # [N, d_out, M]
    xs_train, xs_test = transform(train), transform(test)
    trunk, head = make_net(a.d_out, a.ndf, a.rotations, a.deep)
    params = list(trunk.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=a.lr, betas=(0.5, 0.999))
    ce = nn.CrossEntropyLoss()
    n = len(xs_train)
    for epoch in range(a.epochs):
        order = np.random.permutation(n)
        sum_zs = torch.zeros(a.ndf, a.rotations)
        batches, ce_total = 0, 0.0
        for start in range(0, n, a.batch):
            xb = torch.from_numpy(xs_train[order[start:start + a.batch]])
            labels = torch.arange(a.rotations).unsqueeze(0).expand(len(xb), a.rotations)
            optimizer.zero_grad()
            tc_zs = trunk(xb)                     # [B, ndf, M]
            logits = head(tc_zs)                  # [B, M classes, M positions]
            sum_zs = sum_zs + tc_zs.detach().mean(0)
            loss_ce = ce(logits, labels)
            loss = a.lmbda * tc_loss(tc_zs.permute(0, 2, 1), a.margin) + loss_ce
            loss.backward()
            optimizer.step()
            ce_total += float(loss_ce)
            batches += 1
        means = (sum_zs.t() / batches).unsqueeze(0)  # [1, M, ndf]
    with torch.no_grad():
        if a.centres == "after":
            means = trunk(torch.from_numpy(xs_train)).mean(0).t().unsqueeze(0)
        zs = trunk(torch.from_numpy(xs_test)).permute(0, 2, 1)  # [N, M, ndf]
        diffs = ((zs.unsqueeze(2) - means.unsqueeze(0)) ** 2).sum(-1).clamp(min=a.eps)  # [N, M, M']
        logp = torch.log_softmax(-diffs, dim=2)
        scores = -torch.diagonal(logp, 0, 1, 2).sum(1).numpy().astype(np.float64)
    return ce_total / batches, roc_auc_score(is_anomaly, scores), f1_at_count(scores, is_anomaly)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("data")
    p.add_argument("--seeds", default="0-19")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rotations", type=int, default=256)
    p.add_argument("--d-out", type=int, default=32)
    p.add_argument("--ndf", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lmbda", type=float, default=0.1)
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--eps", type=float, default=0.0)
    p.add_argument("--deep", action="store_true", help="netC5 (five layers) instead of netC1")
    p.add_argument("--centres", choices=["during", "after"], default="during",
                   help="during: the code's running batch means; after: one pass over the training rows")
    a = p.parse_args()
    torch.set_num_threads(1)
    seeds = seed_range(a.seeds)

    train, test, is_anomaly = run_split(a.run, a.data)
    mu, sd = train.mean(0), train.std(0)
    sd[sd == 0] = 1
    train, test = (train - mu) / sd, (test - mu) / sd

    results = []
    for seed in seeds:
        loss, auroc, f1 = run(seed, train, test, is_anomaly, a)
        results.append((loss, auroc, f1))
        print(f"seed {seed:3d}: CE {loss:.3f} (ln M = {math.log(a.rotations):.3f})  AUROC {auroc:.3f}  F1 {f1:.3f}")
    r = np.array(results)
    print(f"official conventions, {len(r)} seeds: CE {r[:, 0].mean():.3f}  AUROC {r[:, 1].mean():.3f} ± {r[:, 1].std():.3f}"
          f"  F1 {r[:, 2].mean():.3f} ± {r[:, 2].std():.3f}  (F1 range {r[:, 2].min():.3f}–{r[:, 2].max():.3f})")
    try:
        with open(f"{a.run}/scores.csv") as f:
            ours = np.array([float(row["score"]) for row in csv.DictReader(f)])
        print(f"ours ({a.run}): AUROC {roc_auc_score(is_anomaly, ours):.3f}  F1 {f1_at_count(ours, is_anomaly):.3f}")
    except (OSError, KeyError) as error:
        print(f"ours: not read ({error})", file=sys.stderr)


if __name__ == "__main__":
    main()
