"""The CIFAR-10 anchor for the paper's LeNet-5 (issue #17): the benchmark preset's recipe run in
PyTorch, to compare our clean accuracy against. BioTorch's published CIFAR-10 numbers are for
another network (its "LeNet" there has 3x3 convs of 32/64/128 channels), so they do not apply.

The recipe, as the repro app's `benchmark` preset trains: LeNet-5 (5x5 convs of 6, 16 and 120
channels, 'valid', ReLU, max pooling, fc 84, fc 10; PyTorch's default init, FA's B
Xavier-uniform), Adam lr 1e-3 with a cosine schedule stepped per epoch (CosineAnnealingLR,
T_max = epochs), batch 64, all 50,000 training images shuffled every epoch, pixels in [0, 1]
(no normalisation, no augmentation), evaluated on the official 10,000 test images.

    /usr/bin/python3 cifar_anchor.py --data $FA_ROBUST_DATA_DIR/cifar10/cifar-10-batches-bin \
        --rules bp,fa --seeds 1,2,3 --epochs 10 --out out/cifar-anchor.json

Prints one JSON line per epoch and writes every run (per-epoch loss, train and test accuracy,
seconds) to --out.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_reference import lenet


def load(folder, names):
    xs, ys = [], []
    for n in names:
        raw = np.fromfile(os.path.join(folder, n), dtype=np.uint8).reshape(-1, 3073)
        ys.append(raw[:, 0].astype(np.int64))
        xs.append(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return correct / len(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="the cifar-10-batches-bin folder")
    ap.add_argument("--rules", default="bp,fa")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="out/cifar-anchor.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr = load(a.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = load(a.data, ["test_batch.bin"])
    runs = []
    for rule in a.rules.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            torch.manual_seed(seed)
            model = lenet(3, 32, rule, 0)
            opt = torch.optim.Adam(model.parameters(), a.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
            g = torch.Generator().manual_seed(seed)
            history = []
            for epoch in range(1, a.epochs + 1):
                t = time.perf_counter()
                order = torch.randperm(len(ytr), generator=g)
                loss_sum, correct = 0.0, 0
                lr = opt.param_groups[0]["lr"]
                for i in range(0, len(ytr), a.batch):
                    idx = order[i:i + a.batch]
                    xb, yb = xtr[idx], ytr[idx]
                    opt.zero_grad()
                    logits = model(xb)
                    loss = F.cross_entropy(logits, yb)
                    loss.backward()
                    opt.step()
                    loss_sum += loss.item() * len(yb)
                    correct += (logits.argmax(1) == yb).sum().item()
                sched.step()
                e = {
                    "rule": rule, "seed": seed, "epoch": epoch, "lr": lr,
                    "loss": loss_sum / len(ytr), "trainAccuracy": correct / len(ytr),
                    "testAccuracy": accuracy(model, xte, yte),
                    "seconds": round(time.perf_counter() - t, 1),
                }
                history.append(e)
                print(json.dumps(e), flush=True)
            runs.append({"rule": rule, "seed": seed, "testAccuracy": history[-1]["testAccuracy"],
                         "history": history})
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"torch": torch.__version__, "threads": a.threads, "recipe": {
            "optimizer": "adam", "lr": a.lr, "schedule": "cosine (CosineAnnealingLR, T_max = epochs)",
            "epochs": a.epochs, "batch": a.batch, "init": "pytorch default; B xavier-uniform",
            "data": "all 50,000 training images, [0, 1] pixels, no augmentation",
        }, "runs": runs}, f, indent=1)
    for rule in a.rules.split(","):
        accs = [r["testAccuracy"] for r in runs if r["rule"] == rule]
        print(f"{rule}: test accuracy {', '.join(f'{100 * v:.2f}%' for v in accs)}; "
              f"mean {100 * sum(accs) / len(accs):.2f}%", flush=True)


if __name__ == "__main__":
    main()
