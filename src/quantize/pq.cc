#include "quantize/pq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "common/error.h"
#include "common/parallel.h"
#include "quantize/kmeans.h"
#include "quantize/pq_kernels.h"

namespace pith {

namespace {

constexpr int kTrainIters = 25;
// Each codebook trains on at most this many vectors. FAISS stops at 256 per
// centroid (65,536); training on all 100,000 sift128 vectors instead raised
// pq8x8 recall@10 from 0.455 to 0.464, and the cost stays linear.
constexpr size_t kMaxTrain = 1 << 18;
// Rows encoded per work item: keeps the sub-vector buffers small and gives
// threads independent pieces.
constexpr size_t kEncodeChunk = 1024;

class PQScanner8 final : public CodeScanner {
 public:
  PQScanner8(std::vector<float> lut, size_t m) : lut_(std::move(lut)), m_(m), k_(pq_kernels()) {}
  void scan(const uint8_t* codes, size_t n, float* dist) const override { k_.scan8(lut_.data(), m_, codes, n, dist); }

 private:
  std::vector<float> lut_;
  size_t m_;
  const PqKernels& k_;
};

class PQScanner4fs final : public CodeScanner {
 public:
  // Quantizes the float tables to 7 bits (what the kernels need) with one scale
  // for all sub-quantizers, so the integer sums stay comparable, and each table's
  // minimum moved into `bias_`.
  PQScanner4fs(const std::vector<float>& lut, size_t m) : npairs_((m + 1) / 2), k_(pq_kernels()) {
    lut8_.assign(fs_lut_bytes(npairs_), 0);
    float range = 0;
    std::vector<float> mins(m);
    bias_ = 0;
    for (size_t j = 0; j < m; ++j) {
      // Minimum and maximum of the 16 values by halving: loops of fixed length
      // without a loop-carried dependence, which vectorize at -O2.
      const float* t = &lut[j * 16];
      float lo[8], hi[8];
      for (size_t c = 0; c < 8; ++c) {
        lo[c] = std::min(t[c], t[c + 8]);
        hi[c] = std::max(t[c], t[c + 8]);
      }
      for (size_t w = 4; w > 0; w /= 2) {
        for (size_t c = 0; c < w; ++c) {
          lo[c] = std::min(lo[c], lo[c + w]);
          hi[c] = std::max(hi[c], hi[c + w]);
        }
      }
      mins[j] = lo[0];
      bias_ += lo[0];
      range = std::max(range, hi[0] - lo[0]);
    }
    float a = range > 0 ? 127.0f / range : 1.0f;
    scale_ = 1.0f / a;
    for (size_t j = 0; j < m; ++j) {
      // Local arrays of fixed size (the byte stores alias nothing): the loops vectorize.
      float v[16];
      uint8_t q[16];
      for (size_t c = 0; c < 16; ++c) {
        // Clamped to [0, 127] (NaN -> 0: std::max returns its first argument), then
        // rounded to nearest even as std::nearbyint, without its library call:
        // adding and removing 2^23 leaves no fraction bits.
        v[c] = std::min(127.0f, std::max(0.0f, (lut[j * 16 + c] - mins[j]) * a));
        v[c] = (v[c] + 0x1p23f) - 0x1p23f;
      }
      for (size_t c = 0; c < 16; ++c) q[c] = static_cast<uint8_t>(static_cast<int32_t>(v[c]));
      size_t off = fs_lut_offset(j, 0);
      std::memcpy(&lut8_[off], q, 16);
      std::memcpy(&lut8_[off + 16], q, 16);  // the copy for the second 128-bit lane
    }
  }

