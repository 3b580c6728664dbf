// Compression figures and single-thread speed of encode_chunk/decode_chunk on
// safetensors files: per file, the stored size of every tensor chunk, the order-0
// entropy bound of the FLOAT_SPLIT fields, encode/decode MB/s over the whole file
// (one pass, every chunk once) and on one warm 1 MiB chunk; zstd -3 on the same
// bytes for reference. Times are thread CPU time, so a busy machine matters less.
//   entropy_bench FILE.safetensors...
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <zstd.h>
#include <ctime>

#include "common/error.h"
#include "common/file.h"
#include "entropy/chunk_codec.h"

using namespace pith;

namespace {

constexpr size_t kChunkBytes = 1 << 20;

struct Tensor {
  DType dtype;
  std::span<const uint8_t> bytes;
};

std::vector<Tensor> parse(const MappedFile& f) {
  auto b = f.bytes();
  if (b.size() < 8) fail(f.path(), "not a safetensors file");
  uint64_t hn;
  std::memcpy(&hn, b.data(), 8);
  if (hn > b.size() - 8) fail(f.path(), "header length {} exceeds the file", hn);
  auto j = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + hn);
  auto data = b.subspan(8 + hn);
  std::vector<Tensor> out;
  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") continue;
    auto dt = dtype_from_name(v["dtype"].get<std::string>());
    uint64_t s = v["data_offsets"][0], e = v["data_offsets"][1];
    if (!dt || s > e || e > data.size()) fail(f.path(), "bad tensor {}", name);
    out.push_back({*dt, data.subspan(s, e - s)});
  }
  return out;
}

// Order-0 entropy in bytes of the fields FLOAT_SPLIT codes (same split).
double field_entropy(const Tensor& t) {
  const size_t w = dtype_size(t.dtype), n = t.bytes.size() / w;
  const int fields = t.dtype == DType::F32 ? 4 : static_cast<int>(w);
  std::vector<std::array<uint64_t, 256>> h(fields);
  for (auto& a : h) a.fill(0);
  const uint8_t* p = t.bytes.data();
  for (size_t i = 0; i < n; ++i) {
    if (t.dtype == DType::BF16) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      h[0][(v >> 7) & 0xff]++;
      h[1][(v >> 8 & 0x80) | (v & 0x7f)]++;
    } else if (t.dtype == DType::F32) {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      h[0][(v >> 23) & 0xff]++;
      h[1][(v >> 24 & 0x80) | (v >> 16 & 0x7f)]++;
      h[2][(v >> 8) & 0xff]++;
      h[3][v & 0xff]++;
    } else {
      for (size_t k = 0; k < w; ++k) h[k][p[i * w + k]]++;
    }
  }
  double bits = 0;
  for (auto& a : h)
    for (uint64_t c : a)
      if (c) bits += c * std::log2(static_cast<double>(n) / c);
  return bits / 8;
}

// Thread CPU time: the machine is shared, so wall time would mostly measure the neighbours.
double now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The first 1 MiB of the largest tensor, coded over and over: the per-chunk speed a
// long run reaches once buffers are warm, against zstd -3 on the same bytes.
void steady_state(const std::vector<Tensor>& tensors, ZSTD_CCtx* cctx, ZSTD_DCtx* dctx) {
  const Tensor* big = &tensors[0];
  for (const Tensor& t : tensors)
    if (t.bytes.size() > big->bytes.size()) big = &t;
  const size_t w = dtype_size(big->dtype);
  auto chunk = big->bytes.subspan(0, std::min(big->bytes.size(), kChunkBytes / w * w));
  const ChunkHint hint{true, big->dtype, 3};
  constexpr int kReps = 50;
  std::vector<uint8_t> out(chunk.size()), z(ZSTD_compressBound(chunk.size()));
  EncodedChunk e = encode_chunk(chunk, hint);
  size_t zn = ZSTD_compressCCtx(cctx, z.data(), z.size(), chunk.data(), chunk.size(), 3);
  double t[5];
  t[0] = now();
  for (int r = 0; r < kReps; ++r) e = encode_chunk(chunk, hint);
  t[1] = now();
  for (int r = 0; r < kReps; ++r) decode_chunk(e.codec, e.params, e.payload, out, "steady state");
  t[2] = now();
  for (int r = 0; r < kReps; ++r) zn = ZSTD_compressCCtx(cctx, z.data(), z.size(), chunk.data(), chunk.size(), 3);
  t[3] = now();
  for (int r = 0; r < kReps; ++r) ZSTD_decompressDCtx(dctx, out.data(), out.size(), z.data(), zn);
  t[4] = now();
  const double mb = static_cast<double>(chunk.size()) * kReps / 1e6;
  std::printf("  steady state, %zu-byte chunk x %d: encode %.0f MB/s, decode %.0f MB/s; zstd -3 encode %.0f MB/s, decode %.0f MB/s\n",
              chunk.size(), kReps, mb / (t[1] - t[0]), mb / (t[2] - t[1]), mb / (t[3] - t[2]), mb / (t[4] - t[3]));
}

}  // namespace

