#include "entropy/chunk_codec.h"

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "common/error.h"
#include "common/hash.h"
#include "entropy/float_split.h"

namespace pith {

std::vector<uint8_t> zstd_compress(std::span<const uint8_t> raw, int level) {
  // One context per thread: creating one per chunk costs more than compressing a
  // small chunk, and a new context's tables are fresh pages to fault in (a third
  // of the page faults of compressing a 287 KB model came from two of them).
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!ctx) fail_msg("zstd: out of memory");
  ZSTD_CCtx_reset(ctx.get(), ZSTD_reset_parameters);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
  // zstd sizes its match tables for a window of the input's size (256 KiB each for
  // a 20 KB safetensors header at level 9), and zeroing them was a fifth of the
  // page faults of compressing a small model. A quarter entry per input byte
  // found the same matches there (sizes within 0.5%).
  if (raw.size() < (size_t{64} << 10)) {
    const int bits = std::max(10, static_cast<int>(std::bit_width(raw.size())) - 2);
    ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_hashLog, bits);
    ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_chainLog, bits);
  }
  std::vector<uint8_t> out(ZSTD_compressBound(raw.size()));
  size_t n = ZSTD_compress2(ctx.get(), out.data(), out.size(), raw.data(), raw.size());
  if (ZSTD_isError(n)) fail_msg("zstd compression failed: {}", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

namespace {

void zstd_decompress(std::span<const uint8_t> stored, std::span<uint8_t> out, const std::string& what) {
  // Decoding straight into `out` bounds the output by construction; the frame must
  // also end exactly at the end of the stored bytes and fill `out` exactly.
  unsigned long long claimed = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (claimed == ZSTD_CONTENTSIZE_ERROR) fail(what, "corrupt zstd chunk: not a zstd frame");
  if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != out.size())
    fail(what, "corrupt zstd chunk: frame holds {} bytes, chunk raw size is {}", claimed, out.size());
  size_t frame = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
  if (ZSTD_isError(frame) || frame != stored.size())
    fail(what, "corrupt zstd chunk: the frame does not span the {} stored bytes", stored.size());
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) fail(what, "zstd: out of memory");
  size_t n = ZSTD_decompressDCtx(ctx.get(), out.data(), out.size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) fail(what, "corrupt zstd chunk: {}", ZSTD_getErrorName(n));
  if (n != out.size()) fail(what, "corrupt zstd chunk: decodes to {} bytes, expected {}", n, out.size());
}

}  // namespace

EncodedChunk encode_chunk(std::span<const uint8_t> raw, const ChunkHint& hint) {
  EncodedChunk best;  // STORED until something smaller turns up; its copy is made last
  size_t best_size = raw.size();
  if (raw.empty()) return best;
  const bool floats = hint.is_tensor && float_split_applies(hint.dtype) && raw.size() % dtype_size(hint.dtype) == 0;
  if (floats) {
    EncodedChunk f;
    f.codec = Codec::FloatSplit;
    float_split_encode(raw, hint.dtype, f.params, f.payload);
    if (f.payload.size() + f.params.size() < best_size) {
      best = std::move(f);
      best_size = best.payload.size() + best.params.size();
    }
  }
  // zstd is tried on floats only where FLOAT_SPLIT saved less than a tenth, as
  // on masks or values from a small set (runs and repeats): on the shared
  // checkpoints it never won elsewhere, and trying it cost a tenth of the time.
  if (!floats || best_size > raw.size() - raw.size() / 10) {
    std::vector<uint8_t> z = zstd_compress(raw, hint.zstd_level);
    if (z.size() < best_size) {
      best.codec = Codec::Zstd;
      best.params.clear();
      best.payload = std::move(z);
      best_size = best.payload.size();
    }
  }
  if (best.codec == Codec::Stored) best.payload.assign(raw.begin(), raw.end());
  return best;
}

void decode_chunk(Codec codec, std::span<const uint8_t> params, std::span<const uint8_t> stored,
                  std::span<uint8_t> out, const std::string& what) {
  switch (codec) {
    case Codec::Stored:
      if (!params.empty()) fail(what, "corrupt chunk: STORED takes no params, got {} bytes", params.size());
      if (stored.size() != out.size())
        fail(what, "corrupt chunk: STORED holds {} bytes, raw size is {}", stored.size(), out.size());
      if (!out.empty()) std::memcpy(out.data(), stored.data(), out.size());
      return;
    case Codec::Zstd:
      if (!params.empty()) fail(what, "corrupt chunk: ZSTD takes no params, got {} bytes", params.size());
      zstd_decompress(stored, out, what);
      return;
    case Codec::FloatSplit:
      float_split_decode(params, stored, out, what);
      return;
    case Codec::Slice:
      fail(what, "internal error: a SLICE chunk is resolved by the container");
    default:
      fail(what, "chunk uses codec {}, which this pith does not know (written by a newer version?)",
           static_cast<unsigned>(codec));
  }
}

uint64_t payload_xxh64(const EncodedChunk& c, uint64_t raw_xxh64) {
  return c.codec == Codec::Stored ? raw_xxh64 : xxh64(c.payload);
}

bool codec_known(uint16_t id) { return id <= static_cast<uint16_t>(Codec::Slice); }

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::Stored: return "stored";
    case Codec::Zstd: return "zstd";
    case Codec::FloatSplit: return "float_split";
    case Codec::Slice: return "slice";
  }
  return "unknown";
}

}  // namespace pith
