#!/usr/bin/env python3
"""Writes a small MNIST-style data set (the four IDX files, 8x8 images) for smoke runs that
must not depend on a download: the examples/custom_model run of scripts/test.sh.

    scripts/make_tiny_idx.py DIR [--train N] [--test N]

Images are four prototype patterns with pixel noise, so that a small model has something to learn.
"""
import argparse
import os
import random
import struct


def write_idx(path, dims, data):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, len(dims)))  # unsigned bytes
        f.write(struct.pack(">" + "I" * len(dims), *dims))
        f.write(bytes(data))


def images(n, rng):
    prototypes = []
    for p in range(4):
        prototypes.append([255 if (r // 2 + c // 2 + p) % 4 < 2 else 0 for r in range(8) for c in range(8)])
    pixels, labels = [], []
    for _ in range(n):
        label = rng.randrange(4)
        for value in prototypes[label]:
            pixels.append(255 - value if rng.random() < 0.05 else value)
        labels.append(label)
    return pixels, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--test", type=int, default=300)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rng = random.Random(0)
    for prefix, n in (("train", args.train), ("t10k", args.test)):
        pixels, labels = images(n, rng)
        write_idx(os.path.join(args.dir, f"{prefix}-images-idx3-ubyte"), (n, 8, 8), pixels)
        write_idx(os.path.join(args.dir, f"{prefix}-labels-idx1-ubyte"), (n,), labels)


if __name__ == "__main__":
    main()
