"""Reads MNIST-style IDX files (raw or gzip) into numpy arrays, for the Python baselines."""
import gzip
import struct

import numpy as np


def read_idx(path):
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(directory, prefix):
    images = read_idx(f"{directory}/{prefix}-images-idx3-ubyte")
    return images.reshape(images.shape[0], -1).astype(np.float32) / 255.0
