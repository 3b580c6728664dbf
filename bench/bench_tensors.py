#!/usr/bin/python3
"""Lossless tensor benchmark: pith against zstd, xz, bzip2 and brotli on every
safetensors file of a directory.

usage: bench/bench_tensors.py [WEIGHTS_DIR] [--pith BIN] [--runs N] [--md FILE]

For each file and tool: compressed size (% of the original), compression and
decompression speed with 1 and 2 threads (MB/s of original bytes, median of N
runs, wall clock of the CLI), a byte-for-byte round-trip check (cmp), and
pith's size relative to each peer. For each file also the order-0 entropy
bound of the tensor data split into sign / exponent / mantissa fields (per
tensor; the mantissa is cut into fields of at most 8 bits from the top),
next to pith's stored size of the same tensor data (from `pith inspect --json`).
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, compress(threads, src, dst), decompress(threads, src, dst), multithreaded
def sh(cmd):
    return ["sh", "-c", cmd]


def tools(pith):
    return [
        ("pith", lambda t, s, d: [pith, "-q", "compress", "-f", f"-T{t}", s, "-o", d],
         lambda t, s, d: [pith, "-q", "decompress", "-f", f"-T{t}", s, "-o", d], True),
        ("zstd -3", lambda t, s, d: ["zstd", "-q", "-f", "-3", f"-T{t}", s, "-o", d],
         lambda t, s, d: ["zstd", "-q", "-f", "-d", s, "-o", d], True),
        ("zstd -19", lambda t, s, d: ["zstd", "-q", "-f", "-19", f"-T{t}", s, "-o", d],
         lambda t, s, d: ["zstd", "-q", "-f", "-d", s, "-o", d], True),
        ("xz -9", lambda t, s, d: sh(f"xz -9 -T{t} -c '{s}' > '{d}'"),
         lambda t, s, d: sh(f"xz -d -T{t} -c '{s}' > '{d}'"), True),
        ("bzip2 -9", lambda t, s, d: sh(f"bzip2 -9 -c '{s}' > '{d}'"),
         lambda t, s, d: sh(f"bzip2 -d -c '{s}' > '{d}'"), False),
        ("brotli -11", lambda t, s, d: ["brotli", "-q", "11", "-f", s, "-o", d],
         lambda t, s, d: ["brotli", "-d", "-f", s, "-o", d], False),
    ]


def timed(cmd, runs, dst):
    """Median wall time. The output is removed before each run (untimed), so every
    tool writes a new file: replacing an existing one made ext4 flush the new
    file's blocks at the rename (auto_da_alloc), which timed the disk, not the tool."""
    times = []
    for _ in range(runs):
        if os.path.exists(dst):
            os.remove(dst)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


FIELDS = {  # dtype: (element bytes, mantissa bits, exponent bits, numpy uint type)
    "F32": (4, 23, 8, "<u4"),
    "BF16": (2, 7, 8, "<u2"),
    "F16": (2, 10, 5, "<u2"),
}


def h0_bits(symbols):
    if symbols.size == 0:
        return 0.0
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / symbols.size
    return float(-(counts * np.log2(p)).sum())


