#!/usr/bin/python3
"""pith vs FAISS on compressed nearest-neighbour search.

For words300 (inner product, unit vectors) and sift128 (L2, uint8): every codec
is trained on the base set and searched with the 1,000 queries as one batch on a
single thread (pith -T 1, faiss.omp_set_num_threads(1)). Reports recall@1/10/100
against the exact ground truth, queries/s, ns per vector per query
(time / (nq * n)), bytes per vector (codes + per-vector scalars) and build time,
then the best codec of each side per budget (8/16/32/64/128 bytes: the best
recall@10 at that many bytes or fewer) and whether pith reaches FAISS.

pith's search time is the `search_seconds` that `pith search --json` reports
(index loading and JSON output excluded); FAISS's is index.search() itself.
Debian's faiss 1.7.3 has no IndexRaBitQ, so FAISS's RaBitQ rows cannot be run
here; the issue's reference figures for them are quoted in docs/BENCHMARKS.md.

Usage: /usr/bin/python3 bench/bench_vectors.py [--data ../shared/data]
           [--pith build/pith] [--datasets words300,sift128] [--list main|quick|full]
           [--sides pith,faiss] [--save ROWS.json] [--load ROWS.json ...] [--out FILE.md]

--list main (the default) runs each side's strongest codecs per budget plus the
speed references (fast scan at 32 B, 1-bit RaBitQ); full runs every codec (hours
with Debian's FAISS, whose training is slow). --save writes the measured rows and
--load adds rows saved by an earlier run, so the two sides can be run apart (the
tables say which rows were loaded).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import faiss
import numpy as np

BUDGETS = [8, 16, 32, 64, 128]

# pith codec strings per dataset; bytes per vector come from pith itself.
PITH_CODECS = {
    "sift128": [
        "pq8x8", "opq8,pq8x8", "pq16x4fs",
        "pq16x8", "opq16,pq16x8", "pq32x4fs", "rot,rabitq",
        "pq32x8", "opq32,pq32x8", "pq64x4fs", "rabitq2", "sq2",
        "pq64x8", "opq64,pq64x8", "pq128x4fs", "rabitq4", "sq4",
        "pq128x8", "rabitq7", "sq8",
    ],
    "words300": [
        "pq6x8", "pca64,pq8x8", "pca32,rabitq", "pca128,pq16x4fs",
        "pq15x8", "opq15,pq15x8", "pq30x4fs", "pca64,rabitq",
        "pq30x8", "opq30,pq30x8", "pq60x4fs", "pca192,rabitq", "pca64,rabitq2", "pca64,rabitq3",
        "pq60x8", "opq60,pq60x8", "pq100x4fs", "rabitq", "pca224,rabitq2",
        "pq100x8", "opq100,pq100x8", "pq150x4fs", "rabitq2", "rabitq3", "pca240,rabitq4",
    ],
}
# Each side's strongest codecs at 8/16/32/64/128 B (from the full lists) and the
# codecs the speed targets name.
MAIN = {
    "sift128": ["opq8,pq8x8", "opq16,pq16x8", "pq32x8", "pq64x4fs", "rabitq", "pq64x8", "pq128x8"],
    "words300": ["pca256,opq8,pq8x8", "pca256,opq16,pq16x8", "pca32,sq4", "pca64,rabitq3", "pq60x4fs", "rabitq",
                 "pca128,rabitq3c256", "pca192,rabitq4c256"],
}
FAISS_MAIN = {
    "sift128": ["PQ8", "OPQ8,PQ8", "PQ16", "OPQ16,PQ16", "PQ32", "PQ64x4fs", "PQ64", "PQ128", "SQ8", "LSH1024"],
    "words300": ["PQ6", "OPQ6,PQ6", "OPQ15,PQ15", "OPQ30,PQ30", "PQ60x4fs", "PQ60", "OPQ60,PQ60", "PQ100",
                 "LSH512", "LSH1024"],
}
QUICK = {
    "sift128": ["pq8x8", "pq16x8", "pq32x8", "pq64x4fs", "rabitq4", "sq8"],
    "words300": ["pq6x8", "pq15x8", "pq30x8", "pq60x4fs", "pca64,rabitq3", "rabitq", "rabitq2", "rabitq3"],
}
# Rerank rows: 32 B codes, float16 refine copy, 100 candidates re-scored.
PITH_RERANK = {"sift128": ["pq64x4fs", "pq32x8"], "words300": ["pca64,rabitq3", "pq60x4fs", "pq30x8"]}


def faiss_codecs(d):
    """(factory string, bytes per vector) for FAISS up to 128 bytes. 300 has no divisor
    among 8..128, so words300 uses the nearest divisors below each budget."""
    pq = (8, 16, 32, 64, 128) if d == 128 else (6, 15, 30, 60, 100)
    fs = (16, 32, 64, 128) if d == 128 else (12, 30, 60, 100, 150)
    out = []
    for m in pq:
        out += [(f"PQ{m}", m), (f"OPQ{m},PQ{m}", m)]
    for m in fs:
        out += [(f"PQ{m}x4fs", m // 2), (f"OPQ{m},PQ{m}x4fs", m // 2)]
    out += [("SQ4", d // 2), ("SQ8", d)]
    out += [(f"LSH{bits}", bits // 8) for bits in (64, 128, 256, 512, 1024)]
    return [(s, b) for s, b in out if b <= 128]


# FAISS re-ranking rows: 32 B codes, float16 refine copy, 100 candidates for k = 10.
FAISS_RERANK = {"sift128": ["PQ64x4fs,Refine(SQfp16)", "PQ32,Refine(SQfp16)"],
                "words300": ["PQ60x4fs,Refine(SQfp16)", "PQ30,Refine(SQfp16)"]}


def load(data, name):
    base = np.load(os.path.join(data, name, "base.npy"))
    queries = np.load(os.path.join(data, name, "queries.npy"))
    gt_ids = np.load(os.path.join(data, name, "gt_ids.npy"))
    gt_dist = np.load(os.path.join(data, name, "gt_dist.npy"))
    return base, queries, gt_ids, gt_dist


class Recall:
    """recall@k. On sift128 (integer distances, ties) a returned vector counts when
    its exact distance is at most the k-th true distance, as the data README
    suggests; on words300 (no ties) the id sets are compared."""

    def __init__(self, name, base, queries, gt_ids, gt_dist):
        self.ties = name == "sift128"
        self.base = base.astype(np.int64) if self.ties else None
        self.queries = queries.astype(np.int64) if self.ties else None
        self.gt_ids = gt_ids
        self.gt_dist = gt_dist

    def __call__(self, ids, k):
        ids = ids[:, :k]
        nq = ids.shape[0]
        if not self.ties:
            hit = sum(len(set(ids[i].tolist()) & set(self.gt_ids[i, :k].tolist())) for i in range(nq))
            return hit / (nq * k)
        hit = 0
        for i in range(nq):
            r = ids[i][ids[i] >= 0]
            d = ((self.base[r] - self.queries[i]) ** 2).sum(axis=1)
            hit += int((d <= self.gt_dist[i, k - 1]).sum())
        return hit / (nq * k)


def run_pith(pith, name, codec, metric, base_path, q_path, rec, n, nq, tmp, refine=None, rerank=0):
    idx = os.path.join(tmp, "bench.pith")
    cmd = [pith, "-q", "index", base_path, "--codec", codec, "--metric", metric, "-T", "1", "-o", idx, "-f"]
    if refine:
        cmd += ["--refine", refine]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    build = time.perf_counter() - t0
    if r.returncode != 0:
        print(f"  pith {codec}: index failed: {r.stderr.strip()}", file=sys.stderr)
        return None

    def search(k):
        c = [pith, "-q", "search", idx, q_path, "-k", str(k), "-T", "1", "--json"]
        if rerank:
            c += ["--rerank", str(rerank)]
        out = subprocess.run(c, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return json.loads(out.stdout)

    j = search(100 if not rerank else 10)
    ids = np.array(j["ids"], dtype=np.int64)
    t10 = search(10)["search_seconds"]
    row = dict(side="pith", codec=codec + (f" +{refine} rerank {rerank}" if rerank else ""),
               bytes=j["bytes_per_vector"], build_s=build, search_s=t10,
               r1=rec(ids, 1), r10=rec(ids, 10), r100=rec(ids, 100) if not rerank else None)
    row["qps"] = nq / t10
    row["ns"] = t10 / (nq * n) * 1e9
    return row


def run_faiss(fstr, nbytes, d, metric, xb, xq, rec, n, nq):
    mt = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
    t0 = time.perf_counter()
    if fstr.startswith("LSH"):
        index = faiss.IndexLSH(d, int(fstr[3:]))
    else:
        index = faiss.index_factory(d, fstr, mt)
    if "Refine" in fstr:
        faiss.downcast_index(index).k_factor = 10
    index.train(xb)
    index.add(xb)
    build = time.perf_counter() - t0
    _, ids = index.search(xq, 10 if "Refine" in fstr else 100)
    t0 = time.perf_counter()
    index.search(xq, 10)
    t10 = time.perf_counter() - t0
    return dict(side="faiss", codec=fstr, bytes=nbytes, build_s=build, search_s=t10, qps=nq / t10,
                ns=t10 / (nq * n) * 1e9, r1=rec(ids, 1), r10=rec(ids, 10),
                r100=rec(ids, 100) if "Refine" not in fstr else None)


def fmt_row(r, mark=False):
    """mark: flag a loaded row with * (where a table mixes loaded and measured rows)."""
    f = lambda v: "–" if v is None else f"{v:.3f}"
    side = r["side"] + (" *" if mark and r.get("loaded") else "")
    return (f"| {side} | `{r['codec']}` | {r['bytes']} | {f(r['r1'])} | {f(r['r10'])} | {f(r['r100'])} | "
            f"{r['qps']:.0f} | {r['ns']:.2f} | {r['build_s']:.1f} |")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--pith", default=os.path.join(here, "..", "build", "pith"))
    ap.add_argument("--datasets", default="words300,sift128")
    ap.add_argument("--list", choices=("main", "quick", "full"), default="main")
    ap.add_argument("--quick", action="store_true", help="same as --list quick")
    ap.add_argument("--sides", default="pith,faiss")
    ap.add_argument("--codecs", help="pith codecs to run instead of the list, separated by ';'")
    ap.add_argument("--faiss-codecs", help="FAISS factory strings to run instead of the list, separated by ';'")
    ap.add_argument("--no-rerank", action="store_true")
    ap.add_argument("--save", help="write the measured rows (JSON) here")
    ap.add_argument("--load", action="append", default=[], help="add rows saved by an earlier run")
    ap.add_argument("--out", help="also write the markdown here")
    a = ap.parse_args()
    if a.quick:
        a.list = "quick"
    sides = a.sides.split(",")
    faiss.omp_set_num_threads(1)
    loaded = []
    for f in a.load:
        with open(f) as fh:
            loaded += [dict(r, loaded=f) for r in json.load(fh)]
    saved = []
    md = []
    for name in a.datasets.split(","):
        metric = "ip" if name == "words300" else "l2"
        base, queries, gt_ids, gt_dist = load(a.data, name)
        rec = Recall(name, base, queries, gt_ids, gt_dist)
        n, d = base.shape
        nq = queries.shape[0]
        xb = np.ascontiguousarray(base, dtype=np.float32)
        xq = np.ascontiguousarray(queries, dtype=np.float32)
        rows = []
        pith_list = {"main": MAIN, "quick": QUICK, "full": PITH_CODECS}[a.list][name] if "pith" in sides else []
        if a.codecs is not None and "pith" in sides:
            pith_list = [c for c in a.codecs.split(";") if c]
        with tempfile.TemporaryDirectory() as tmp:
            bp = os.path.join(a.data, name, "base.npy")
            qp = os.path.join(a.data, name, "queries.npy")
            for c in pith_list:
                r = run_pith(a.pith, name, c, metric, bp, qp, rec, n, nq, tmp)
                if r:
                    rows.append(r)
                    print(fmt_row(r), file=sys.stderr)
            for c in (PITH_RERANK[name] if "pith" in sides and not a.no_rerank else []):
                r = run_pith(a.pith, name, c, metric, bp, qp, rec, n, nq, tmp, refine="f16", rerank=100)
                if r:
                    rows.append(r)
                    print(fmt_row(r), file=sys.stderr)
        if "faiss" in sides:
            fl = faiss_codecs(d)
            if a.list == "quick":
                fl = [x for x in fl if x[0].startswith("PQ") or x[0].startswith("OPQ")][::2]
            elif a.list == "main":
                fl = [x for x in fl if x[0] in FAISS_MAIN[name]]
            if a.faiss_codecs is not None:
                wanted = [c for c in a.faiss_codecs.split(";") if c]
                fl = [x for x in faiss_codecs(d) if x[0] in wanted]
            if not a.no_rerank:
                fl += [(f, 32) for f in FAISS_RERANK[name]]
            for fstr, nb in fl:
                r = run_faiss(fstr, nb, d, metric, xb, xq, rec, n, nq)
                rows.append(r)
                print(fmt_row(r), file=sys.stderr)
                if a.save:  # after every row: FAISS runs are long
                    with open(a.save, "w") as fh:
                        json.dump(saved + [dict(x, dataset=name) for x in rows], fh, indent=1)
        saved += [dict(x, dataset=name) for x in rows]
        if a.save:
            with open(a.save, "w") as fh:
                json.dump(saved, fh, indent=1)
        rows += [r for r in loaded if r["dataset"] == name]
        md.append(f"### {name} ({n} × {d}, {metric}, {nq} queries, 1 thread)\n")
        md.append("| side | codec | bytes/vec | R@1 | R@10 | R@100 | queries/s | ns/vec/query | build s |")
        md.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        plain = [r for r in rows if "rerank" not in r["codec"] and "Refine" not in r["codec"]]
        mixed = any(r.get("loaded") for r in rows) and not all(r.get("loaded") for r in rows)
        for r in sorted(plain, key=lambda r: (r["side"] != "pith", r["bytes"], r["codec"])):
            md.append(fmt_row(r, mixed))
        md.append("\nRe-ranking (float16 copy, 100 candidates, k = 10):\n")
        md.append("| side | codec | bytes/vec | R@1 | R@10 | R@100 | queries/s | ns/vec/query | build s |")
        md.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            if r not in plain:
                md.append(fmt_row(r, mixed))
        md.append("\nBest recall@10 per budget (codes + per-vector scalars ≤ budget):\n")
        md.append("| budget | pith best | R@10 | FAISS best | R@10 | pith ≥ FAISS |")
        md.append("| --- | --- | --- | --- | --- | --- |")
        for b in BUDGETS:
            best = {}
            for side in ("pith", "faiss"):
                cand = [r for r in plain if r["side"] == side and r["bytes"] <= b]
                best[side] = max(cand, key=lambda r: r["r10"]) if cand else None
            p, f = best["pith"], best["faiss"]
            ok = "–" if not p or not f else ("yes" if p["r10"] >= f["r10"] else "**no**")
            md.append(f"| {b} B | {'`' + p['codec'] + '`' if p else '–'} | {p['r10']:.3f} | "
                      f"{'`' + f['codec'] + '`' if f else '–'} | {f['r10'] if f else float('nan'):.3f} | {ok} |"
                      if p else f"| {b} B | – | – | {'`' + f['codec'] + '`' if f else '–'} | – | – |")
        if any(r.get("loaded") for r in rows):
            files = ", ".join(sorted({r["loaded"] for r in rows if r.get("loaded")}))
            md.append(("\n\\* rows loaded from " if mixed else "\nAll rows loaded from ") + files
                      + " (saved by earlier runs of this script with --save).")
        md.append("")
    text = "\n".join(md)
    print(text)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