  size_t scan_topk(const CodeScanner* const* group, size_t nq, const uint8_t* codes, size_t n, uint64_t pos0,
                   ScanSink* const* sinks) const override {
    const PQScanner4fs* sc[kFsMaxQueries];
    const uint8_t* luts[kFsMaxQueries];
    float scale[kFsMaxQueries], bias[kFsMaxQueries];
    size_t g = 0;
    for (; g < std::min(nq, kFsMaxQueries); ++g) {
      sc[g] = dynamic_cast<const PQScanner4fs*>(group[g]);
      if (!sc[g] || sc[g]->npairs_ != npairs_) break;
      luts[g] = sc[g]->lut8_.data();
      scale[g] = sc[g]->scale_;
      bias[g] = sc[g]->bias_;
    }
    // The thresholds are refreshed once per chunk; a stale one only lets more
    // candidates through to the exact check below.
    constexpr size_t kChunkBlocks = 32, kChunk = kChunkBlocks * kFsBlock;
    uint32_t idx[kFsMaxQueries * kChunk];
    float dist[kFsMaxQueries * kChunk];
    uint16_t thr[kFsMaxQueries];
    size_t cnt[kFsMaxQueries];
    const size_t nblocks = (n + kFsBlock - 1) / kFsBlock;
    // While a selection fills, its threshold falls fast and a long chunk would let
    // most of its vectors through: chunks then grow from one block. Full selections
    // (every call after the first few) start at the longest.
    size_t chunk = kChunkBlocks;
    for (size_t j = 0; j < g; ++j)
      if (std::isinf(sinks[j]->threshold())) chunk = 1;
    for (size_t b0 = 0, nb = 0; b0 < nblocks; b0 += nb, chunk = std::min(2 * chunk, kChunkBlocks)) {
      nb = std::min(chunk, nblocks - b0);
      for (size_t j = 0; j < g; ++j) thr[j] = sc[j]->sum_limit(sinks[j]->threshold());
      k_.scan4fs_le(codes + b0 * kFsBlock * npairs_, nb, npairs_, luts, g, thr, scale, bias, idx, dist, cnt);
      for (size_t j = 0; j < g; ++j) {
        const uint32_t* ji = idx + j * nb * kFsBlock;
        const float* jd = dist + j * nb * kFsBlock;
        for (size_t r = 0; r < cnt[j]; ++r) {
          size_t i = b0 * kFsBlock + ji[r];
          if (i >= n) break;  // padding of the last block
          if (jd[r] <= sinks[j]->threshold()) sinks[j]->push(jd[r], pos0 + i);
        }
      }
    }
    return g;
  }

  void scan(const uint8_t* codes, size_t n, float* dist) const override {
    size_t full = n / kFsBlock;
    k_.scan4fs(codes, full, npairs_, lut8_.data(), scale_, bias_, dist);
    if (size_t rest = n % kFsBlock) {  // the stored block is complete (padded); keep only its first rows
      float tmp[kFsBlock];
      k_.scan4fs(codes + full * kFsBlock * npairs_, 1, npairs_, lut8_.data(), scale_, bias_, tmp);
      std::memcpy(dist + full * kFsBlock, tmp, rest * sizeof(float));
    }
  }

 private:
  // An integer sum limit that keeps every vector whose distance fma(sum, scale_,
  // bias_) is at or below thr: the distance is sum·scale_ + bias_ rounded to float
  // (relative error 2^-24), so such a sum is at most (thr − bias_ + |thr|·2^-23) /
  // scale_; the margins cover that and the double arithmetic. Sums above the true
  // limit that get through are dropped by the exact check after the scan.
  uint16_t sum_limit(float thr) const {
    double slack = (std::fabs(double(thr)) + std::fabs(double(bias_))) * 0x1p-22 + 0x1p-126;
    double s = (double(thr) - double(bias_) + slack) / double(scale_) + 1;
    if (!(s < 65535)) return 65535;  // also +inf (a selection not yet full)
    return s > 0 ? static_cast<uint16_t>(s) : 0;
  }

  size_t npairs_;
  std::vector<uint8_t> lut8_;
  float scale_ = 1, bias_ = 0;
  const PqKernels& k_;
};

class PQCodec final : public VectorCodec {
 public:
  PQCodec(size_t dim, size_t m, int nbits, bool fastscan)
      : dim_(dim), m_(m), dsub_(dim / m), nbits_(nbits), fastscan_(fastscan) {}

  std::string spec() const override { return fmt::format("pq{}x{}{}", m_, nbits_, fastscan_ ? "fs" : ""); }
  size_t dim() const override { return dim_; }
  size_t code_size() const override { return nbits_ == 8 ? m_ : (m_ + 1) / 2; }
  bool needs_training() const override { return true; }
  size_t block_size() const override { return fastscan_ ? kFsBlock : 1; }