int main(int argc, char** argv) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();  // reused, as encode_chunk does
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  try {
    for (int a = 1; a < argc; ++a) {
      MappedFile f(argv[a]);
      auto tensors = parse(f);
      uint64_t raw = 0, stored = 0, chunks = 0, by_codec[3] = {};
      double bound = 0, enc_s = 0, dec_s = 0, big_enc_s = 0, big_dec_s = 0;
      uint64_t big_raw = 0, zstd_stored = 0;
      double zstd_enc_s = 0, zstd_dec_s = 0;
      std::vector<uint8_t> out;
      for (const Tensor& t : tensors) {
        bound += field_entropy(t);
        const size_t step = kChunkBytes / dtype_size(t.dtype) * dtype_size(t.dtype);
        for (size_t off = 0; off < t.bytes.size(); off += step) {
          auto raw_chunk = t.bytes.subspan(off, std::min(step, t.bytes.size() - off));
          ChunkHint hint{true, t.dtype, 3};
          double t0 = now();
          EncodedChunk e = encode_chunk(raw_chunk, hint);
          double t1 = now();
          out.assign(raw_chunk.size(), 0);
          decode_chunk(e.codec, e.params, e.payload, out, argv[a]);
          double t2 = now();
          enc_s += t1 - t0;
          dec_s += t2 - t1;
          if (raw_chunk.size() >= kChunkBytes / 2) {
            big_raw += raw_chunk.size();
            big_enc_s += t1 - t0;
            big_dec_s += t2 - t1;
          }
          // The speed reference: zstd -3 on the same chunk, timed the same way.
          std::vector<uint8_t> z(ZSTD_compressBound(raw_chunk.size()));
          double z0 = now();
          size_t zn = ZSTD_compressCCtx(cctx, z.data(), z.size(), raw_chunk.data(), raw_chunk.size(), 3);
          double z1 = now();
          ZSTD_decompressDCtx(dctx, out.data(), out.size(), z.data(), zn);
          double z2 = now();
          zstd_stored += zn;
          zstd_enc_s += z1 - z0;
          zstd_dec_s += z2 - z1;
          if (std::memcmp(out.data(), raw_chunk.data(), out.size()))
            fail(argv[a], "round trip mismatch in chunk {}", chunks);
          raw += raw_chunk.size();
          stored += e.payload.size() + e.params.size();
          by_codec[static_cast<int>(e.codec)]++;
          ++chunks;
        }
      }
      std::printf("%s: %zu tensors, %llu chunks (stored %llu, zstd %llu, float_split %llu)\n", argv[a],
                  tensors.size(), (unsigned long long)chunks, (unsigned long long)by_codec[0],
                  (unsigned long long)by_codec[1], (unsigned long long)by_codec[2]);
      std::printf("  tensor bytes %llu -> %llu (%.2f%% of tensors, %.2f%% of file %zu); order-0 field bound %.0f (%.2f%%)\n",
                  (unsigned long long)raw, (unsigned long long)stored, 100.0 * stored / raw, 100.0 * stored / f.size(),
                  f.size(), bound, 100.0 * bound / raw);
      std::printf("  encode %.0f MB/s, decode %.0f MB/s (single thread, raw bytes)\n", raw / enc_s / 1e6,
                  raw / dec_s / 1e6);
      std::printf("  zstd -3 on the same chunks: %.2f%% of tensors, encode %.0f MB/s, decode %.0f MB/s\n",
                  100.0 * zstd_stored / raw, raw / zstd_enc_s / 1e6, raw / zstd_dec_s / 1e6);
      if (big_raw)
        std::printf("  chunks >= 512 KiB (%.1f%% of bytes): encode %.0f MB/s, decode %.0f MB/s\n", 100.0 * big_raw / raw,
                    big_raw / big_enc_s / 1e6, big_raw / big_dec_s / 1e6);
      steady_state(tensors, cctx, dctx);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
