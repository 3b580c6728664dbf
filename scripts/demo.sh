#!/usr/bin/env bash
# Installs what pith needs (Debian 12), builds it, and shows what it does on the
# real data bundled in data/demo/. Outputs go to out/demo/ (recreated each run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
PITH=build/pith
OUT=out/demo
rm -rf "$OUT"; mkdir -p "$OUT"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Lossless: compress model weights (BF16 and F32 safetensors), bit-exact"
for f in data/demo/ppocr_mobile_v2_cls.bf16.safetensors data/demo/ppocr_mobile_v2_cls.f32.safetensors; do
  b=$(basename "$f")
  $PITH compress "$f" -o "$OUT/$b.pith"
  $PITH verify "$OUT/$b.pith"
  $PITH decompress "$OUT/$b.pith" -o "$OUT/$b"
  cmp "$f" "$OUT/$b" && echo "   round trip: identical bytes"
  zstd -q -19 -c "$f" >"$OUT/$b.zst"
  xz -9 -c "$f" >"$OUT/$b.xz"
  printf '   %-40s original %8d  pith %8d  zstd -19 %8d  xz -9 %8d\n' "$b" \
    "$(stat -c%s "$f")" "$(stat -c%s "$OUT/$b.pith")" "$(stat -c%s "$OUT/$b.zst")" "$(stat -c%s "$OUT/$b.xz")"
done
$PITH inspect "$OUT/ppocr_mobile_v2_cls.bf16.safetensors.pith" >"$OUT/inspect.txt"
head -12 "$OUT/inspect.txt"; echo "   ... (all tensors: $OUT/inspect.txt)"
$PITH extract "$OUT/ppocr_mobile_v2_cls.f32.safetensors.pith" conv2d_0.w_0 -o "$OUT/conv2d_0.w_0.npy"
echo "   extracted one tensor: $OUT/conv2d_0.w_0.npy (a tensor decodes alone from its own chunks;"
echo "   this model's are all under 64 KiB, so they are read through the pack that holds them)"

say "2. Search in compressed form: 3,000 word vectors (300-d float32 = 1200 B each)"
$PITH index data/demo/words.npy --codec rabitq4 --metric ip --refine f16 -o "$OUT/words.pith"
$PITH inspect "$OUT/words.pith"
$PITH search "$OUT/words.pith" data/demo/queries.npy -k 5 --rerank 50 -o "$OUT/nn"
/usr/bin/python3 - "$OUT/nn.ids.npy" <<'PY'
import sys, numpy as np
ids = np.load(sys.argv[1])
words = open("data/demo/words.txt").read().split("\n")
queries = open("data/demo/queries.txt").read().split("\n")
for q, row in zip(queries, ids[:8]):
    print(f"   {q:>10} -> " + ", ".join(words[i] for i in row if i >= 0))
PY

say "3. Which codec for which budget? (eval on the same vectors, 200 held-out queries)"
$PITH eval data/demo/words.npy --metric ip --budgets 16,32,64 --holdout 200 --no-cache --plot "$OUT/frontier.png"
echo "   plot: $OUT/frontier.png"
$PITH tune data/demo/words.npy --metric ip --budget 32 --holdout 200 --no-cache
