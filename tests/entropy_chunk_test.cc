#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "entropy/chunk_codec.h"

namespace pith {
namespace {

std::vector<uint8_t> roundtrip(std::span<const uint8_t> raw, const ChunkHint& hint) {
  EncodedChunk e = encode_chunk(raw, hint);
  std::vector<uint8_t> out(raw.size());
  decode_chunk(e.codec, e.params, e.payload, out, "test");
  return out;
}

TEST(ChunkCodec, EmptyIsStored) {
  std::vector<uint8_t> raw;
  EncodedChunk e = encode_chunk(raw, {});
  EXPECT_EQ(e.codec, Codec::Stored);
  EXPECT_TRUE(e.payload.empty());
  EXPECT_EQ(roundtrip(raw, {}), raw);
}

TEST(ChunkCodec, CompressibleBytesUseZstd) {
  std::vector<uint8_t> raw(10000);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i % 7);
  EncodedChunk e = encode_chunk(raw, {});
  EXPECT_EQ(e.codec, Codec::Zstd);
  EXPECT_LT(e.payload.size(), raw.size() / 10);
  EXPECT_EQ(roundtrip(raw, {}), raw);
}

TEST(ChunkCodec, RandomBytesFallBackToStored) {
  std::mt19937_64 rng(1);
  std::vector<uint8_t> raw(5000);
  for (auto& b : raw) b = static_cast<uint8_t>(rng());
  EncodedChunk e = encode_chunk(raw, {});
  EXPECT_EQ(e.codec, Codec::Stored);
  EXPECT_EQ(roundtrip(raw, {}), raw);
}

TEST(ChunkCodec, StoredSizeMismatchThrows) {
  std::vector<uint8_t> stored(10), out(11);
  EXPECT_THROW(decode_chunk(Codec::Stored, {}, stored, out, "t"), Error);
}

TEST(ChunkCodec, UnknownCodecThrows) {
  std::vector<uint8_t> stored(10), out(10);
  EXPECT_THROW(decode_chunk(static_cast<Codec>(77), {}, stored, out, "t"), Error);
  EXPECT_FALSE(codec_known(77));
  EXPECT_TRUE(codec_known(0));
}

}  // namespace
}  // namespace pith
