"""A plain PyTorch loop for the two-stochastic-layer VAE of Burda et al. (2016), the comparison
for lvm's `model.type: vae2` (configs/vae2_mnist.yaml): the same architecture (784-200-200-z1 100,
z1-100-100-z2 50, tanh, Gaussians as mean and log-variance), single-sample Monte Carlo ELBO,
dynamic binarisation, Adam with eps 1e-4 and a per-epoch cosine decay, then the importance-
sampled log p(x) over the joint latent on the first test images. It answers one question: does
a loop written from scratch land where lvm lands after the same epochs?

    python3 bench/vae2_baseline.py --epochs 20 --k 1000 --test 1000
"""
import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from mnist_idx import load_images

LOG2PI = math.log(2 * math.pi)


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def gaussian(net, h):
    mean, log_var = net(h).chunk(2, -1)
    return mean, log_var


def normal_log_prob(z, mean, log_var):
    return -0.5 * ((z - mean) ** 2 * torch.exp(-log_var) + log_var + LOG2PI).sum(-1)


def draw(mean, log_var):
    return mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)


class TwoLayerVae(nn.Module):
    def __init__(self, z1=100, z2=50):
        super().__init__()
        self.q1 = mlp([784, 200, 200, 2 * z1])  # q(z1|x)
        self.q2 = mlp([z1, 100, 100, 2 * z2])  # q(z2|z1)
        self.p1 = mlp([z2, 100, 100, 2 * z1])  # p(z1|z2)
        self.px = mlp([z1, 200, 200, 784])  # p(x|z1), logits

    def log_weights(self, x):
        """x [B, 784] (one draw per row) -> log p(x, z1, z2) - log q(z1, z2 | x), [B]."""
        m1, v1 = gaussian(self.q1, x)
        z1 = draw(m1, v1)
        m2, v2 = gaussian(self.q2, z1)
        z2 = draw(m2, v2)
        pm1, pv1 = gaussian(self.p1, z2)
        logits = self.px(z1)
        log_px_z1 = -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        log_p = normal_log_prob(z2, torch.zeros_like(z2), torch.zeros_like(z2)) + normal_log_prob(z1, pm1, pv1)
        log_q = normal_log_prob(z1, m1, v1) + normal_log_prob(z2, m2, v2)
        return log_px_z1 + log_p - log_q


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-min", type=float, default=1e-4)
    parser.add_argument("--validation", type=int, default=400, help="held out from the end of train")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--test", type=int, default=1000, help="first N test images")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = torch.from_numpy(load_images(args.data, "train")[: 60000 - args.validation])
    test_grey = torch.from_numpy(load_images(args.data, "t10k")[: args.test])
    test = torch.bernoulli(test_grey, generator=torch.Generator().manual_seed(1))
    model = TwoLayerVae()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-4)
    for epoch in range(args.epochs):
        lr = args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * epoch / args.epochs))
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(train.shape[0])
        total, start = 0.0, time.time()
        for i in range(0, train.shape[0], args.batch):
            x = torch.bernoulli(train[order[i : i + args.batch]])
            elbo = model.log_weights(x)
            optimizer.zero_grad()
            (-elbo.mean()).backward()
            optimizer.step()
            total += elbo.sum().item()
        seconds = time.time() - start
        print(f"epoch {epoch + 1}: train ELBO {total / train.shape[0]:.3f}, lr {lr:.2e}, "
              f"{train.shape[0] / seconds:.0f} examples/s", flush=True)
    with torch.no_grad():
        estimates = []
        for i in range(0, test.shape[0], 10):
            x = test[i : i + 10]
            log_w = model.log_weights(x.repeat(args.k, 1)).view(args.k, x.shape[0])
            estimates.append(torch.logsumexp(log_w, 0) - math.log(args.k))
        log_px = torch.cat(estimates).double()
    print(f"test log p(x), k = {args.k}, first {args.test} test images: {log_px.mean():.3f} "
          f"± {log_px.std() / math.sqrt(log_px.numel()):.3f} (NLL {-log_px.mean():.2f})")


if __name__ == "__main__":
    main()
