"""PyTorch reference for `scripts/speed-deepsvdd.sh`: the same Deep SVDD fit as
`anomaly train --method deepsvdd` (MNIST one class, GCN-l1 + min-max, LeNet autoencoder
pre-training, centre from one forward pass, one-class training, Adam, batch 128, drop-last),
timed end to end from the raw arrays (reading the IDX files is not timed). Prints the fit's wall
seconds and the test AUROC. PyTorch CPU with the given number of threads."""
import argparse, gzip, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, rep=32):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, bias=False, padding=2)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-4, affine=False)
        self.conv2 = nn.Conv2d(8, 4, 5, bias=False, padding=2)
        self.bn2 = nn.BatchNorm2d(4, eps=1e-4, affine=False)
        self.fc1 = nn.Linear(4 * 7 * 7, rep, bias=False)

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.leaky_relu(self.bn2(self.conv2(x))), 2)
        return self.fc1(x.flatten(1))


class Autoencoder(nn.Module):
    def __init__(self, rep=32):
        super().__init__()
        self.encoder = Encoder(rep)
        self.deconv1 = nn.ConvTranspose2d(2, 4, 5, bias=False, padding=2)
        self.bn3 = nn.BatchNorm2d(4, eps=1e-4, affine=False)
        self.deconv2 = nn.ConvTranspose2d(4, 8, 5, bias=False, padding=3)
        self.bn4 = nn.BatchNorm2d(8, eps=1e-4, affine=False)
        self.deconv3 = nn.ConvTranspose2d(8, 1, 5, bias=False, padding=2)

    def forward(self, x):
        z = self.encoder(x).view(x.size(0), 2, 4, 4)
        x = F.interpolate(F.leaky_relu(z), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn3(self.deconv1(x))), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn4(self.deconv2(x))), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


def idx(path, offset):
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


def auroc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # average ranks of ties
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j + 2) / 2
        i = j + 1
    pos = labels.sum()
    return (ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(labels) - pos))


def learn_dictionary(x, seed, atoms=8, size=5, images=500, steps=1000, batch=10):
    """The Theano Deep SVDD code's first-layer initialisation: 8 atoms of a sparse dictionary
    (alpha 1) learned on 1,000 mini-batches of 10 standardised 5x5 patches of 500 images."""
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.feature_extraction.image import PatchExtractor
    rng = np.random.RandomState(seed)
    pick = rng.choice(len(x), images, replace=False)
    patches = PatchExtractor(patch_size=(size, size)).transform(x[pick, 0]).reshape(-1, size * size)
    patches = (patches - patches.mean(0)) / patches.std(0)
    learner = MiniBatchDictionaryLearning(n_components=atoms, alpha=1, batch_size=batch, random_state=seed)
    for _ in range(steps):
        learner.partial_fit(patches[rng.choice(len(patches), batch, replace=False)])
    return learner.components_.reshape(atoms, 1, size, size).astype(np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/mnist")
    p.add_argument("--normal-class", type=int, default=0)
    p.add_argument("--pretraining-epochs", type=int, default=30)
    p.add_argument("--training-epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pretraining-lr", type=float, default=1e-4)
    p.add_argument("--pretraining-milestone", type=int, default=None, help="x0.1 after this epoch")
    p.add_argument("--training-lr", type=float, default=1e-4)
    p.add_argument("--training-milestone", type=int, default=None, help="x0.1 after this epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dictionary-init", action="store_true",
                   help="first-layer filters from a sparse dictionary of 5x5 patches (the Theano code's weight_dict_init)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x = idx(f"{a.data}/train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    y = idx(f"{a.data}/train-labels-idx1-ubyte.gz", 8)
    xt = idx(f"{a.data}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    yt = idx(f"{a.data}/t10k-labels-idx1-ubyte.gz", 8)
    train = torch.from_numpy(x[y == a.normal_class].copy())
    test = torch.from_numpy(xt)

    start = time.perf_counter()

    def gcn(v):
        v = v - v.mean(dim=(1, 2, 3), keepdim=True)
        return v / v.abs().mean(dim=(1, 2, 3), keepdim=True)

    g = gcn(train)
    lo, hi = g.min(), g.max()
    scale = lambda v: (gcn(v) - lo) / (hi - lo)
    n = len(train)
    ae = Autoencoder()
    if a.dictionary_init:
        ae.encoder.conv1.weight.data = torch.from_numpy(learn_dictionary(scale(train).numpy(), a.seed))
    opt = torch.optim.Adam(ae.parameters(), lr=a.pretraining_lr, weight_decay=0.5e-3)
    ae.train()
    for epoch in range(a.pretraining_epochs):
        if epoch == a.pretraining_milestone:
            for group in opt.param_groups: group["lr"] *= 0.1
        perm = torch.randperm(n)
        for b in range(n // a.batch):
            xb = scale(train[perm[b * a.batch:(b + 1) * a.batch]])
            loss = ((ae(xb) - xb) ** 2).sum(dim=(1, 2, 3)).mean()
            opt.zero_grad(); loss.backward(); opt.step()
    net = Encoder()
    net.load_state_dict(ae.encoder.state_dict())
    net.eval()
    with torch.no_grad():
        c = torch.cat([net(scale(train[i:i + 256])) for i in range(0, n, 256)]).mean(0)
    c[(c.abs() < 0.1) & (c < 0)] = -0.1
    c[(c.abs() < 0.1) & (c > 0)] = 0.1
    opt = torch.optim.Adam(net.parameters(), lr=a.training_lr, weight_decay=0.5e-6)
    net.train()
    for epoch in range(a.training_epochs):
        if epoch == a.training_milestone:
            for group in opt.param_groups: group["lr"] *= 0.1
        perm = torch.randperm(n)
        for b in range(n // a.batch):
            xb = scale(train[perm[b * a.batch:(b + 1) * a.batch]])
            loss = ((net(xb) - c) ** 2).sum(1).mean()
            opt.zero_grad(); loss.backward(); opt.step()
    fit = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        scores = torch.cat([((net(scale(test[i:i + 256])) - c) ** 2).sum(1) for i in range(0, len(test), 256)]).numpy()
    print(f"torch fit {fit:.2f} s, test AUROC {auroc(scores, (yt != a.normal_class).astype(int)):.4f}")


if __name__ == "__main__":
    main()