  void train(const float* x, size_t n, Metric, uint64_t seed) override {
    size_t k = ksub();
    if (n < k) fail_msg("{}: needs at least {} training vectors, got {}", spec(), k, n);
    // One subsample for all sub-spaces; each codebook is trained independently.
    size_t ns = std::min(n, kMaxTrain);
    std::mt19937_64 rng(seed);
    std::vector<size_t> rows = sample_rows(n, ns, rng);
    std::vector<float> cb(m_ * k * dsub_);
    parallel_for(m_, 0, [&](size_t j) {
      std::vector<float> sub(ns * dsub_);
      for (size_t i = 0; i < ns; ++i) std::memcpy(&sub[i * dsub_], x + rows[i] * dim_ + j * dsub_, dsub_ * sizeof(float));
      std::vector<float> c = kmeans(sub.data(), ns, dsub_, k, kTrainIters, seed + 1 + j, 1);
      std::memcpy(&cb[j * k * dsub_], c.data(), c.size() * sizeof(float));
    });
    set_centroids(std::move(cb));
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    require_trained("encode");
    size_t k = ksub(), cs = code_size();
    parallel_for((n + kEncodeChunk - 1) / kEncodeChunk, 0, [&](size_t chunk) {
      size_t i0 = chunk * kEncodeChunk, rows = std::min(kEncodeChunk, n - i0);
      std::vector<float> sub(rows * dsub_);
      std::vector<uint32_t> idx(rows);
      uint8_t* out = codes + i0 * cs;
      if (nbits_ == 4) std::memset(out, 0, rows * cs);
      for (size_t j = 0; j < m_; ++j) {
        for (size_t i = 0; i < rows; ++i)
          std::memcpy(&sub[i * dsub_], x + (i0 + i) * dim_ + j * dsub_, dsub_ * sizeof(float));
        assign_nearest(sub.data(), rows, &centroids_[j * k * dsub_], k, dsub_, idx.data(), 1);
        for (size_t i = 0; i < rows; ++i) {
          if (nbits_ == 8) out[i * cs + j] = static_cast<uint8_t>(idx[i]);
          else out[i * cs + j / 2] |= static_cast<uint8_t>(idx[i] << (4 * (j % 2)));
        }
      }
    });
  }

  void decode(const uint8_t* codes, size_t n, float* x) const override {
    require_trained("decode");
    size_t k = ksub(), cs = code_size();
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < m_; ++j) {
        const uint8_t* c = codes + i * cs;
        size_t code = nbits_ == 8 ? c[j] : (c[j / 2] >> (4 * (j % 2))) & 15;
        std::memcpy(x + i * dim_ + j * dsub_, &centroids_[(j * k + code) * dsub_], dsub_ * sizeof(float));
      }
    }
  }

  void pack(const uint8_t* row_codes, size_t n, uint8_t* stored) const override {
    if (!fastscan_) return VectorCodec::pack(row_codes, n, stored);
    size_t cs = code_size(), nblocks = (n + kFsBlock - 1) / kFsBlock;
    std::memset(stored, 0, nblocks * kFsBlock * cs);
    // A row code's byte p already holds sub-quantizers 2p and 2p+1 as the block wants them.
    for (size_t i = 0; i < n; ++i) {
      uint8_t* blk = stored + i / kFsBlock * kFsBlock * cs;
      size_t pos = fs_byte_of(i % kFsBlock);
      for (size_t p = 0; p < cs; ++p) blk[p * kFsBlock + pos] = row_codes[i * cs + p];
    }
  }

  void unpack(const uint8_t* stored, size_t first, size_t n, uint8_t* row_codes) const override {
    if (!fastscan_) return VectorCodec::unpack(stored, first, n, row_codes);
    size_t cs = code_size();
    for (size_t r = 0; r < n; ++r) {
      size_t i = first + r;
      const uint8_t* blk = stored + i / kFsBlock * kFsBlock * cs;
      size_t pos = fs_byte_of(i % kFsBlock);
      for (size_t p = 0; p < cs; ++p) row_codes[r * cs + p] = blk[p * kFsBlock + pos];
    }
  }

