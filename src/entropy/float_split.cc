#include "entropy/float_split.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "common/bytes.h"
#include "common/error.h"
#include "entropy/rans.h"

namespace pith {

namespace {

// Context keys of the first stream: the exponent bits its symbols carry.
template <typename F>
constexpr std::array<uint8_t, 256> key_map(F f) {
  std::array<uint8_t, 256> k{};
  for (int s = 0; s < 256; ++s) k[s] = static_cast<uint8_t>(f(s));
  return k;
}
constexpr auto kKeyWhole = key_map([](int s) { return s; });             // a whole exponent byte
constexpr auto kKeyHigh5 = key_map([](int s) { return (s >> 2) & 31; });  // F8 E5M2
constexpr auto kKeyTop5 = key_map([](int s) { return s >> 3; });          // F16 stream 0
constexpr auto kKeyE4M3 = key_map([](int s) { return (s >> 3) & 15; });
constexpr auto kKeyLow7 = key_map([](int s) { return s & 0x7f; });  // F64 top byte: 7 exponent bits

struct Layout {
  int streams;
  const uint8_t* key0;  // context keys of stream 0; the other streams are order 0
};

Layout layout(DType t) {
  switch (t) {
    case DType::BF16: return {2, kKeyWhole.data()};  // exponent | sign + 7 mantissa bits
    case DType::F16: return {2, kKeyTop5.data()};    // exponent, sign, 2 mantissa bits | 8 mantissa bits
    case DType::F32: return {4, kKeyWhole.data()};   // exponent | sign + 7 mantissa bits | byte 1 | byte 0
    case DType::F64: return {8, kKeyLow7.data()};    // bytes, most significant first
    case DType::F8_E4M3: return {1, kKeyE4M3.data()};
    case DType::F8_E5M2: return {1, kKeyHigh5.data()};
    default: return {0, nullptr};
  }
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// The hot splits and merges take __restrict parameters so the compiler can
// vectorise them without runtime alias checks; -O2's "very cheap" vectoriser
// model refuses loops that need an epilogue, hence the dynamic model here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
void split_bf16(const uint8_t* __restrict p, size_t n, uint8_t* __restrict e, uint8_t* __restrict m) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t v = load<uint16_t>(p + 2 * i);
    e[i] = static_cast<uint8_t>(v >> 7);
    m[i] = static_cast<uint8_t>((v >> 8 & 0x80) | (v & 0x7f));
  }
}

// F16 stream 0 holds the high byte reordered as exponent << 3 | sign << 2 | top 2
// mantissa bits: exponent first, so its key grows with the symbol and the
// adaptive coder's bit tree decides the skewed exponent bits before the flat ones.
void split_f16(const uint8_t* __restrict p, size_t n, uint8_t* __restrict h, uint8_t* __restrict l) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t hi = p[2 * i + 1];
    l[i] = p[2 * i];
    h[i] = static_cast<uint8_t>((hi & 0x7c) << 1 | (hi >> 5 & 4) | (hi & 3));
  }
}

void split_f32(const uint8_t* __restrict p, size_t n, uint8_t* __restrict e, uint8_t* __restrict m,
               uint8_t* __restrict b1, uint8_t* __restrict b0) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t v = load<uint32_t>(p + 4 * i);
    e[i] = static_cast<uint8_t>(v >> 23);
    m[i] = static_cast<uint8_t>((v >> 24 & 0x80) | (v >> 16 & 0x7f));
    b1[i] = static_cast<uint8_t>(v >> 8);
    b0[i] = static_cast<uint8_t>(v);
  }
}

void merge_bf16(const uint8_t* __restrict e, const uint8_t* __restrict m, size_t n, uint8_t* __restrict o) {
  for (size_t i = 0; i < n; ++i)
    store<uint16_t>(o + 2 * i, static_cast<uint16_t>((m[i] & 0x80) << 8 | e[i] << 7 | (m[i] & 0x7f)));
}

void merge_f16(const uint8_t* __restrict h, const uint8_t* __restrict l, size_t n, uint8_t* __restrict o) {
  for (size_t i = 0; i < n; ++i) {
    o[2 * i] = l[i];
    o[2 * i + 1] = static_cast<uint8_t>((h[i] & 4) << 5 | (h[i] >> 1 & 0x7c) | (h[i] & 3));
  }
}

void merge_f32(const uint8_t* __restrict e, const uint8_t* __restrict m, const uint8_t* __restrict b1,
               const uint8_t* __restrict b0, size_t n, uint8_t* __restrict o) {
  for (size_t i = 0; i < n; ++i)
    store<uint32_t>(o + 4 * i, (m[i] & 0x80u) << 24 | uint32_t{e[i]} << 23 | (m[i] & 0x7fu) << 16 |
                                   uint32_t{b1[i]} << 8 | b0[i]);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// Other float types: byte planes, most significant byte first.
void split_planes(const uint8_t* p, size_t n, size_t w, uint8_t* const* s) {
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < w; ++k) s[k][i] = p[i * w + w - 1 - k];
}

