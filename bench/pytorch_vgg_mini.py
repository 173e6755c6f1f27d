#!/usr/bin/python3
"""The same vgg-mini and training as `edge-server train --local`, in PyTorch
1.13 (Debian's python3-torch), for the comparison in BENCHMARKS.md only:
codedge never depends on it. Same architecture, batch 50, SGD lr 0.01,
momentum 0.9, weight decay 5e-4 (weights and biases alike here), He-normal
init, 2 threads, one epoch of Fashion-MNIST from dataset-fashion-mnist; the
learning rate decays to zero in a straight line over the run (edge-server's
default --lr_schedule linear; --lr_schedule constant keeps it).

  /usr/bin/python3 bench/pytorch_vgg_mini.py [--batches N] [--lr_schedule linear|cosine|constant] [--seed S]
"""
import argparse, gzip, math, struct, time
import numpy as np
import torch
import torch.nn as nn

D = "/usr/share/datasets/fashion-mnist"

def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        h, w = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, h, w).astype(np.float32) / 255.0
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=0)
    ap.add_argument("--lr_schedule", choices=["constant", "linear", "cosine"], default="linear")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    xtr, ytr = torch.from_numpy(idx(f"{D}/train-images-idx3-ubyte.gz")), torch.from_numpy(idx(f"{D}/train-labels-idx1-ubyte.gz"))
    xte, yte = torch.from_numpy(idx(f"{D}/t10k-images-idx3-ubyte.gz")), torch.from_numpy(idx(f"{D}/t10k-labels-idx1-ubyte.gz"))
    c = lambda i, o: nn.Conv2d(i, o, 3, padding=1)
    m = nn.Sequential(c(1, 16), nn.ReLU(), c(16, 16), nn.ReLU(), nn.MaxPool2d(2),
                      c(16, 32), nn.ReLU(), c(32, 32), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))
    for p in m.modules():
        if isinstance(p, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(p.weight)
            nn.init.zeros_(p.bias)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(ytr))
    nb = len(ytr) // 50 if a.batches == 0 else a.batches
    t0 = time.time()
    for b in range(nb):
        i = order[b * 50:(b + 1) * 50]
        f = b / nb
        lr = {"constant": 0.01, "linear": 0.01 * (1 - f), "cosine": 0.005 * (1 + math.cos(math.pi * f))}[a.lr_schedule]
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss = loss_fn(m(xtr[i]), ytr[i])
        loss.backward()
        opt.step()
    t = time.time() - t0
    with torch.no_grad():
        acc = (m(xte).argmax(1) == yte).float().mean().item()
    print(f"pytorch {torch.__version__} ({a.lr_schedule} lr, seed {a.seed}): {nb} batches in {t:.1f} s ({1e3 * t / nb:.1f} ms/batch), test accuracy {100 * acc:.2f}%")

if __name__ == "__main__":
    main()
