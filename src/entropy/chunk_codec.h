#pragma once
// One chunk in, one encoded chunk out: the codec choice for a chunk of a section
// (docs/FORMAT.md, "Codecs"). The container calls only these two functions.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace pith {

// SLICE chunks store nothing: their bytes are a range of a PACK section's content
// (docs/FORMAT.md); the container resolves them, decode_chunk() never sees one.
enum class Codec : uint16_t { Stored = 0, Zstd = 1, FloatSplit = 2, Slice = 3 };

struct EncodedChunk {
  Codec codec = Codec::Stored;
  std::vector<uint8_t> params;   // per-codec parameters, stored in the chunk index entry
  std::vector<uint8_t> payload;  // the stored bytes
};

struct ChunkHint {
  bool is_tensor = false;  // false: opaque bytes (headers, blobs)
  DType dtype = DType::U8;
  int zstd_level = 3;
};

// Picks the smallest of the codecs that apply (float tensors: FLOAT_SPLIT; others:
// ZSTD; always STORED as the fallback) and returns it.
EncodedChunk encode_chunk(std::span<const uint8_t> raw, const ChunkHint& hint);

// Decodes into `out` (exactly the chunk's raw size). `what` names the file, section
// and chunk for error messages. Throws pith::Error on any corruption; never reads
// or writes out of bounds whatever the input.
void decode_chunk(Codec codec, std::span<const uint8_t> params, std::span<const uint8_t> stored,
                  std::span<uint8_t> out, const std::string& what);

// One zstd frame of raw at `level`, with this thread's reused context.
std::vector<uint8_t> zstd_compress(std::span<const uint8_t> raw, int level);

// xxHash64 of c.payload; a stored chunk's payload is its raw content, whose hash
// the caller has already.
uint64_t payload_xxh64(const EncodedChunk& c, uint64_t raw_xxh64);

bool codec_known(uint16_t id);
const char* codec_name(Codec c);

}  // namespace pith