  std::unique_ptr<CodeScanner> scanner(const float* query, Metric metric) const override {
    require_trained("search");
    std::vector<float> lut = tables(query, metric);
    if (fastscan_) return std::make_unique<PQScanner4fs>(lut, m_);
    return std::make_unique<PQScanner8>(std::move(lut), m_);
  }

  void save(ByteWriter& w) const override { w.array<float>(centroids_); }

  void load(ByteReader& r) override {
    std::vector<float> c = r.array<float>("pq codebooks");
    size_t want = m_ * ksub() * dsub_;
    if (!c.empty() && c.size() != want)
      fail(r.what(), "{}: codebooks hold {} values, expected {}", spec(), c.size(), want);
    for (float v : c)
      if (!std::isfinite(v)) fail(r.what(), "{}: codebooks hold a non-finite value", spec());
    set_centroids(std::move(c));
  }

 private:
  size_t ksub() const { return size_t{1} << nbits_; }

  void require_trained(const char* what) const {
    if (centroids_.empty()) fail_msg("{}: cannot {} before the codec is trained", spec(), what);
  }

  void set_centroids(std::vector<float> c) {
    centroids_ = std::move(c);
    size_t k = ksub();
    by_dim_.resize(centroids_.size());
    for (size_t j = 0; j < m_; ++j)
      for (size_t c = 0; c < k; ++c)
        for (size_t t = 0; t < dsub_; ++t) by_dim_[(j * dsub_ + t) * k + c] = centroids_[(j * k + c) * dsub_ + t];
  }

  // m × ksub distances of the query's sub-vectors to the centroids: squared L2,
  // or minus the inner product (IP and COS). Each distance adds its dsub terms in
  // order; the loops run over the centroids innermost (by_dim_), which vectorizes.
  std::vector<float> tables(const float* q, Metric metric) const {
    size_t k = ksub();
    std::vector<float> lut(m_ * k);
    for (size_t j = 0; j < m_; ++j) {
      for (size_t c0 = 0; c0 < k; c0 += 16) {
        float acc[16] = {};  // local and of fixed size: the loops vectorize at -O2
        for (size_t t = 0; t < dsub_; ++t) {
          const float* ct = &by_dim_[(j * dsub_ + t) * k + c0];
          const float qt = q[j * dsub_ + t];
          if (metric == Metric::L2) {
            for (size_t c = 0; c < 16; ++c) acc[c] += (qt - ct[c]) * (qt - ct[c]);
          } else {
            for (size_t c = 0; c < 16; ++c) acc[c] -= qt * ct[c];
          }
        }
        std::memcpy(&lut[j * k + c0], acc, sizeof acc);
      }
    }
    return lut;
  }

  size_t dim_, m_, dsub_;
  int nbits_;
  bool fastscan_;
  std::vector<float> centroids_;  // m × ksub × dsub
  std::vector<float> by_dim_;     // the same, m × dsub × ksub
};

}  // namespace

std::unique_ptr<VectorCodec> make_pq(size_t dim, size_t m, int nbits, bool fastscan) {
  if (nbits == 8 && fastscan) fail_msg("pq{}x8fs: fast scan needs 4-bit codes (pq{}x4fs)", m, m);
  if (nbits == 4 && !fastscan) fail_msg("pq{}x4: 4-bit PQ exists only as fast scan (pq{}x4fs)", m, m);
  if (nbits != 8 && nbits != 4) fail_msg("pq{}x{}: PQ codes have 8 bits (pqMx8) or 4 bits (pqMx4fs)", m, nbits);
  if (m == 0 || dim == 0 || dim % m != 0) fail_msg("pq{}: {} does not divide dimension {}", m, m, dim);
  // The fast-scan kernels sum M uint8 table values in 16-bit lanes.
  if (fastscan && m > 256) fail_msg("pq{}x4fs: fast scan supports at most 256 sub-quantizers", m);
  return std::make_unique<PQCodec>(dim, m, nbits, fastscan);
}

}  // namespace pith
