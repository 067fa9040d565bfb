"""PyTorch reference for `pnpm bench`: the same LeNet, batch size, data shapes and thread
count as the tfjs benchmark, trained with backprop (BP) or feedback alignment (FA).

FA is implemented the way BioTorch does it: the forward pass is the ordinary layer, the
backward pass sends the error to the layer below through a fixed random matrix B (same shape
as W, Xavier-initialised) while the weight gradient stays the true one.

Prints one JSON object per measurement on stdout:
  {"task": "train", "dataset": "mnist", "feedback": "fa", "images_per_s": 3120.5, ...}
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class FALinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, B):
        ctx.save_for_backward(x, w, B)
        return F.linear(x, w, b)

    @staticmethod
    def backward(ctx, dy):
        x, w, B = ctx.saved_tensors
        return dy.mm(B), dy.t().mm(x), dy.sum(0), None


class FAConv2dFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, B, padding):
        ctx.save_for_backward(x, w, B)
        ctx.padding = padding
        return F.conv2d(x, w, b, padding=padding)

    @staticmethod
    def backward(ctx, dy):
        x, w, B = ctx.saved_tensors
        p = ctx.padding
        dx = torch.nn.grad.conv2d_input(x.shape, B, dy, padding=p) if ctx.needs_input_grad[0] else None
        dw = torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=p)
        return dx, dw, dy.sum((0, 2, 3)), None, None


class FALinear(nn.Linear):
    def __init__(self, i, o):
        super().__init__(i, o)
        self.register_buffer("B", nn.init.xavier_uniform_(torch.empty(o, i)))

    def forward(self, x):
        return FALinearFn.apply(x, self.weight, self.bias, self.B)


class FAConv2d(nn.Conv2d):
    def __init__(self, i, o, k, padding=0):
        super().__init__(i, o, k, padding=padding)
        self.register_buffer("B", nn.init.xavier_uniform_(torch.empty(o, i, k, k)))

    def forward(self, x):
        return FAConv2dFn.apply(x, self.weight, self.bias, self.B, self.padding)


def lenet(channels, size, feedback, first_padding):
    conv = nn.Conv2d if feedback == "bp" else FAConv2d
    lin = nn.Linear if feedback == "bp" else FALinear
    # conv5x5(6)-relu-maxpool-conv5x5(16)-relu-maxpool-conv5x5(120)-relu-fc84-relu-fc10
    s = (size + 2 * first_padding - 4) // 2  # after conv1 + pool
    s = (s - 4) // 2  # after conv2 + pool
    s = s - 4  # after conv3
    return nn.Sequential(
        conv(channels, 6, 5, padding=first_padding), nn.ReLU(), nn.MaxPool2d(2),
        conv(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        conv(16, 120, 5), nn.ReLU(), nn.Flatten(),
        lin(120 * s * s, 84), nn.ReLU(), lin(84, 10),
    )


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--tasks", default="train,inputgrad")
    ap.add_argument("--datasets", default="mnist,cifar10")
    ap.add_argument("--feedbacks", default="bp,fa")
    ap.add_argument("--mnist-first-padding", type=int, default=2)
    ap.add_argument("--bim-images", type=int, default=10000)
    ap.add_argument("--bim-batch", type=int, default=500)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    shapes = {"mnist": (1, 28, a.mnist_first_padding), "cifar10": (3, 32, 0)}
    for dataset in a.datasets.split(","):
        c, size, pad = shapes[dataset]
        for feedback in a.feedbacks.split(","):
            model = lenet(c, size, feedback, pad)
            x = torch.rand(a.batch, c, size, size)
            y = torch.randint(0, 10, (a.batch,))
            tasks = a.tasks.split(",")
            if "train" in tasks:
                opt = torch.optim.Adam(model.parameters(), 1e-3)

                def step():
                    opt.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    opt.step()

                s = timed(step, 5, a.steps)
                emit("train", dataset, feedback, a, a.steps * a.batch / s)
            if "inputgrad" in tasks:
                def grad():
                    xi = x.clone().requires_grad_(True)
                    F.cross_entropy(model(xi), y).backward()
                    return xi.grad

                s = timed(grad, 5, a.steps)
                emit("inputgrad", dataset, feedback, a, a.steps * a.batch / s)
            if "bim" in tasks and dataset == "mnist":
                xs = torch.rand(a.bim_images, c, size, size)
                ys = torch.randint(0, 10, (a.bim_images,))
                eps, iters = 0.3, 10
                alpha = eps / iters

                def bim():
                    for i in range(0, a.bim_images, a.bim_batch):
                        x0, yb = xs[i:i + a.bim_batch], ys[i:i + a.bim_batch]
                        xa = x0.clone()
                        for _ in range(iters):
                            xa.requires_grad_(True)
                            g, = torch.autograd.grad(F.cross_entropy(model(xa), yb), xa)
                            with torch.no_grad():
                                xa = torch.min(torch.max(xa + alpha * g.sign(), x0 - eps), x0 + eps).clamp(0, 1)
                        with torch.no_grad():
                            model(xa).argmax(1)

                s = timed(bim, 0, 1)
                emit("bim10", dataset, feedback, a, a.bim_images / s, seconds=s)


def emit(task, dataset, feedback, a, ips, **extra):
    print(json.dumps({"task": task, "dataset": dataset, "feedback": feedback, "batch": a.batch,
                      "threads": a.threads, "images_per_s": round(ips, 1), "torch": torch.__version__, **extra}),
          flush=True)


if __name__ == "__main__":
    main()
