"""Plain PyTorch training loops that `lvm train` is compared against in bench/train_speed.sh, data
held in memory, one epoch's examples/s printed per epoch:
  classic  configs/vae_mnist_classic.yaml: 784-400-20 ReLU, batch 128, Adam 1e-3 (eps 1e-8),
           grey levels with a Bernoulli cross-entropy, all 60,000 images;
  default  configs/vae_mnist.yaml: 784-200-200-50 tanh, batch 100, Adam 1e-3 (eps 1e-4),
           binary pixels drawn afresh for every batch, the first 50,000 images."""
import argparse
import time

import torch
import torch.nn.functional as F

from mnist_idx import load_images


def mlp(sizes, activation):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(activation())
    return torch.nn.Sequential(*layers)


class Vae(torch.nn.Module):
    def __init__(self, hidden, latent, activation):
        super().__init__()
        self.encoder = mlp([784, *hidden, 2 * latent], activation)
        self.decoder = mlp([latent, *reversed(hidden), 784], activation)

    def forward(self, x):
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        logits = self.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
        return rec + kl


MODELS = {
    # hidden, latent, activation, batch, eps, training images, dynamic binarisation
    "classic": ([400], 20, torch.nn.ReLU, 128, 1e-8, 60000, False),
    "default": ([200, 200], 50, torch.nn.Tanh, 100, 1e-4, 50000, True),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--model", choices=sorted(MODELS), default="classic")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    hidden, latent, activation, batch, eps, n, dynamic = MODELS[args.model]
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x_all = torch.from_numpy(load_images(args.data, "train")[:n].copy())
    model = Vae(hidden, latent, activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=eps)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        total = 0.0
        for idx in torch.randperm(n).split(batch):
            x = x_all[idx]
            if dynamic:
                x = torch.bernoulli(x)
            optimizer.zero_grad()
            loss = model(x)
            loss.backward()
            optimizer.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        print(f"python epoch {epoch + 1}: loss {total / n:.3f}  {n / seconds:.0f} examples/s  ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
