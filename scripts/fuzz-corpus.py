#!/usr/bin/env python3
"""Writes the fuzzing seed corpus: a few small, valid files per harness into Fuzz/corpus/<target>/.

Each seed is a well-formed file of the format (a few KB at most), so that the fuzzer starts
from inputs that get past the magic numbers and headers and mutates from there. Everything is
written by hand (struct, zlib, gzip, zipfile, tarfile; NumPy only for .npy payloads) with fixed
timestamps, so running the script again gives the same bytes.

Usage: scripts/fuzz-corpus.py   (from anywhere; rewrites Fuzz/corpus/)
"""

import gzip
import io
import os
import shutil
import struct
import tarfile
import zipfile
import zlib

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")


def gz(data):
    # mtime=0 and no file name: reproducible bytes.
    return gzip.compress(data, compresslevel=9, mtime=0)


# --- IDX (MNIST) ---------------------------------------------------------------------------


def idx_images(count, height, width):
    pixels = bytes((i * 37) % 256 for i in range(count * height * width))
    return struct.pack(">IIII", 0x00000803, count, height, width) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x00000801, len(labels)) + bytes(labels)


# --- CIFAR ---------------------------------------------------------------------------------


def cifar(labels, label_bytes=1):
    out = b""
    for n, label in enumerate(labels):
        head = bytes([label % 20, label]) if label_bytes == 2 else bytes([label])
        out += head + bytes((n * 7 + i) % 256 for i in range(3072))
    return out


# --- NumPy -----------------------------------------------------------------------------------


