#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

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

constexpr DType kFloatTypes[] = {DType::F16, DType::BF16, DType::F32, DType::F64, DType::F8_E4M3, DType::F8_E5M2};

// Weight-like elements: random sign and mantissa, exponents clustered a few
// binades below 1 as in trained weights; `special` sprinkles NaNs with payloads,
// infinities, denormals and signed zeros.
std::vector<uint8_t> weights(DType t, size_t n, uint64_t seed, bool special) {
  const FloatLayout f = dtype_float_layout(t);
  const size_t w = dtype_size(t);
  const uint64_t emax = (1ull << f.exponent_bits) - 1, bias = emax / 2;
  std::mt19937_64 rng(seed);
  std::geometric_distribution<int> geo(0.45);
  std::vector<uint8_t> out(n * w);
  for (size_t i = 0; i < n; ++i) {
    uint64_t sign = rng() & 1, mant = rng() & ((1ull << f.mantissa_bits) - 1);
    int64_t e = static_cast<int64_t>(bias) - 2 - geo(rng);
    uint64_t exp = static_cast<uint64_t>(std::clamp<int64_t>(e, 1, static_cast<int64_t>(emax) - 1));
    if (special) switch (rng() % 16) {
        case 0: exp = emax, mant = mant | 1; break;  // NaN, payload kept
        case 1: exp = emax, mant = 0; break;         // +-inf
        case 2: exp = 0; break;                      // denormal (or zero)
        case 3: exp = 0, mant = 0; break;            // +-0
        default: break;
      }
    uint64_t bits = sign << (f.mantissa_bits + f.exponent_bits) | exp << f.mantissa_bits | mant;
    std::memcpy(&out[i * w], &bits, w);
  }
  return out;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(FloatSplit, RoundTripEveryFloatType) {
  for (DType t : kFloatTypes) {
    const size_t w = dtype_size(t);
    for (size_t n : {0, 1, 7, 9, 100, 16383, 16387, 300001}) {
      for (bool special : {false, true}) {
        auto raw = weights(t, n, n * 31 + w, special);
        ChunkHint hint{true, t, 3};
        EncodedChunk e = encode_chunk(raw, hint);
        std::vector<uint8_t> out(raw.size());
        decode_chunk(e.codec, e.params, e.payload, out, "test");
        ASSERT_EQ(out, raw) << dtype_name(t) << " n=" << n;
        if (n >= 16383 && w <= 4) {
          if (n > 65536) {
            EXPECT_EQ(e.codec, Codec::FloatSplit) << dtype_name(t) << " n=" << n;
          }
          EXPECT_LT(e.payload.size(), raw.size() * 0.95) << dtype_name(t) << " n=" << n;
        }
      }
      auto raw = random_bytes(n * w, n);  // every bit pattern, incompressible
      EncodedChunk e = encode_chunk(raw, {true, t, 3});
      EXPECT_LE(e.payload.size() + e.params.size(), raw.size());
      std::vector<uint8_t> out(raw.size());
      decode_chunk(e.codec, e.params, e.payload, out, "test");
      ASSERT_EQ(out, raw) << dtype_name(t) << " random n=" << n;
    }
  }
}

TEST(FloatSplit, AllEqualElements) {
  std::vector<uint8_t> raw(4 * 10000);
  for (size_t i = 0; i < raw.size(); i += 4) {
    float v = -0.0f;
    std::memcpy(&raw[i], &v, 4);
  }
  EncodedChunk e = encode_chunk(raw, {true, DType::F32, 3});
  EXPECT_LT(e.payload.size(), 64u);
  std::vector<uint8_t> out(raw.size());
  decode_chunk(e.codec, e.params, e.payload, out, "test");
  EXPECT_EQ(out, raw);
}

EncodedChunk float_split_of(std::span<const uint8_t> raw, DType t) {
  EncodedChunk e = encode_chunk(raw, {true, t, 3});
  EXPECT_EQ(e.codec, Codec::FloatSplit);
  return e;
}

TEST(FloatSplit, BadParamsThrow) {
  auto raw = weights(DType::BF16, 20000, 1, false);
  EncodedChunk e = float_split_of(raw, DType::BF16);
  std::vector<uint8_t> out(raw.size());
  const std::vector<std::vector<uint8_t>> bad = {{}, {static_cast<uint8_t>(DType::I32)}, {99}, {10, 0}};
  for (const auto& p : bad) EXPECT_THROW(decode_chunk(Codec::FloatSplit, p, e.payload, out, "t"), Error);
  std::vector<uint8_t> odd(raw.size() - 1);
  EXPECT_THROW(decode_chunk(Codec::FloatSplit, e.params, e.payload, odd, "t"), Error);
  std::vector<uint8_t> longer(raw.size() + 2);
  EXPECT_THROW(decode_chunk(Codec::FloatSplit, e.params, e.payload, longer, "t"), Error);
  // F16 params on BF16 streams: same element size, different context keys.
  try {
    std::vector<uint8_t> f16 = {static_cast<uint8_t>(DType::F16)};
    decode_chunk(Codec::FloatSplit, f16, e.payload, out, "t");
  } catch (const Error&) {
  }
}

TEST(FloatSplit, ErrorNamesTheChunk) {
  auto raw = weights(DType::F32, 20000, 2, false);
  EncodedChunk e = float_split_of(raw, DType::F32);
  e.payload.resize(e.payload.size() / 2);
  std::vector<uint8_t> out(raw.size());
  try {
    decode_chunk(e.codec, e.params, e.payload, out, "model.pith: section w chunk 3");
    FAIL() << "truncated chunk decoded";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("model.pith: section w chunk 3"), std::string::npos) << err.what();
  }
}

