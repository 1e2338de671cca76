#!/usr/bin/python3
"""Plain PyTorch importance-sampled log p(x), the baseline for bench/eval_throughput.cpp.

The estimator a Python user would write: encode, draw k samples in chunks, decode, score with
binary_cross_entropy_with_logits, log-sum-exp. Same 784-400-20 ReLU architecture as
configs/vae_mnist_classic.yaml (random weights: the cost does not depend on them), same kind of
input, same thread settings as lvm (1 intra-op thread and all cores for BLAS on 2 cores).

  /usr/bin/python3 bench/eval_throughput.py [--arch classic|default] [--k 5000] [--n 200]
                                            [--batch 100] [--chunks 50,100,320,1000]
Use Debian's python3-torch (/usr/bin/python3). Prints decoder evaluations per second for each
chunk size and the best.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F


def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def importance_sampled_log_px(encoder, decoder, x, k, chunk):
    """x: [B, D] -> log (1/k) sum_k p(x, z_k) / q(z_k | x): [B]"""
    h = encoder(x)
    mu, log_var = h.chunk(2, -1)
    std = torch.exp(0.5 * log_var)
    q = torch.distributions.Normal(mu, std)
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    log_w = []
    for start in range(0, k, chunk):
        c = min(chunk, k - start)
        z = q.sample((c,))  # [c, B, Z]
        logits = decoder(z)  # [c, B, D]
        log_lik = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
        log_w.append(log_lik + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1))
    return torch.logsumexp(torch.cat(log_w), 0) - math.log(k)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="classic", choices=["classic", "default"])
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--chunks", default="50,100,320,1000")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (lvm uses 1 on 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.arch == "classic":
        hidden, latent, act = [400], 20, torch.nn.ReLU
    else:
        hidden, latent, act = [200, 200], 50, torch.nn.Tanh
    encoder = mlp([784] + hidden + [2 * latent], act)
    decoder = mlp([latent] + hidden[::-1] + [784], act)
    x = torch.bernoulli(torch.full((args.n, 784), 0.13))
    sizes = [latent] + hidden[::-1] + [784]
    flops = sum(2.0 * sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1))

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    best_gemm = 0.0
    for _ in range(5):
        t = time.perf_counter()
        a @ b
        best_gemm = max(best_gemm, 2 * 1024**3 / (time.perf_counter() - t) / 1e9)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; "
          f"sgemm {best_gemm:.1f} GFLOP/s -> bound {best_gemm * 1e9 / flops:.0f} decoder evals/s")
    print(f"model 784-{'-'.join(map(str, hidden))}-{latent}, {flops:.0f} FLOPs per sample; "
          f"{args.n} images, k = {args.k}, batch {args.batch}")
    best = 0.0
    with torch.no_grad():
        for chunk in [int(c) for c in args.chunks.split(",")]:
            importance_sampled_log_px(encoder, decoder, x[: args.batch], min(args.k, chunk), chunk)  # warm-up
            t = time.perf_counter()
            total = 0.0
            for start in range(0, args.n, args.batch):
                total += importance_sampled_log_px(encoder, decoder, x[start:start + args.batch], args.k,
                                                   chunk).sum().item()
            seconds = time.perf_counter() - t
            rate = args.n * args.k / seconds
            best = max(best, rate)
            print(f"chunk {chunk:5d}: {rate:9.0f} decoder evals/s, log p(x) {total / args.n:.3f}")
    print(f"best     {best:9.0f} decoder evals/s; k=5000 x 10000 images: {5e7 / best:.0f} s")


if __name__ == "__main__":
    main()
