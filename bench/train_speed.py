"""Plain PyTorch training loop for the classic MNIST VAE (784-400-20 ReLU, batch 128, Adam 1e-3,
grey levels with a Bernoulli cross-entropy), data held in memory: the baseline `lvm train` is
compared against in bench/train_speed.sh. Prints examples/s of one epoch."""
import argparse
import time

import torch
import torch.nn.functional as F

from mnist_idx import load_images


class Vae(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(784, 400)
        self.enc_out = torch.nn.Linear(400, 40)
        self.dec = torch.nn.Linear(20, 400)
        self.dec_out = torch.nn.Linear(400, 784)

    def forward(self, x):
        mean, log_var = self.enc_out(F.relu(self.enc(x))).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        logits = self.dec_out(F.relu(self.dec(z)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
        return rec + kl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x_all = torch.from_numpy(load_images(args.data, "train").copy())
    model = Vae()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x_all.shape[0]
    for epoch in range(args.epochs):
        start = time.perf_counter()
        total = 0.0
        for idx in torch.randperm(n).split(128):
            x = x_all[idx]
            optimizer.zero_grad()
            loss = model(x)
            loss.backward()
            optimizer.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        print(f"python epoch {epoch + 1}: loss {total / n:.3f}  {n / seconds:.0f} examples/s  ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