def npy(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def zip_archive(entries, compression):
    """A zip of (name, bytes) with a fixed timestamp."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


# --- PNG -------------------------------------------------------------------------------------


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def png_filter(rows, bpp):
    """Filters row n with type n % 5, so every seed exercises all five filters."""
    out = b""
    previous = bytes(len(rows[0]))
    for n, row in enumerate(rows):
        kind = n % 5
        filtered = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            filtered.append((x - predictor) % 256)
        out += bytes([kind]) + bytes(filtered)
        previous = row
    return out


def png(width, height, color_type, bit_depth=8, interlace=0, palette=None, trns=None):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    sample_bytes = bit_depth // 8
    bpp = channels * sample_bytes
    rows = []
    for y in range(height):
        if color_type == 3:
            rows.append(bytes((x + y) % len(palette) for x in range(width)))
        else:
            rows.append(bytes((x * 31 + y * 17 + i * 5) % 256 for x in range(width) for i in range(bpp)))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    chunks = png_chunk(b"IHDR", ihdr)
    if palette is not None:
        chunks += png_chunk(b"PLTE", b"".join(bytes(entry) for entry in palette))
    if trns is not None:
        chunks += png_chunk(b"tRNS", bytes(trns))
    chunks += png_chunk(b"tEXt", b"Comment\x00fuzz seed")  # an ancillary chunk to skip
    # (An interlaced seed's data is laid out as if not interlaced: the decoder refuses
    # interlacing before it looks at the data.)
    data = zlib.compress(png_filter(rows, bpp), 9)
    # Two IDAT chunks: the decoder must concatenate them.
    chunks += png_chunk(b"IDAT", data[: len(data) // 2]) + png_chunk(b"IDAT", data[len(data) // 2 :])
    chunks += png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


# --- MATLAB v5 (SVHN) ----------------------------------------------------------------------


def mat_element(kind, data):
    """A data element: small format (type and size in one word) for up to 4 bytes."""
    if 0 < len(data) <= 4:
        return struct.pack("<I", (len(data) << 16) | kind) + data.ljust(4, b"\x00")
    padding = (8 - len(data) % 8) % 8
    return struct.pack("<II", kind, len(data)) + data + b"\x00" * padding


def mat_matrix(name, matrix_class, dimensions, real_type, real_data):
    MI_INT8, MI_INT32, MI_UINT32, MI_MATRIX = 1, 5, 6, 14
    body = mat_element(MI_UINT32, struct.pack("<II", matrix_class, 0))
    body += mat_element(MI_INT32, struct.pack("<%di" % len(dimensions), *dimensions))
    body += mat_element(MI_INT8, name.encode())
    body += mat_element(real_type, real_data)
    return struct.pack("<II", MI_MATRIX, len(body)) + body


def mat_file(variables, compress):
    MI_COMPRESSED = 15
    text = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970"
    header = text.ljust(116, b" ") + b"\x00" * 8 + struct.pack("<H", 0x0100) + b"IM"
    out = header
    for element in variables:
        if compress:
            packed = zlib.compress(element, 9)
            out += struct.pack("<II", MI_COMPRESSED, len(packed)) + packed
        else:
            out += element
    return out


def svhn(count, labels, compress, label_type="double"):
    MI_UINT8, MI_DOUBLE = 2, 9
    CLASS_DOUBLE, CLASS_UINT8 = 6, 9
    pixels = bytes((i * 13) % 256 for i in range(32 * 32 * 3 * count))
    x = mat_matrix("X", CLASS_UINT8, [32, 32, 3, count], MI_UINT8, pixels)
    if label_type == "double":
        y = mat_matrix("y", CLASS_DOUBLE, [count, 1], MI_DOUBLE, struct.pack("<%dd" % count, *labels))
    else:  # uint8 labels, as some converters write them
        y = mat_matrix("y", CLASS_UINT8, [count, 1], MI_UINT8, bytes(labels))
    return mat_file([x, y], compress)


# --- tar -------------------------------------------------------------------------------------


def tar(members, format):
    """A tar of (name, bytes or None for a folder), trimmed after the end-of-archive blocks
    (tarfile pads to 10 KiB records; the extractor does not need the padding)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    end = len(raw.rstrip(b"\x00"))
    end = (end + 511) // 512 * 512
    return raw[: end + 1024]


# --- safetensors -----------------------------------------------------------------------------


def safetensors(tensors, metadata):
    """The layout Checkpoint.save writes: u64 header length, JSON header (metadata first, then
    the tensors in order with contiguous data_offsets, no spaces), padded with spaces to a
    multiple of 8, then the little-endian data."""

    def json_string(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    fields = []
    if metadata:
        pairs = ",".join("%s:%s" % (json_string(k), json_string(metadata[k])) for k in sorted(metadata))
        fields.append('"__metadata__":{%s}' % pairs)
    offset = 0
    data = b""
    for name, dtype, shape, payload in tensors:
        end = offset + len(payload)
        dims = ",".join(str(d) for d in shape)
        fields.append('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}' % (json_string(name), dtype, dims, offset, end))
        offset = end
        data += payload
    header = ("{" + ",".join(fields) + "}").encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + data


def main():
    seeds = {}
    seeds["idx-images"] = {
        "3x4x4.idx3-ubyte": idx_images(3, 4, 4),
        "3x4x4.idx3-ubyte.gz": gz(idx_images(3, 4, 4)),
        "empty.idx3-ubyte": idx_images(0, 28, 28),
    }
    seeds["idx-labels"] = {
        "3.idx1-ubyte": idx_labels([1, 7, 0]),
        "3.idx1-ubyte.gz": gz(idx_labels([1, 7, 0])),
    }
    seeds["cifar"] = {
        "cifar10-2.bin": cifar([3, 9]),
        "cifar100-2.bin": cifar([42, 99], label_bytes=2),
        "cifar10-1.bin.gz": gz(cifar([5])),
    }
    seeds["csv"] = {
        "label.csv": b"x0,x1,label\n0.5,1e-3,0\n-2,3.25,1\n",
        "crlf-bom.csv": b"\xef\xbb\xbf\"a\", \"b\" ,c\r\n1, 2 ,0\r\n\r\n4,5.5,1\r\n",
        "last.csv.gz": gz(b"f1,f2,f3,y\n1,2,3,1\n4,5,6,0\n7,8,9,1\n"),
    }
    seeds["npy"] = {
        "f4-2x3.npy": npy(np.arange(6, dtype="<f4").reshape(2, 3)),
        "u1-4.npy": npy(np.array([0, 1, 254, 255], dtype="u1")),
        "i8-2x2.npy": npy(np.array([[-1, 2], [3, 1 << 40]], dtype="<i8")),
        "f8-scalar.npy": npy(np.array(2.5, dtype="<f8")),
        "b1-v2.npy": npy(np.array([True, False, True]), version=(2, 0)),
        "i4-empty-v3.npy": npy(np.zeros((0, 3), dtype="<i4"), version=(3, 0)),
    }
    xy = [
        ("X.npy", npy(np.arange(6, dtype="<f4").reshape(3, 2))),
        ("y.npy", npy(np.array([0, 1, 0], dtype="<i8"))),
    ]
    seeds["npz"] = {
        "xy-stored.npz": zip_archive(xy, zipfile.ZIP_STORED),
        "xy-deflated.npz": zip_archive(xy, zipfile.ZIP_DEFLATED),
    }
    seeds["zip"] = {
        "stored.zip": zip_archive([("a.txt", b"hello\n"), ("dir/b.bin", bytes(range(16)))], zipfile.ZIP_STORED),
        "deflated.zip": zip_archive([("X.npy", xy[0][1]), ("notes.txt", b"x" * 100)], zipfile.ZIP_DEFLATED),
    }
    palette = [(i * 60 % 256, i * 90 % 256, i * 120 % 256) for i in range(4)]
    seeds["png"] = {
        "gray-8x8.png": png(8, 8, 0),
        "rgb-8x8.png": png(8, 8, 2),
        "rgba-8x8.png": png(8, 8, 6),
        "gray-alpha-8x8.png": png(8, 8, 4),
        "palette-8x8.png": png(8, 8, 3, palette=palette),
        "palette-trns-8x8.png": png(8, 8, 3, palette=palette, trns=[0, 128]),
        # Unsupported by the decoder (16-bit, Adam7): seeds for its refusal paths.
        "gray16-8x8.png": png(8, 8, 0, bit_depth=16),
        "interlaced-8x8.png": png(8, 8, 2, interlace=1),
    }
    seeds["svhn"] = {
        "1-plain.mat": svhn(1, [10], compress=False),
        "2-compressed.mat": svhn(2, [3, 10], compress=True),
        "1-uint8-labels.mat": svhn(1, [7], compress=True, label_type="uint8"),
    }
    seeds["gzip"] = {
        "text.gz": gz(b"a small gzip member\n" * 4),
        "two-members.gz": gz(b"first\n") + gz(b"second\n"),
        "zero-padded.gz": gz(bytes(range(64))) + b"\x00" * 16,
    }
    seeds["tar"] = {
        "ustar.tar": tar([("data", None), ("data/a.bin", bytes(range(200))), ("other.txt", b"skipped\n")], tarfile.USTAR_FORMAT),
        "gnu-longname.tar": tar([("data/" + "n" * 120, b"long name\n"), ("data/b", b"")], tarfile.GNU_FORMAT),
        "pax.tar": tar([("data/" + "p" * 150 + ".txt", b"pax\n"), ("data/c.txt", b"c" * 600)], tarfile.PAX_FORMAT),
    }
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    seeds["safetensors"] = {
        "f32.safetensors": safetensors(
            [("layers.0.weight", "F32", [2, 2], f32), ("layers.0.bias", "F32", [2], struct.pack("<2f", 0.25, -1))],
            {"format": "anomalykit", "phase": "train", "epochs": "3"},
        ),
        "fitted-f64.safetensors": safetensors(
            [("mean", "F64", [3], struct.pack("<3d", 1.5, -2, 1e-300)), ("count", "F64", [], struct.pack("<d", 7))],
            {"detector": "mahalanobis", "sampleShape": "3", "configuration": '{"k":1}'},
        ),
        "half.safetensors": safetensors(
            [("h", "F16", [2], struct.pack("<2H", 0x3C00, 0x8001)), ("b", "BF16", [1, 2], struct.pack("<2H", 0x3F80, 0x7F80)),
             ("empty", "F32", [0, 4], b"")],
            {},
        ),
    }

    for target, files in seeds.items():
        folder = os.path.join(CORPUS, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in files.items():
            assert len(data) <= 8192, (target, name, len(data))
            with open(os.path.join(folder, name), "wb") as out:
                out.write(data)
        print("%-12s %d seeds, %d bytes" % (target, len(files), sum(len(d) for d in files.values())))


if __name__ == "__main__":
    main()
