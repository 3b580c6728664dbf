#pragma once
// Symbol streams of FLOAT_SPLIT (docs/FORMAT.md, "Codec 2"): a stream of bytes is
// stored raw, as one repeated byte, or coded with an interleaved rANS coder whose
// frequency tables may depend on a context taken from the previous symbol of the
// same lane (e.g. the exponent of the neighbouring weight).
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/scratch.h"

namespace pith::rans {

constexpr int kMaxLanes = 32;  // streams use 1, 8 or 32 lanes
constexpr int kMaxContexts = 8;
constexpr int kMaxScaleBits = 12;
constexpr int kMinScaleBits = 8;
constexpr uint32_t kStateLow = 1u << 16;  // states live in [2^16, 2^32); renormalisation moves 16 bits

// Maps a symbol to the key its successor's context is chosen by (256 entries).
// nullptr: the stream is coded without contexts.
using KeyMap = const uint8_t*;

// Appends the smallest encoding of `syms` the coder finds to `w`. The output does
// not depend on allow_simd (tests compare the kernels with it).
void encode_stream(std::span<const uint8_t> syms, KeyMap keys, ByteWriter& w, bool allow_simd = true);

// Encoder kernels: the lane groups [g_begin, g_end) of one stream, last group
// first, lanes in reverse (the stream is encoded a block of groups at a time, so
// the table indices of only one block are held).
struct EncJob {
  // Table indices (ctx << 8 | symbol): group g of lane j at (g - g_begin) * lanes + j.
  const uint16_t* index;
  size_t g_begin, g_end;
  int lanes, scale_bits;
  const uint32_t* packed;  // per table index: freq | start << 13
  uint32_t x[kMaxLanes];
  uint16_t* wp;  // words are written downwards from here; 8 writable words below the last
};
void encode_step(EncJob& job, int lane, uint16_t index);  // one symbol of the lane
void encode_groups_scalar(EncJob& job);
void encode_groups_avx2(EncJob& job);  // 8 or 32 lanes, AVX2 CPUs


// Reads one stream of `n` symbols from `r`. Returns where the symbols are: inside the
// reader's buffer for a raw stream, otherwise in `buf` (grown to at least n). Throws
// pith::Error (naming r.what()) on any inconsistency.
const uint8_t* decode_stream(ByteReader& r, size_t n, KeyMap keys, Scratch<uint8_t>& buf);

// The lane-interleaved decoding loop, exposed so tests can compare the kernels.
// tables: one (1 << scale_bits)-entry decode table per context, entry =
// symbol << 24 | (slot - start) << 12 | (freq - 1). Returns false when the word
// stream is exhausted early, not consumed exactly, or a final state is not kStateLow.
struct LaneJob {
  const uint32_t* tables;
  int scale_bits;
  const uint8_t* sym_to_ctx;  // 256 entries, each < number of contexts
  int lanes;                  // 1, 8 or 32
  uint32_t states[kMaxLanes];
  const uint8_t* words;  // little-endian u16 words
  size_t word_count;
  uint8_t* out;
  size_t n;
  // Lane j's symbols go to out + j * lane_stride (the tail after the last lane's);
  // lane_stride >= n / lanes. Decoding with stride n / lanes writes symbol order
  // directly, but when that is a multiple of 4 KiB every lane's store aliases the
  // gathers' loads, so decode_stream decodes with a skewed stride and compacts.
  size_t lane_stride;
};

// One stream as read by decode_stream, before decoding (tests run every kernel on it).
struct ParsedStream {
  const uint8_t* raw = nullptr;  // raw stream: its symbols
  uint8_t constant = 0;          // constant stream (raw == nullptr, !adaptive)
  bool adaptive = false;         // adaptive stream: the reader is at its length
  bool rans = false;             // rANS stream: `job` is set
  std::vector<uint32_t> tables;
  uint8_t sym_to_ctx[256];
  LaneJob job;  // rANS stream: all but `out`
};
// Reads a stream's header; true for a rANS stream, whose p.job then needs only `out`.
bool parse_stream(ByteReader& r, size_t n, KeyMap keys, ParsedStream& p);
// The rest of decode_stream, right after parse_stream (an adaptive stream is read
// from r; a rANS stream's words were taken already, so it may wait).
const uint8_t* decode_parsed(ByteReader& r, ParsedStream& p, size_t n, Scratch<uint8_t>& buf);
// Two 1-lane rANS streams of the same length decoded in one loop: each is a serial
// chain of table lookups, and interleaving two hides much of that latency. True
// when both decode cleanly (as decode_lanes would say of each).
bool decode_single_lane_pair(const LaneJob& a, const LaneJob& b);

bool decode_lanes_scalar(const LaneJob& job);
bool decode_lanes(const LaneJob& job);  // dispatches to the best kernel for this CPU

// Where a kernel stopped: SIMD kernels decode whole groups of the body while a full
// vector of words can be read, then decode_lanes_finish does the rest in scalar code.
struct LaneCursor {
  uint32_t x[kMaxLanes];
  uint32_t base[kMaxLanes];  // offset of the lane's current context table (ctx << scale_bits)
  size_t pos = 0;            // next word
  size_t group = 0;          // next group of the body
};
LaneCursor lane_start(const LaneJob& job);
bool decode_lanes_finish(const LaneJob& job, LaneCursor& c);
bool decode_lanes_avx2(const LaneJob& job);  // only for 8 or 32 lanes, on AVX2 CPUs

}  // namespace pith::rans