void merge_planes(const uint8_t* const* s, size_t n, size_t w, uint8_t* out) {
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < w; ++k) out[i * w + w - 1 - k] = s[k][i];
}

void split(std::span<const uint8_t> raw, DType t, size_t n, uint8_t* const* s) {
  switch (t) {
    case DType::BF16: return split_bf16(raw.data(), n, s[0], s[1]);
    case DType::F16: return split_f16(raw.data(), n, s[0], s[1]);
    case DType::F32: return split_f32(raw.data(), n, s[0], s[1], s[2], s[3]);
    default: return split_planes(raw.data(), n, dtype_size(t), s);
  }
}

void merge(const uint8_t* const* s, DType t, size_t n, uint8_t* out) {
  switch (t) {
    case DType::BF16: return merge_bf16(s[0], s[1], n, out);
    case DType::F16: return merge_f16(s[0], s[1], n, out);
    case DType::F32: return merge_f32(s[0], s[1], s[2], s[3], n, out);
    default: return merge_planes(s, n, dtype_size(t), out);
  }
}

constexpr size_t kKeepScratchBytes = 16 << 20;

}  // namespace

bool float_split_applies(DType t) { return layout(t).streams > 0; }

void float_split_encode(std::span<const uint8_t> raw, DType t, std::vector<uint8_t>& params,
                        std::vector<uint8_t>& payload) {
  const Layout lay = layout(t);
  const size_t n = raw.size() / dtype_size(t);
  thread_local Scratch<uint8_t> planes;  // reused: no zeroing or page faults per chunk
  uint8_t* const base = planes.get(n * lay.streams);
  uint8_t* s[8];
  for (int k = 0; k < lay.streams; ++k) s[k] = base + k * n;
  split(raw, t, n, s);
  ByteWriter w;
  w.buf().reserve(raw.size() + 64);
  for (int k = 0; k < lay.streams; ++k) rans::encode_stream({s[k], n}, k == 0 ? lay.key0 : nullptr, w);
  params.assign(1, static_cast<uint8_t>(t));
  payload = std::move(w.buf());
}

void float_split_decode(std::span<const uint8_t> params, std::span<const uint8_t> stored,
                        std::span<uint8_t> out, const std::string& what) {
  if (params.size() != 1 || !dtype_valid(params[0]) || !float_split_applies(static_cast<DType>(params[0])))
    fail(what, "corrupt FLOAT_SPLIT chunk: params must be one float dtype code");
  const DType t = static_cast<DType>(params[0]);
  const Layout lay = layout(t);
  if (out.size() % dtype_size(t))
    fail(what, "corrupt FLOAT_SPLIT chunk: raw size {} is not a multiple of the {}-byte {}", out.size(),
         dtype_size(t), dtype_name(t));
  const size_t n = out.size() / dtype_size(t);
  ByteReader r(stored, what);
  // Reused: no zeroing or page faults per chunk. Chunks are about 1 MiB; a thread
  // keeps no more than that after an outsized (or failed) one.
  thread_local Scratch<uint8_t> bufs[8];
  auto trim = [&](size_t keep) {
    for (auto& b : bufs) b.trim(keep);
  };
  trim(std::max(kKeepScratchBytes, n));
  // 1-lane rANS streams (small tensors) wait for a second one to decode with.
  thread_local rans::ParsedStream parsed[8];
  const uint8_t* s[8];
  int waiting = -1;
  for (int k = 0; k < lay.streams; ++k) {
    rans::ParsedStream& p = parsed[k];
    if (!rans::parse_stream(r, n, k == 0 ? lay.key0 : nullptr, p) || p.job.lanes != 1) {
      s[k] = rans::decode_parsed(r, p, n, bufs[k]);
    } else if (waiting < 0) {
      waiting = k;
    } else {
      rans::ParsedStream& q = parsed[waiting];
      s[waiting] = q.job.out = bufs[waiting].get(n);
      s[k] = p.job.out = bufs[k].get(n);
      if (!rans::decode_single_lane_pair(q.job, p.job))
        fail(what, "corrupt: rANS stream does not decode to {} symbols", n);
      waiting = -1;
    }
  }
  if (waiting >= 0) s[waiting] = rans::decode_parsed(r, parsed[waiting], n, bufs[waiting]);
  if (!r.done()) fail(what, "corrupt FLOAT_SPLIT chunk: {} bytes after the last stream", r.remaining());
  merge(s, t, n, out.data());
  trim(kKeepScratchBytes);
}

}  // namespace pith