TEST(FloatSplit, RandomCorruptionThrowsOrDecodes) {
  std::mt19937_64 rng(11);
  for (DType t : {DType::BF16, DType::F16, DType::F32, DType::F8_E4M3}) {
    for (size_t n : {60, 5000, 40000}) {
      auto raw = weights(t, n, n, true);
      EncodedChunk e = encode_chunk(raw, {true, t, 3});
      if (e.codec != Codec::FloatSplit) continue;
      std::vector<uint8_t> out(raw.size());
      for (int iter = 0; iter < 300; ++iter) {
        auto bad = e.payload;
        if (iter % 3 == 0) bad.resize(rng() % bad.size());
        else if (iter % 3 == 1) bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        else bad[rng() % std::min<size_t>(bad.size(), 100)] = static_cast<uint8_t>(rng());
        try {
          decode_chunk(e.codec, e.params, bad, out, "t");
        } catch (const Error&) {
        }
      }
    }
  }
}

// The acceptance figures of docs/FORMAT.md's FLOAT_SPLIT, per tensor, on the
// shared weights (the container adds ~100 bytes per tensor on top).
struct Ratio {
  const char* file;
  double max_ratio;
};

TEST(FloatSplit, SharedWeightsRatios) {
  const std::string dir = std::string(PITH_SHARED_DATA) + "/weights/";
  for (Ratio r : {Ratio{"ppocrv4_rec.bf16.safetensors", 0.672}, Ratio{"ppocrv4_rec.f16.safetensors", 0.846},
                  Ratio{"ppocrv4_rec.f32.safetensors", 0.836}}) {
    std::ifstream f(dir + r.file, std::ios::binary);
    if (!f) GTEST_SKIP() << "no shared data at " << dir;
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
    uint64_t hn;
    std::memcpy(&hn, bytes.data(), 8);
    auto j = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<ptrdiff_t>(hn));
    const uint8_t* data = bytes.data() + 8 + hn;
    uint64_t stored = 0;
    std::vector<uint8_t> out;
    for (auto& [name, v] : j.items()) {
      if (name == "__metadata__") continue;
      DType t = *dtype_from_name(v["dtype"].get<std::string>());
      uint64_t b = v["data_offsets"][0], e = v["data_offsets"][1];
      std::span<const uint8_t> raw(data + b, e - b);
      EncodedChunk c = encode_chunk(raw, {true, t, 3});
      out.resize(raw.size());
      decode_chunk(c.codec, c.params, c.payload, out, name);
      ASSERT_TRUE(std::equal(out.begin(), out.end(), raw.begin())) << r.file << " " << name;
      stored += c.payload.size() + c.params.size();
    }
    EXPECT_LT(static_cast<double>(stored) / static_cast<double>(bytes.size()), r.max_ratio) << r.file;
  }
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
