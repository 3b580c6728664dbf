#!/usr/bin/python3
"""Writes the seed corpora under fuzz/corpus/ (small files, committed).

usage: fuzz/make_corpus.py PITH_BINARY
The .pith seeds are made by compressing the safetensors/npy seeds with PITH_BINARY.
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def safetensors(tensors, metadata=None):
    header, blobs, pos = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def npy(arr, version):
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, version=version)
    return b.getvalue()


def main():
    pith = sys.argv[1]
    rng = np.random.default_rng(7)
    small = np.random.default_rng(8)
    st = {
        "f32_bf16": safetensors([
            ("w", "F32", [4, 3], rng.standard_normal(12).astype("<f4").tobytes()),
            ("b", "BF16", [3], bytes([0x80, 0x3f, 0, 0x80, 0xc0, 0x7f])),
        ], {"format": "pt"}),
        "all_small": safetensors([
            ("e", "F16", [0], b""),
            ("s", "F64", [], struct.pack("<d", -0.0)),
            ("i", "I32", [2], struct.pack("<ii", -1, 7)),
            ("f8", "F8_E4M3", [4], bytes([0x38, 0x7f, 0x80, 0x01])),
            ("m", "BOOL", [2], b"\x00\x01"),
        ]),
        "empty": safetensors([]),
        # Runs of small tensors: with --chunk-size 16 the F16 run and the F32 pair
        # are each packed (PACK sections, SLICE chunks).
        "packed": safetensors([  # drawn from `small` so the other seeds stay as they were
            ("p0", "F16", [2], small.standard_normal(2).astype("<f2").tobytes()),
            ("p1", "F16", [2], small.standard_normal(2).astype("<f2").tobytes()),
            ("p2", "F16", [3], small.standard_normal(3).astype("<f2").tobytes()),
            ("q0", "F32", [1], small.standard_normal(1).astype("<f4").tobytes()),
            ("q1", "F32", [2], small.standard_normal(2).astype("<f4").tobytes()),
        ]),
    }
    arrays = {
        "f4_v1": npy(rng.standard_normal((3, 5)).astype("<f4"), (1, 0)),
        "u1_v2": npy(np.arange(10, dtype="|u1"), (2, 0)),
        "i8_v3": npy(np.array(5, dtype="<i8"), (3, 0)),
        "f2_fortran": npy(np.asfortranarray(np.ones((2, 3), dtype="<f2")), (1, 0)),
    }
    for sub, files, ext in (("safetensors", st, ".safetensors"), ("npy", arrays, ".npy")):
        d = os.path.join(HERE, "corpus", sub)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name + ext), "wb") as f:
                f.write(data)
    d = os.path.join(HERE, "corpus", "container")
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in list(st.items()) + list(arrays.items()):
            src = os.path.join(tmp, name)
            with open(src, "wb") as f:
                f.write(data)
            subprocess.run([pith, "-q", "compress", "-f", "--chunk-size", "16", src,
                            "-o", os.path.join(d, name + ".pith")], check=True)


if __name__ == "__main__":
    main()
