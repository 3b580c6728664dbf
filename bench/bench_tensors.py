#!/usr/bin/python3
"""Lossless tensor benchmark: pith against zstd, xz, bzip2 and brotli on every
safetensors file of a directory.

usage: bench/bench_tensors.py [WEIGHTS_DIR] [--pith BIN] [--runs N] [--fast-runs M] [--md FILE]

For each file and tool: compressed size (% of the original), compression and
decompression speed with 1 and 2 threads (MB/s of original bytes, wall clock of
the CLI, median of N runs or of M for runs under a second; the runs of all tools
alternate round by round, each after a sync), a byte-for-byte round-trip check
(cmp), and pith's size relative to each peer. For each file also the order-0 entropy
bound of the tensor data split into sign / exponent / mantissa fields (per
tensor; the mantissa is cut into fields of at most 8 bits from the top),
next to pith's stored size of the same tensor data (from `pith inspect --json`).
For the largest file also what two cores give on its tensor data: one process
against two processes on its halves, and -T2.
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


def run_timed(cmd, dst):
    """Wall time of one run. The output is removed first (untimed), so every tool
    writes a new file: replacing an existing one made ext4 flush the new file's
    blocks at the rename (auto_da_alloc), which timed the disk, not the tool.
    `cmd` may be a list of commands, started together and waited for together."""
    cmds = cmd if isinstance(cmd[0], list) else [cmd]
    for d in dst if isinstance(dst, list) else [dst]:
        if os.path.exists(d):
            os.remove(d)
    os.sync()  # the previous run's output is flushed now, not while this one is timed
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c) for c in cmds]
    for c, p in zip(cmds, procs):
        if p.wait() != 0:
            sys.exit(f"failed: {' '.join(c)}")
    return time.perf_counter() - t0


def interleaved(jobs, runs, fast_runs):
    """Median wall time of each job, {key: (cmd, dst)}. Runs go round by round over
    all jobs: this machine's speed drifts by up to 2x over minutes, and measuring a
    tool's runs back to back, then the next tool's, compared different moments.
    A job whose first run took under a second gets `fast_runs` runs: its median
    of 3 moved by up to 40% from one benchmark run to the next."""
    times = {k: [] for k in jobs}
    for r in range(max(runs, fast_runs)):
        for k, (cmd, dst) in jobs.items():
            if r < runs or (fast_runs > runs and times[k][0] < 1.0):
                times[k].append(run_timed(cmd, dst))
    return {k: statistics.median(v) for k, v in times.items()}


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


def two_core_reference(src, pith, tmp, runs):
    """What two cores give on this file's tensor data, measured with pith itself:
    one process compressing all of it, two processes compressing one half each
    at the same time (nothing shared, nothing handed over: the split a 2-thread
    run approximates, with the same fixed cost of a process paid in parallel),
    and one process with -T2."""
    with open(src, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    dtypes = {t["dtype"] for k, t in json.loads(data[8:8 + n]).items() if k != "__metadata__"}
    if len(dtypes) != 1 or next(iter(dtypes)) not in FIELDS:
        return []
    dtype = dtypes.pop()
    el = FIELDS[dtype][0]
    body = data[8 + n:]
    half = len(body) // 2 // el * el
    paths = [os.path.join(tmp, x) for x in ("whole.raw", "half1.raw", "half2.raw")]
    for path, b in zip(paths, (body, body[:half], body[half:])):
        with open(path, "wb") as f:
            f.write(b)
    outs = [os.path.join(tmp, x) for x in ("w.pith", "h1.pith", "h2.pith")]
    c = lambda t, i: [pith, "-q", "compress", f"-T{t}", "--dtype", dtype, paths[i], "-o", outs[i]]
    t = interleaved({"one": (c(1, 0), outs[0]), "pair": ([c(1, 1), c(1, 2)], outs[1:]),
                     "T2": (c(2, 0), outs[0])}, runs, runs)
    for x in paths + outs:
        os.remove(x)
    ms = lambda k: f"{1e3 * t[k]:.1f} ms"
    return [f"Two cores on the same data ({len(body):,} bytes of {dtype} tensor data of this file, "
            f"compressed as one raw tensor): one `pith -T1` process takes {ms('one')}; two `pith -T1` "
            f"processes started together on its two halves take {ms('pair')} "
            f"({t['one'] / t['pair']:.2f}x); "
            f"`pith -T2` takes {ms('T2')} ({t['one'] / t['T2']:.2f}x).", ""]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default=os.path.join(ROOT, "..", "shared", "data", "weights"))
    ap.add_argument("--pith", default=os.path.join(ROOT, "build", "pith"))
    ap.add_argument("--runs", type=int, default=3, help="runs of every job (median)")
    ap.add_argument("--fast-runs", type=int, default=9, help="runs of jobs under a second (median)")
    ap.add_argument("--md", help="also write the markdown to this file")
    a = ap.parse_args()
    files = sorted(f for f in os.listdir(a.weights) if f.endswith(".safetensors"))
    if not files:
        sys.exit(f"no .safetensors files in {a.weights}")
    out = [f"Runs: median of {a.runs}, or of {a.fast_runs} for runs under a second, every tool's runs alternating; speeds in MB/s of original bytes (wall clock of the CLI); "
           f"% = compressed size / original size. 2T columns: `-T2` (pith, zstd, xz); bzip2 and brotli are single-threaded.", ""]
    checks = []
    tl = tools(a.pith)
    with tempfile.TemporaryDirectory() as tmp:
        for fname in files:
            src = os.path.join(a.weights, fname)
            size = os.path.getsize(src)
            mb = size / 1e6
            rows, sizes = [], {}
            # One compressed copy per tool (sizes, round trip, input of the decompression runs).
            packed = {tool[0]: os.path.join(tmp, f"packed{i}") for i, tool in enumerate(tl)}
            back, out_c = os.path.join(tmp, "back"), os.path.join(tmp, "timed")
            for name, comp, decomp, mt in tl:
                run_timed(comp(1, src, packed[name]), packed[name])
                sizes[name] = os.path.getsize(packed[name])
            jobs = {}
            for name, comp, decomp, mt in tl:
                jobs[(name, "c1")] = (comp(1, src, out_c), out_c)
                if mt:
                    jobs[(name, "c2")] = (comp(2, src, out_c), out_c)
                jobs[(name, "d1")] = (decomp(1, packed[name], back), back)
                if mt and name in ("pith", "xz -9"):
                    jobs[(name, "d2")] = (decomp(2, packed[name], back), back)
            t = interleaved(jobs, a.runs, a.fast_runs)
            for name, comp, decomp, mt in tl:
                run_timed(decomp(1, packed[name], back), back)
                ok = subprocess.run(["cmp", "-s", src, back]).returncode == 0
                if name == "pith":
                    info = json.loads(subprocess.run([a.pith, "inspect", "--json", packed[name]], check=True,
                                                     capture_output=True, text=True).stdout)
                rows.append((name, sizes[name], t[(name, "c1")], t.get((name, "c2")), t[(name, "d1")],
                             t.get((name, "d2")), ok))
                os.remove(packed[name])
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
            largest = size == max(os.path.getsize(os.path.join(a.weights, f)) for f in files)
            checks.append((f"{fname}: pith 2T/1T compress speed {r['pith'][2] / r['pith'][3]:.2f}x",
                           r["pith"][2] / r["pith"][3] >= 1.7 if largest else None))
            if largest:
                out.extend(two_core_reference(src, a.pith, tmp, a.fast_runs))
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
