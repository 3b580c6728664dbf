#include "entropy/rans.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "common/cpu.h"
#include "common/error.h"
#include "entropy/adaptive.h"
#include "entropy/varint.h"

namespace pith::rans {

namespace {

enum Mode : uint8_t { kRaw = 0, kConst = 1, kRans = 2, kAdaptive = 3 };

// Large streams are coded only when that saves at least 3%: a mantissa stream that
// saves 2% would halve FLOAT_SPLIT's decoding speed (measured on BF16 weights).
constexpr size_t kSpeedFirstSymbols = 65536;
constexpr double kSpeedFirstSaving = 0.97;  // coded size / raw size at most

// Streams up to this many symbols also try the adaptive coder (no table to pay).
constexpr size_t kAdaptiveMaxSymbols = 4096;

// More lanes decode faster (the SIMD kernel keeps four vectors of states in
// flight with 32 lanes, one with 8) but each costs a 4-byte final state: from
// 16384 symbols on, the 96 bytes of 32 lanes are under 1% of a coded stream,
// and 8 lanes decoded those streams at half the speed. Smaller streams use one.
int lanes_log2_for(size_t n) { return n < 16384 ? 0 : 5; }

// A normalised frequency table: the present symbols in increasing order with
// frequencies summing to 1 << scale_bits.
struct Table {
  int m = 0;
  std::array<uint8_t, 256> sym{};
  std::array<uint32_t, 256> freq{};
};

Table normalise(const uint32_t* counts, int scale_bits) {
  Table t;
  uint64_t total = 0;
  for (int s = 0; s < 256; ++s) total += counts[s];
  const uint32_t target = 1u << scale_bits;
  if (total == 0) {  // an unused context still needs a valid table
    t.m = 1;
    t.sym[0] = 0;
    t.freq[0] = target;
    return t;
  }
  int64_t sum = 0;
  int biggest = 0;
  for (int s = 0; s < 256; ++s) {
    if (!counts[s]) continue;
    uint32_t f = static_cast<uint32_t>(static_cast<uint64_t>(counts[s]) * target / total);
    t.sym[t.m] = static_cast<uint8_t>(s);
    t.freq[t.m] = std::max<uint32_t>(f, 1);
    if (counts[s] > counts[t.sym[biggest]]) biggest = t.m;
    sum += t.freq[t.m];
    ++t.m;
  }
  int64_t diff = static_cast<int64_t>(target) - sum;
  if (diff >= 0) {
    t.freq[biggest] += static_cast<uint32_t>(diff);
    return t;
  }
  // Rounding up the rare symbols overshot: take the excess from the largest
  // frequencies, where it costs the fewest bits. m <= 256 <= target, so this ends.
  while (diff < 0) {
    int k = 0;
    for (int i = 1; i < t.m; ++i)
      if (t.freq[i] > t.freq[k]) k = i;
    uint32_t take = static_cast<uint32_t>(std::min<int64_t>(-diff, t.freq[k] - 1));
    t.freq[k] -= take;
    diff += take;
  }
  return t;
}

// Symbols as gaps when few are present, as a 256-bit map when many; frequencies as
// varints of freq - 1, the last one implied by the sum.
constexpr int kBitmapAbove = 32;

void write_table(ByteWriter& w, const Table& t) {
  w.u8(static_cast<uint8_t>(t.m - 1));
  if (t.m > kBitmapAbove) {
    uint8_t bits[32] = {};
    for (int i = 0; i < t.m; ++i) bits[t.sym[i] >> 3] |= static_cast<uint8_t>(1u << (t.sym[i] & 7));
    w.bytes(bits, 32);
  } else {
    int prev = -1;
    for (int i = 0; i < t.m; ++i) {
      w.u8(static_cast<uint8_t>(t.sym[i] - prev - 1));
      prev = t.sym[i];
    }
  }
  for (int i = 0; i + 1 < t.m; ++i) put_varint(w, t.freq[i] - 1);
}

Table read_table(ByteReader& r, int scale_bits) {
  Table t;
  t.m = r.u8("rANS table size") + 1;
  if (t.m > kBitmapAbove) {
    auto bits = r.take(32, "rANS symbol map");
    int m = 0;
    for (int s = 0; s < 256; ++s)
      if (bits[s >> 3] >> (s & 7) & 1) {
        if (m == t.m) fail(r.what(), "corrupt: rANS symbol map has more than {} symbols", t.m);
        t.sym[m++] = static_cast<uint8_t>(s);
      }
    if (m != t.m) fail(r.what(), "corrupt: rANS symbol map has {} symbols, table says {}", m, t.m);
  } else {
    int prev = -1;
    for (int i = 0; i < t.m; ++i) {
      int s = prev + 1 + r.u8("rANS symbol");
      if (s > 255) fail(r.what(), "corrupt: rANS table symbol {} out of range", s);
      t.sym[i] = static_cast<uint8_t>(s);
      prev = s;
    }
  }
  const uint64_t target = 1u << scale_bits;
  uint64_t sum = 0;
  for (int i = 0; i + 1 < t.m; ++i) {
    uint64_t v = get_varint(r, "rANS frequency");
    if (v >= target) fail(r.what(), "corrupt: rANS frequency {} exceeds {}", v + 1, target);
    uint64_t f = v + 1;
    sum += f;
    if (sum >= target) fail(r.what(), "corrupt: rANS frequencies exceed {}", target);
    t.freq[i] = static_cast<uint32_t>(f);
  }
  t.freq[t.m - 1] = static_cast<uint32_t>(target - sum);
  return t;
}

// Estimated bits of coding `counts` with its own table (ideal code length plus
// the table), used to choose contexts without building every table.
// log2 of small counts from a table: cost_bits runs thousands of times per chunk.
double log2_count(uint32_t c) {
  static const auto table = [] {
    std::array<float, 4096> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = static_cast<float>(std::log2(static_cast<double>(i)));
    return t;
  }();
  return c < table.size() ? table[c] : std::log2(static_cast<double>(c));
}

double cost_bits(const uint32_t* counts, const uint8_t* present, int np, int scale_bits) {
  uint64_t total = 0;
  int m = 0;
  for (int i = 0; i < np; ++i) {
    uint32_t c = counts[present[i]];
    total += c;
    m += c != 0;
  }
  if (total == 0) return 16;
  double bits = 0, table = 1 + (m > kBitmapAbove ? 32 : m);
  const double lt = log2_count(static_cast<uint32_t>(std::min<uint64_t>(total, UINT32_MAX)));
  const double scale = static_cast<double>(1u << scale_bits) / static_cast<double>(total);
  for (int i = 0; i < np; ++i) {
    uint32_t c = counts[present[i]];
    if (!c) continue;
    bits += c * (lt - log2_count(c));
    table += varint_len(static_cast<uint64_t>(std::max(1.0, c * scale)) - 1);
  }
  return bits + 8 * table;
}

// Ideal order-0 code length of the counts, without a table.
double ideal_bits(const uint32_t* counts, const uint8_t* present, int np) {
  uint64_t total = 0;
  for (int i = 0; i < np; ++i) total += counts[present[i]];
  const double lt = std::log2(static_cast<double>(total));
  double bits = 0;
  for (int i = 0; i < np; ++i)
    if (uint32_t c = counts[present[i]]) bits += c * (lt - log2_count(c));
  return bits;
}

struct Lanes {
  int lanes;
  size_t seg;
  size_t begin(int j) const { return j * seg; }
  size_t end(int j, size_t n) const { return j == lanes - 1 ? n : (j + 1) * seg; }
};

Lanes lanes_for(size_t n, int lanes) { return {lanes, n / static_cast<size_t>(lanes)}; }

// Context choice: the keys present are cut into up to kMaxContexts intervals,
// greedily splitting where the estimated size drops most.
struct ContextPlan {
  std::vector<uint8_t> thresholds;  // ctx = number of thresholds <= key
  std::vector<uint32_t> counts;     // (thresholds + 1) x 256 symbol counts per context
  double bits = 0;
};

// Symbol counts by the key of the symbol's predecessor in its lane, as prefix sums
// over the keys that occur: row 0 counts the lane starts (context 0), row i + 1 adds
// the symbols after keys[i]. The last row is the order-0 histogram.
struct KeyCounts {
  std::vector<uint8_t> keys;
  std::vector<uint32_t> prefix;
  const uint32_t* order0() const { return &prefix[keys.size() * 256]; }
};

KeyCounts count_by_key(std::span<const uint8_t> syms, KeyMap keys, const Lanes& L) {
  // Reused between calls; the rows used are cleared again before returning. calloc:
  // fresh heap memory is known to be zero, so only the rows used (a few dozen
  // exponent keys) are ever touched, not all 257 KiB.
  thread_local std::unique_ptr<uint32_t[], decltype(&std::free)> hist(
      static_cast<uint32_t*>(std::calloc(257 * 256, sizeof(uint32_t))), &std::free);  // row 256: lane starts
  if (!hist) throw std::bad_alloc();
  bool seen[256] = {};
  const size_t n = syms.size();
  for (int j = 0; j < L.lanes; ++j) {
    size_t b = L.begin(j), e = L.end(j, n);
    if (b == e) continue;
    hist[256 * 256 + syms[b]]++;
    for (size_t i = b + 1; i < e; ++i) {
      const uint8_t k = keys[syms[i - 1]];
      seen[k] = true;
      hist[k * 256 + syms[i]]++;
    }
  }
  KeyCounts kc;
  for (int k = 0; k < 256; ++k)
    if (seen[k]) kc.keys.push_back(static_cast<uint8_t>(k));
  const size_t m = kc.keys.size();
  kc.prefix.resize((m + 1) * 256);
  std::memcpy(kc.prefix.data(), &hist[256 * 256], 256 * sizeof(uint32_t));
  for (size_t i = 0; i < m; ++i)
    for (int s = 0; s < 256; ++s) kc.prefix[(i + 1) * 256 + s] = kc.prefix[i * 256 + s] + hist[kc.keys[i] * 256 + s];
  for (uint8_t k : kc.keys) std::fill_n(&hist[k * 256], 256, 0);
  std::fill_n(&hist[256 * 256], 256, 0);
  return kc;
}

// kc: nullptr for a stream without contexts.
ContextPlan plan_contexts(const KeyCounts* kc, int scale_bits, const uint32_t* order0) {
  uint8_t present_syms[256];
  int np = 0;
  for (int s = 0; s < 256; ++s)
    if (order0[s]) present_syms[np++] = static_cast<uint8_t>(s);
  ContextPlan plan;
  plan.bits = cost_bits(order0, present_syms, np, scale_bits);
  plan.counts.assign(order0, order0 + 256);
  if (!kc || kc->keys.size() < 2) return plan;
  const std::vector<uint8_t>& pk = kc->keys;
  const std::vector<uint32_t>& prefix = kc->prefix;
  const size_t m = pk.size();
  auto interval_cost = [&](size_t a, size_t b) {
    uint32_t c[256];
    for (int i = 0; i < np; ++i) {
      int s = present_syms[i];
      c[s] = prefix[b * 256 + s] - (a ? prefix[a * 256 + s] : 0);
    }
    return cost_bits(c, present_syms, np, scale_bits);
  };
  // Interval i covers pk[cuts[i]..cuts[i+1]); the first one also holds the lane
  // starts, so it starts at prefix row 0. Each interval remembers its best split,
  // so a round only searches the two intervals the last split made.
  struct Split {
    double gain = 0, l = 0, r = 0;
    size_t cut = 0;  // 0: no split pays
  };
  auto best_split = [&](size_t a, size_t b, double cost) {
    Split best;
    best.gain = 8;  // a threshold byte must pay for itself
    for (size_t c = a + 1; c < b; ++c) {
      double l = interval_cost(a, c), r = interval_cost(c, b);
      if (cost - l - r > best.gain) best = {cost - l - r, l, r, c};
    }
    return best;
  };
  std::vector<size_t> cuts = {0, m};
  std::vector<double> costs = {interval_cost(0, m)};
  std::vector<Split> splits = {best_split(0, m, costs[0])};
  while (costs.size() < static_cast<size_t>(kMaxContexts)) {
    size_t i = 0;
    for (size_t k = 1; k < splits.size(); ++k)
      if (splits[k].cut && (!splits[i].cut || splits[k].gain > splits[i].gain)) i = k;
    if (!splits[i].cut) break;
    const Split sp = splits[i];
    cuts.insert(cuts.begin() + i + 1, sp.cut);
    costs[i] = sp.l;
    costs.insert(costs.begin() + i + 1, sp.r);
    splits[i] = best_split(cuts[i], cuts[i + 1], sp.l);
    splits.insert(splits.begin() + i + 1, best_split(cuts[i + 1], cuts[i + 2], sp.r));
  }
  double total = 0;
  for (double c : costs) total += c;
  total += 8.0 * (costs.size() - 1);
  if (total < plan.bits) {
    plan.bits = total;
    for (size_t i = 1; i + 1 < cuts.size(); ++i) plan.thresholds.push_back(pk[cuts[i]]);
    plan.counts.assign(costs.size() * 256, 0);
    for (size_t c = 0; c < costs.size(); ++c)
      for (int s = 0; s < 256; ++s)
        plan.counts[c * 256 + s] = prefix[cuts[c + 1] * 256 + s] - (c ? prefix[cuts[c] * 256 + s] : 0);
  }
  return plan;
}

void build_sym_to_ctx(KeyMap keys, std::span<const uint8_t> thresholds, uint8_t* s2c) {
  for (int s = 0; s < 256; ++s) {
    int c = 0;
    if (keys)
      for (uint8_t t : thresholds) c += t <= keys[s];
    s2c[s] = static_cast<uint8_t>(c);
  }
}

void encode_rans(std::span<const uint8_t> syms, KeyMap keys, const ContextPlan& plan, const Lanes& L,
                 int scale_bits, ByteWriter& w, bool allow_simd) {
  const size_t n = syms.size();
  const int K = static_cast<int>(plan.thresholds.size()) + 1;
  uint8_t s2c[256];
  build_sym_to_ctx(keys, plan.thresholds, s2c);

  std::vector<uint32_t> packed(K * 256, 0);
  w.u8(kRans);
  w.u8(static_cast<uint8_t>(std::countr_zero(static_cast<unsigned>(L.lanes)) << 4 | (scale_bits - kMinScaleBits)));
  w.u8(static_cast<uint8_t>(K));
  for (uint8_t t : plan.thresholds) w.u8(t);
  for (int c = 0; c < K; ++c) {
    Table t = normalise(&plan.counts[c * 256], scale_bits);
    write_table(w, t);
    uint32_t start = 0;
    for (int i = 0; i < t.m; ++i) {
      packed[c * 256 + t.sym[i]] = t.freq[i] | start << 13;
      start += t.freq[i];
    }
  }

  auto value = [&](size_t i, size_t lane_begin) {  // table index (ctx << 8 | symbol); a lane starts in context 0
    return static_cast<uint16_t>(i == lane_begin ? syms[i] : s2c[syms[i - 1]] << 8 | syms[i]);
  };
  // The decoder reads in lane order, group by group, then the tail of the last lane;
  // the encoder runs that order backwards, filling the words from the back.
  // At most one word per symbol, written downwards from the end; 8 below for SIMD stores.
  thread_local Scratch<uint16_t> index, words;  // reused: no page faults per chunk
  uint16_t* wend = words.get(n + 1 + 8) + n + 1 + 8;
  EncJob job{nullptr, 0, 0, L.lanes, scale_bits, packed.data(), {}, wend};
  for (int j = 0; j < L.lanes; ++j) job.x[j] = kStateLow;
  const int last = L.lanes - 1;
  for (size_t i = L.end(last, n); i-- > L.begin(last) + L.seg;) encode_step(job, last, value(i, L.begin(last)));
  // Groups in blocks of 64, group-major (symbol g of lane j at g * lanes + j) so a
  // group's indices are one vector load: 4 KiB stay in L1 where indices for the
  // whole stream (2 bytes a symbol) had been written out and read back.
  constexpr size_t kBlock = 64;
  uint16_t* const idx = index.get(kBlock * static_cast<size_t>(L.lanes));
  [[maybe_unused]] const bool simd = allow_simd && L.lanes >= 8 && simd_level() >= SimdLevel::AVX2;
  for (size_t g1 = L.seg; g1 > 0;) {
    const size_t g0 = g1 > kBlock ? g1 - kBlock : 0;
    for (int j = 0; j < L.lanes; ++j)
      for (size_t g = g0; g < g1; ++g) idx[(g - g0) * L.lanes + j] = value(L.begin(j) + g, L.begin(j));
    job.index = idx;
    job.g_begin = g0;
    job.g_end = g1;
#if defined(__x86_64__)
    if (simd)
      encode_groups_avx2(job);
    else
#endif
      encode_groups_scalar(job);
    g1 = g0;
  }
  for (int j = 0; j < L.lanes; ++j) w.u32(job.x[j]);
  put_varint(w, static_cast<uint64_t>(wend - job.wp));
  w.bytes(job.wp, static_cast<size_t>(wend - job.wp) * sizeof(uint16_t));
}

// Large streams must save 3% (see kSpeedFirstSymbols); the order-0 entropy of every
// 8th symbol tells most that cannot (mantissa bytes) without a full histogram.
bool sample_says_raw(std::span<const uint8_t> syms) {
  uint32_t h[256] = {};
  for (size_t i = 0; i < syms.size(); i += 8) h[syms[i]]++;
  uint8_t all[256];
  int na = 0;
  for (int s = 0; s < 256; ++s)
    if (h[s]) all[na++] = static_cast<uint8_t>(s);
  const double sampled = static_cast<double>((syms.size() + 7) / 8);
  return ideal_bits(h, all, na) >= 8.0 * sampled * kSpeedFirstSaving;
}

}  // namespace

void encode_step(EncJob& job, int lane, uint16_t index) {
  const uint32_t p = job.packed[index];
  const uint32_t f = p & 0x1fff, start = p >> 13, M = 1u << job.scale_bits;
  uint32_t x = job.x[lane];
  // Largest state that takes the symbol without renormalising; wraps to 2^32 - 1 for f = M.
  const uint32_t xm1 = (f << (32 - job.scale_bits)) - 1;
  const bool flush = x > xm1;  // branch-free: the flush is a coin toss per symbol
  job.wp[-1] = static_cast<uint16_t>(x);
  job.wp -= flush;
  x = flush ? x >> 16 : x;
  const uint32_t q = x / f;
  job.x[lane] = x + start + q * (M - f);  // = q * M + x % f + start
}

void encode_groups_scalar(EncJob& job) {
  for (size_t g = job.g_end; g-- > job.g_begin;)
    for (int j = job.lanes; j-- > 0;) encode_step(job, j, job.index[(g - job.g_begin) * job.lanes + j]);
}

void encode_stream(std::span<const uint8_t> syms, KeyMap keys, ByteWriter& w, bool allow_simd) {
  const size_t n = syms.size();
  if (n >= kSpeedFirstSymbols && sample_says_raw(syms)) {
    w.u8(kRaw);
    w.bytes(syms);
    return;
  }
  const Lanes L = lanes_for(n, 1 << lanes_log2_for(n));
  // A stream with contexts gets its order-0 histogram from the counts by key.
  KeyCounts kc;
  uint32_t order0[256];
  if (keys) {
    kc = count_by_key(syms, keys, L);
    std::memcpy(order0, kc.order0(), sizeof(order0));
  } else {
    uint32_t h[4][256] = {};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {  // four histograms hide the store-to-load latency of repeats
      h[0][syms[i]]++;
      h[1][syms[i + 1]]++;
      h[2][syms[i + 2]]++;
      h[3][syms[i + 3]]++;
    }
    for (; i < n; ++i) h[0][syms[i]]++;
    for (int s = 0; s < 256; ++s) order0[s] = h[0][s] + h[1][s] + h[2][s] + h[3][s];
  }
  int present = 0;
  for (int s = 0; s < 256; ++s) present += order0[s] != 0;
  if (present == 1) {
    w.u8(kConst);
    w.u8(syms[0]);
    return;
  }
  auto raw = [&] {
    w.u8(kRaw);
    w.bytes(syms);
  };
  if (n == 0) return raw();
  const int scale_bits = std::clamp(static_cast<int>(std::bit_width(n)), kMinScaleBits, kMaxScaleBits);
  uint8_t all[256];
  int na = 0;
  for (int s = 0; s < 256; ++s)
    if (order0[s]) all[na++] = static_cast<uint8_t>(s);
  // Order-0 estimates decide which coders are worth running at all.
  const double order0_bits = cost_bits(order0, all, na, scale_bits), ideal = ideal_bits(order0, all, na);
  // The adaptive coder (slow: 8 binary decisions a symbol) wins by saving the table:
  // tried on small streams where the table is a twentieth of the estimate or more
  // and order 0 compresses at all (not mantissas). A copy of a small stream is cheap.
  std::vector<uint8_t> adaptive_coded;
  if (n <= kAdaptiveMaxSymbols && ideal < 8.0 * n * 0.99 && order0_bits - ideal > 0.05 * order0_bits) {
    ByteWriter a;
    a.u8(kAdaptive);
    adaptive::encode(syms, a);
    adaptive_coded = std::move(a.buf());
  }
  // The rANS candidate is written in place and cut off again if it loses.
  if (order0_bits < 8.0 * n * (n < kSpeedFirstSymbols ? 0.995 : kSpeedFirstSaving)) {
    const size_t at = w.size();
    ContextPlan plan = plan_contexts(keys ? &kc : nullptr, scale_bits, order0);
    encode_rans(syms, keys, plan, L, scale_bits, w, allow_simd);
    const size_t size = w.size() - at;
    if (size < n + 1 && (adaptive_coded.empty() || size <= adaptive_coded.size())) return;
    w.buf().resize(at);
  }
  if (!adaptive_coded.empty() && adaptive_coded.size() < n + 1) return w.bytes(adaptive_coded);
  raw();
}

LaneCursor lane_start(const LaneJob& job) {
  LaneCursor c;
  for (int j = 0; j < kMaxLanes; ++j) {
    c.x[j] = j < job.lanes ? job.states[j] : kStateLow;
    c.base[j] = 0;  // every lane starts in context 0
  }
  return c;
}

namespace {

// One symbol of lane j, written to job.out[i]. Branch-free refill: a read past the
// last word yields 0 and shows up as pos != word_count at the end, so corrupt
// input costs no check in the loop.
inline void decode_step(const LaneJob& job, LaneCursor& c, int j, size_t i) {
  static const uint8_t kZeroWord[2] = {};
  const int sb = job.scale_bits;
  uint32_t x = c.x[j];
  uint32_t e = job.tables[c.base[j] + (x & ((1u << sb) - 1))];
  uint8_t s = static_cast<uint8_t>(e >> 24);
  job.out[i] = s;
  x = ((e & 0xfff) + 1) * (x >> sb) + ((e >> 12) & 0xfff);
  const uint8_t* src = c.pos < job.word_count ? job.words + 2 * c.pos : kZeroWord;
  uint32_t wd = src[0] | uint32_t{src[1]} << 8;
  bool need = x < kStateLow;
  c.x[j] = need ? x << 16 | wd : x;
  c.pos += need;
  c.base[j] = static_cast<uint32_t>(job.sym_to_ctx[s]) << sb;
}

bool decode_ended(const LaneJob& job, const LaneCursor& c) {
  if (c.pos != job.word_count) return false;
  for (int j = 0; j < job.lanes; ++j)
    if (c.x[j] != kStateLow) return false;
  return true;
}

}  // namespace

bool decode_lanes_finish(const LaneJob& job, LaneCursor& c) {
  const int lanes = job.lanes;
  const size_t seg = job.n / lanes, stride = job.lane_stride;
  for (; c.group < seg; ++c.group)
    for (int j = 0; j < lanes; ++j) decode_step(job, c, j, j * stride + c.group);
  for (size_t i = seg; i < job.n - seg * (lanes - 1); ++i) decode_step(job, c, lanes - 1, (lanes - 1) * stride + i);
  return decode_ended(job, c);
}

bool decode_single_lane_pair(const LaneJob& a, const LaneJob& b) {
  LaneCursor ca = lane_start(a), cb = lane_start(b);
  for (size_t i = 0; i < a.n; ++i) {
    decode_step(a, ca, 0, i);
    decode_step(b, cb, 0, i);
  }
  return decode_ended(a, ca) && decode_ended(b, cb);
}

bool decode_lanes_scalar(const LaneJob& job) {
  LaneCursor c = lane_start(job);
  return decode_lanes_finish(job, c);
}

bool decode_lanes(const LaneJob& job) {
#if defined(__x86_64__)
  if (job.lanes >= 8 && simd_level() >= SimdLevel::AVX2) return decode_lanes_avx2(job);
#endif
  return decode_lanes_scalar(job);
}

bool parse_stream(ByteReader& r, size_t n, KeyMap keys, ParsedStream& p) {
  p.raw = nullptr;
  p.constant = 0;
  p.adaptive = false;
  p.rans = false;
  uint8_t mode = r.u8("stream mode");
  if (mode == kRaw) {
    p.raw = r.take(n, "raw stream").data();
    return false;
  }
  if (mode == kConst) {
    p.constant = r.u8("constant symbol");
    p.raw = nullptr;
    return false;
  }
  if (mode == kAdaptive) {
    p.adaptive = true;
    return false;
  }
  if (mode != kRans) fail(r.what(), "corrupt: unknown stream mode {}", mode);
  uint8_t shape = r.u8("rANS shape");
  const int lanes_log2 = shape >> 4, scale_bits = (shape & 15) + kMinScaleBits;
  if ((lanes_log2 != 0 && lanes_log2 != 3 && lanes_log2 != 5) || scale_bits > kMaxScaleBits)
    fail(r.what(), "corrupt: rANS shape byte {:#x}", shape);
  const int K = r.u8("context count");
  if (K < 1 || K > kMaxContexts || (K > 1 && !keys)) fail(r.what(), "corrupt: {} contexts", K);
  auto thresholds = r.take(K - 1, "context thresholds");
  for (int i = 1; i + 1 < K; ++i)
    if (thresholds[i] <= thresholds[i - 1]) fail(r.what(), "corrupt: context thresholds not increasing");
  p.tables.resize(static_cast<size_t>(K) << scale_bits);
  for (int c = 0; c < K; ++c) {
    Table t = read_table(r, scale_bits);
    uint32_t* tab = p.tables.data() + (static_cast<size_t>(c) << scale_bits);
    uint32_t start = 0;
    for (int i = 0; i < t.m; ++i) {
      uint32_t base = static_cast<uint32_t>(t.sym[i]) << 24 | (t.freq[i] - 1);
      for (uint32_t k = 0; k < t.freq[i]; ++k) tab[start + k] = base | k << 12;
      start += t.freq[i];
    }
  }
  build_sym_to_ctx(keys, thresholds, p.sym_to_ctx);
  LaneJob& job = p.job;
  job.lanes = 1 << lanes_log2;
  for (int j = 0; j < job.lanes; ++j) {
    job.states[j] = r.u32("rANS state");
    if (job.states[j] < kStateLow) fail(r.what(), "corrupt: rANS state {} below {}", job.states[j], kStateLow);
  }
  uint64_t wc = get_varint(r, "rANS word count");
  if (wc > r.remaining() / 2) fail(r.what(), "corrupt: rANS stream claims {} words, {} bytes left", wc, r.remaining());
  job.words = r.take(wc * 2, "rANS words").data();
  job.word_count = wc;
  job.tables = p.tables.data();
  job.scale_bits = scale_bits;
  job.sym_to_ctx = p.sym_to_ctx;
  job.out = nullptr;
  job.n = n;
  job.lane_stride = n / job.lanes;
  p.rans = true;
  return true;
}

const uint8_t* decode_stream(ByteReader& r, size_t n, KeyMap keys, Scratch<uint8_t>& buf) {
  thread_local ParsedStream p;  // its tables are reused from chunk to chunk
  parse_stream(r, n, keys, p);
  return decode_parsed(r, p, n, buf);
}

const uint8_t* decode_parsed(ByteReader& r, ParsedStream& p, size_t n, Scratch<uint8_t>& buf) {
  if (!p.rans) {
    if (p.raw) return p.raw;
    uint8_t* const out = buf.get(n);
    if (p.adaptive)
      adaptive::decode(r, {out, n});
    else
      std::memset(out, p.constant, n);
    return out;
  }
  buf.get(n);
  LaneJob& job = p.job;
  const size_t seg = n / job.lanes;
  if (job.lanes == 1 || seg % 4096 != 0) {
    job.out = buf.data();
    if (!decode_lanes(job)) fail(r.what(), "corrupt: rANS stream does not decode to {} symbols", n);
    return buf.data();
  }
  // Lane j at j * (seg + 128) mod 4 KiB: the lanes' stores spread over the whole page.
  job.lane_stride = seg + 128;
  thread_local Scratch<uint8_t> skewed;
  job.out = skewed.get(job.lane_stride * job.lanes);
  if (!decode_lanes(job)) fail(r.what(), "corrupt: rANS stream does not decode to {} symbols", n);
  for (int j = 0; j < job.lanes; ++j) {
    const size_t len = j == job.lanes - 1 ? n - seg * j : seg;
    std::memcpy(buf.data() + seg * j, skewed.data() + job.lane_stride * j, len);
  }
  skewed.trim(16u << 20);  // chunks are ~1 MiB
  return buf.data();
}

}  // namespace pith::rans