def entropy_bound(path):
    """Bytes of the order-0 sign/exponent/mantissa-field bound and of the tensor data."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    bits, raw = 0.0, 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw += e - b
        if t["dtype"] not in FIELDS:
            bits += 8 * (e - b)
            continue
        size, mbits, ebits, ut = FIELDS[t["dtype"]]
        u = np.frombuffer(data[base + b:base + e], dtype=ut).astype(np.uint64)
        bits += h0_bits(u >> np.uint64(mbits + ebits))
        bits += h0_bits((u >> np.uint64(mbits)) & np.uint64((1 << ebits) - 1))
        hi = mbits
        while hi > 0:
            lo = max(0, hi - 8)
            bits += h0_bits((u >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1))
            hi = lo
    return bits / 8, raw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default=os.path.join(ROOT, "..", "shared", "data", "weights"))
    ap.add_argument("--pith", default=os.path.join(ROOT, "build", "pith"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--md", help="also write the markdown to this file")
    a = ap.parse_args()
    files = sorted(f for f in os.listdir(a.weights) if f.endswith(".safetensors"))
    if not files:
        sys.exit(f"no .safetensors files in {a.weights}")
    out = [f"Runs: median of {a.runs}; speeds in MB/s of original bytes (wall clock of the CLI); "
           f"% = compressed size / original size. 2T columns: `-T2` (pith, zstd, xz); bzip2 and brotli are single-threaded.", ""]
    checks = []
    tl = tools(a.pith)
    with tempfile.TemporaryDirectory() as tmp:
        for fname in files:
            src = os.path.join(a.weights, fname)
            size = os.path.getsize(src)
            mb = size / 1e6
            rows, sizes = [], {}
            for name, comp, decomp, mt in tl:
                packed, back = os.path.join(tmp, "packed"), os.path.join(tmp, "back")
                c2 = timed(comp(2, src, packed), a.runs, packed) if mt else None
                c1 = timed(comp(1, src, packed), a.runs, packed)
                sizes[name] = os.path.getsize(packed)
                d1 = timed(decomp(1, packed, back), a.runs, back)
                d2 = timed(decomp(2, packed, back), a.runs, back) if mt and name in ("pith", "xz -9") else None
                ok = subprocess.run(["cmp", "-s", src, back]).returncode == 0
                if name == "pith":
                    info = json.loads(subprocess.run([a.pith, "inspect", "--json", packed], check=True,
                                                     capture_output=True, text=True).stdout)
                rows.append((name, sizes[name], c1, c2, d1, d2, ok))
                os.remove(packed)
                os.remove(back)
            bound, traw = entropy_bound(src)
            out.append(f"### {fname} ({size:,} bytes)")
            out.append("")
            out.append("| tool | size | pith / tool | compress 1T | compress 2T | decompress 1T | decompress 2T | round trip |")
            out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
            fmt = lambda t: f"{mb / t:.1f}" if t else "-"
            for name, s, c1, c2, d1, d2, ok in rows:
                rel = f"{sizes['pith'] / s:.3f}" if name != "pith" else ""
                out.append(f"| {name} | {100 * s / size:.2f}% | {rel} | {fmt(c1)} | {fmt(c2)} | {fmt(d1)} | "
                           f"{fmt(d2)} | {'ok' if ok else 'FAILED'} |")
            out.append("")
            out.append(f"Tensor data: {traw:,} bytes; pith stores it in {info['tensor_stored_bytes']:,} "
                       f"({100 * info['tensor_stored_bytes'] / traw:.2f}%); order-0 sign/exponent/mantissa "
                       f"bound {bound:,.0f} ({100 * bound / traw:.2f}%). Container overhead (header blob, index, "
                       f"footer): {info['file_bytes'] - info['tensor_stored_bytes']:,} bytes.")
            out.append("")
            r = {x[0]: x for x in rows}
            for peer in ("zstd -19", "xz -9", "bzip2 -9", "brotli -11"):
                checks.append((f"{fname}: pith smaller than {peer}", sizes["pith"] < sizes[peer]))
            checks.append((f"{fname}: round trip", all(x[6] for x in rows)))
            checks.append((f"{fname}: pith 1T decompress >= zstd -d (of zstd -3)", r["pith"][4] <= r["zstd -3"][4]))
            checks.append((f"{fname}: pith 1T compress >= zstd -3 1T", r["pith"][2] <= r["zstd -3"][2]))
            targets = {"ppocrv4_rec.bf16.safetensors": 68.0, "ppocrv4_rec.f16.safetensors": 85.3,
                       "ppocrv4_rec.f32.safetensors": 84.0}
            if fname in targets:
                pct = 100 * sizes["pith"] / size
                checks.append((f"{fname}: {pct:.2f}% <= {targets[fname]}%", pct <= targets[fname]))
            checks.append((f"{fname}: pith 2T/1T compress speed {r['pith'][2] / r['pith'][3]:.2f}x",
                           None if size != max(os.path.getsize(os.path.join(a.weights, f)) for f in files)
                           else r["pith"][2] / r["pith"][3] >= 1.7))
    out.append("### Acceptance checks")
    out.append("")
    for text, ok in checks:
        mark = "" if ok is None else (" — pass" if ok else " — **FAIL**")
        out.append(f"- {text}{mark}")
    md = "\n".join(out) + "\n"
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
