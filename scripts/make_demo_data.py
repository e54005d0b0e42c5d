#!/usr/bin/env python3
"""Builds Data/fashion-mnist-demo/: the first 2000 train and first 1000 test images of
Fashion-MNIST (with their labels) as IDX files, gzip level 9 with mtime 0 and no file name,
so the output is byte-for-byte reproducible.

Source: the Fashion-MNIST IDX files (Debian's dataset-fashion-mnist, MIT/Expat licence,
Copyright 2017 Zalando SE), by default from /work/shared/data/fashion-mnist.

    python3 scripts/make_demo_data.py [SOURCE_DIR] [OUTPUT_DIR]
"""
import gzip
import io
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data/fashion-mnist")
OUTPUT = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "Data" / "fashion-mnist-demo"
SUBSETS = {"train": 2000, "t10k": 1000}


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    magic, = struct.unpack(">I", data[:4])
    assert magic >> 8 == 0x08, f"{path}: not unsigned-byte IDX (magic {magic:#010x})"
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4:4 + 4 * (magic & 0xFF)])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims))
    return array.reshape(dims)


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    buffer = io.BytesIO()
    # filename="" and mtime=0: no name and no timestamp in the gzip header.
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as stream:
        stream.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    path.write_bytes(buffer.getvalue())


def main() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for split, count in SUBSETS.items():
        images = read_idx(SOURCE / f"{split}-images-idx3-ubyte.gz")[:count]
        labels = read_idx(SOURCE / f"{split}-labels-idx1-ubyte.gz")[:count]
        assert images.shape == (count, 28, 28) and labels.shape == (count,)
        write_idx_gz(OUTPUT / f"{split}-images-idx3-ubyte.gz", images)
        write_idx_gz(OUTPUT / f"{split}-labels-idx1-ubyte.gz", labels)
        counts = np.bincount(labels, minlength=10).tolist()
        print(f"{split}: {count} images, per class {counts}, pixel mean {images.mean() / 255:.4f}")


if __name__ == "__main__":
    main()
