#include "quantize/rabitq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "quantize/kernels.h"
#include "quantize/kmeans.h"
#include "transform/transforms.h"

namespace pith {

namespace {

// Notation: c the vector's centre, r = x − c, R the rotation (padded to
// D = words·64 dimensions), o = R·r/|r|, u ∈ [0, 2^bits − 1]^D the code and
// ȳ = u − (2^bits − 1)/2 its grid point. RaBitQ estimates ⟨r, v⟩ by
// alpha·⟨ȳ, R·v⟩ with alpha = |r| / ⟨ȳ, o⟩, without bias over the rotation.
// With v = q − c and the exact parts folded into one scalar s0 per vector:
//   L2: |x − q|² = s0 + |q − c|²  − 2·alpha·⟨ȳ, R·q⟩,  s0 = |r|² + 2·alpha·⟨ȳ, R·c⟩
//   IP: ⟨x, q⟩   = s0 + ⟨c, q⟩    +   alpha·⟨ȳ, R·q⟩,  s0 = ⟨r, c⟩ − alpha·⟨ȳ, R·c⟩
// so one quantized R·q serves every centre and the per-centre part is a table.
// Row layout (encode/decode): `bits` planes of words·8 bytes (plane b = bit b of
// every u_j), float s0, float alpha, and with several centres the u16 centre
// number. Stored layout (pack, scan): blocks of 8 vectors, the same bytes
// regrouped so that SIMD lanes see one vector each: every plane word as 8
// consecutive u64, then 8 s0, 8 alpha and 8 centre numbers.
struct Layout {
  static constexpr size_t kBlock = 8;
  size_t words;
  int bits;
  bool has_id;
  size_t planes() const { return bits * words * 8; }
  size_t size() const { return planes() + 8 + (has_id ? 2 : 0); }
  size_t block_bytes() const { return kBlock * size(); }
  // offsets inside a block, for slot v
  size_t word_at(size_t b, size_t w, size_t v) const { return ((b * words + w) * kBlock + v) * 8; }
  size_t s0_at(size_t v) const { return kBlock * planes() + 4 * v; }
  size_t alpha_at(size_t v) const { return kBlock * planes() + 4 * kBlock + 4 * v; }
  size_t id_at(size_t v) const { return kBlock * (planes() + 8) + 2 * v; }
};

class RabitqScanner final : public CodeScanner {
 public:
  RabitqScanner(const float* qr, Layout lay, int qbits, bool l2, std::vector<float> table)
      : lay_(lay), qbits_(qbits), l2_(l2), table_(std::move(table)), planes_(qbits * lay.words) {
    const size_t D = lay.words * 64;
    float lo = qr[0], hi = qr[0];
    double s = 0;
    for (size_t i = 0; i < D; ++i) {
      lo = std::min(lo, qr[i]);
      hi = std::max(hi, qr[i]);
      s += qr[i];
    }
    const unsigned top = (1u << qbits) - 1;
    lo_ = lo;
    step_ = hi > lo ? (hi - lo) / static_cast<float>(top) : 0.f;
    sum_ = static_cast<float>(s);
    half_ = static_cast<float>((1u << lay.bits) - 1) / 2;
    // Randomised rounding keeps the quantized query an unbiased stand-in for the
    // rotated one; a fixed seed keeps scans reproducible.
    uint64_t st = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < D; ++i) {
      st += 0x9E3779B97F4A7C15ull;
      uint64_t z = (st ^ (st >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      float r = static_cast<float>(z >> 40) * 0x1.0p-24f;
      unsigned v = 0;
      if (step_ > 0) v = std::min(top, static_cast<unsigned>(std::floor((qr[i] - lo) / step_ + r)));
      for (int k = 0; k < qbits; ++k)
        if ((v >> k) & 1u) planes_[k * lay.words + i / 64] |= uint64_t{1} << (i % 64);
    }
  }

  void scan(const uint8_t* codes, size_t n, float* dist) const override {
    const size_t bb = lay_.block_bytes(), nblocks = (n + Layout::kBlock - 1) / Layout::kBlock;
    const auto kernel = quantize_kernels().rabitq_dots;
    constexpr size_t kGroup = 32;  // blocks per kernel call
    uint64_t dot[kGroup * Layout::kBlock], sum[kGroup * Layout::kBlock];
    for (size_t k0 = 0; k0 < nblocks; k0 += kGroup) {
      const size_t m = std::min(kGroup, nblocks - k0);
      const uint8_t* c = codes + k0 * bb;
      kernel(c, m, bb, lay_.words, lay_.bits, planes_.data(), qbits_, dot, sum);
      const size_t first = k0 * Layout::kBlock, count = std::min(m * Layout::kBlock, n - first);
      for (size_t i = 0; i < count; ++i) {
        const uint8_t* blk = c + (i / Layout::kBlock) * bb;
        const size_t v = i % Layout::kBlock;
        float s0, alpha;
        std::memcpy(&s0, blk + lay_.s0_at(v), 4);
        std::memcpy(&alpha, blk + lay_.alpha_at(v), 4);
        uint16_t id = 0;
        if (lay_.has_id) std::memcpy(&id, blk + lay_.id_at(v), 2);
        // ⟨ȳ, q̃⟩ with q̃ = lo + step·qu the dequantized query
        float ip = lo_ * static_cast<float>(sum[i]) + step_ * static_cast<float>(dot[i]) - half_ * sum_;
        const float t = table_[std::min<size_t>(id, table_.size() - 1)];
        dist[first + i] = l2_ ? s0 + t - 2 * alpha * ip : -(s0 + t + alpha * ip);
      }
    }
  }

 private:
  Layout lay_;
  int qbits_;
  bool l2_;
  // per centre: L2 |q − c|², IP ⟨c, q⟩; one more entry puts codes with a
  // corrupt centre number at infinite distance instead of reading past the end
  std::vector<float> table_;
  float lo_ = 0, step_ = 0, sum_ = 0, half_ = 0;
  std::vector<uint64_t> planes_;
};

class RabitqCodec final : public VectorCodec {
 public:
  RabitqCodec(size_t d, int bits, size_t k)
      : d_(d), k_(k), lay_{(d + 63) / 64, bits, k > 1}, qbits_(bits == 1 ? 4 : std::min(8, bits + 4)) {}
  std::string spec() const override {
    return "rabitq" + (lay_.bits > 1 ? std::to_string(lay_.bits) : "") + (k_ > 1 ? "c" + std::to_string(k_) : "");
  }
  size_t dim() const override { return d_; }
  size_t code_size() const override { return lay_.size(); }
  bool needs_training() const override { return true; }

  void train(const float* x, size_t n, Metric metric, uint64_t seed) override {
    if (n < k_) fail_msg("{}: training needs at least {} vectors, got {}", spec(), k_, n);
    l2_ = metric == Metric::L2;
    if (k_ == 1) {
      std::vector<double> mean(d_, 0.0);
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d_; ++j) mean[j] += x[i * d_ + j];
      c_.resize(d_);
      for (size_t j = 0; j < d_; ++j) c_[j] = static_cast<float>(mean[j] / static_cast<double>(n));
    } else {
      c_ = kmeans(x, n, d_, k_, 10, seed, 0);
    }
    rot_ = random_orthogonal(D(), seed);
    rotate_centres();
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    const size_t D = this->D(), stride = code_size();
    constexpr size_t kBlock = 512;
    std::vector<float> res(kBlock * D, 0.f), o(kBlock * D), y(D);
    std::vector<uint32_t> ids(kBlock, 0);
    std::vector<uint8_t> u(D);
    Scratch s;
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      size_t m = std::min(kBlock, n - i0);
      if (k_ > 1) assign_nearest(x + i0 * d_, m, c_.data(), k_, d_, ids.data(), 1);
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < d_; ++j) res[i * D + j] = x[(i0 + i) * d_ + j] - c_[ids[i] * d_ + j];
      apply_matrix(rot_.data(), D, D, res.data(), m, o.data());
      for (size_t i = 0; i < m; ++i) {
        const float* ri = res.data() + i * D;
        const float* ci = c_.data() + ids[i] * d_;
        float* oi = o.data() + i * D;
        double r2 = 0, rc = 0;
        for (size_t j = 0; j < d_; ++j) {
          r2 += static_cast<double>(ri[j]) * ri[j];
          rc += static_cast<double>(ri[j]) * ci[j];
        }
        const double nr = std::sqrt(r2);
        if (nr > 0)
          for (size_t j = 0; j < D; ++j) oi[j] = static_cast<float>(oi[j] / nr);
        else
          std::fill(oi, oi + D, 0.f);
        const double yo = quantize(oi, u.data(), s);
        const double alpha = yo > 0 ? nr / yo : 0.0;
        const float half = static_cast<float>((1u << lay_.bits) - 1) / 2;
        const float* rci = rc_.data() + ids[i] * D;
        double yc = 0;
        for (size_t j = 0; j < D; ++j) yc += (static_cast<float>(u[j]) - half) * static_cast<double>(rci[j]);
        uint8_t* row = codes + (i0 + i) * stride;
        std::memset(row, 0, lay_.planes());
        for (size_t j = 0; j < D; ++j)
          for (int b = 0; b < lay_.bits; ++b)
            if ((u[j] >> b) & 1u) row[(b * lay_.words + j / 64) * 8 + (j % 64) / 8] |= static_cast<uint8_t>(1u << (j % 8));
        float sc[2] = {static_cast<float>(l2_ ? r2 + 2 * alpha * yc : rc - alpha * yc), static_cast<float>(alpha)};
        std::memcpy(row + lay_.planes(), sc, 8);
        if (lay_.has_id) {
          auto id = static_cast<uint16_t>(ids[i]);
          std::memcpy(row + lay_.planes() + 8, &id, 2);
        }
      }
    }
  }

  // x̂ = c + alpha·R⁻¹·ȳ: the vector whose inner products are the estimator's,
  // so decoding is unbiased like the estimator (its norm is |r|/cos, the error
  // |r|·tan of the angle between o and ȳ).
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    const size_t D = this->D(), stride = code_size();
    const float half = static_cast<float>((1u << lay_.bits) - 1) / 2;
    std::vector<float> y(D), back(D);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* row = codes + i * stride;
      float sc[2];
      std::memcpy(sc, row + lay_.planes(), 8);
      uint16_t id = 0;
      if (lay_.has_id) std::memcpy(&id, row + lay_.planes() + 8, 2);
      if (id >= k_) fail_msg("{}: code refers to centre {} of {}", spec(), id, k_);
      for (size_t j = 0; j < D; ++j) {
        unsigned v = 0;
        for (int b = 0; b < lay_.bits; ++b)
          v |= ((row[(b * lay_.words + j / 64) * 8 + (j % 64) / 8] >> (j % 8)) & 1u) << b;
        y[j] = (static_cast<float>(v) - half) * sc[1];
      }
      apply_matrix_transposed(rot_.data(), D, D, y.data(), 1, back.data());
      for (size_t j = 0; j < d_; ++j) x[i * d_ + j] = c_[id * d_ + j] + back[j];
    }
  }

  size_t block_size() const override { return Layout::kBlock; }

  void pack(const uint8_t* rows, size_t n, uint8_t* stored) const override {
    const size_t bb = lay_.block_bytes(), cs = code_size();
    std::memset(stored, 0, (n + Layout::kBlock - 1) / Layout::kBlock * bb);
    for (size_t i = 0; i < n; ++i) move_row(rows + i * cs, stored + i / Layout::kBlock * bb, i % Layout::kBlock, true);
  }
  void unpack(const uint8_t* stored, size_t first, size_t n, uint8_t* rows) const override {
    const size_t bb = lay_.block_bytes(), cs = code_size();
    for (size_t i = 0; i < n; ++i) {
      const size_t j = first + i;
      move_row(stored + j / Layout::kBlock * bb, rows + i * cs, j % Layout::kBlock, false);
    }
  }

  std::unique_ptr<CodeScanner> scanner(const float* q, Metric metric) const override {
    const size_t D = this->D();
    const bool l2 = metric == Metric::L2;
    if (l2 != l2_)
      fail_msg("{}: trained for {} distances, cannot scan with {}", spec(), l2_ ? "l2" : "inner-product",
               metric_name(metric));
    std::vector<float> v(D, 0.f), qr(D), table(k_ + 1, l2 ? INFINITY : -INFINITY);
    std::copy(q, q + d_, v.begin());
    apply_matrix(rot_.data(), D, D, v.data(), 1, qr.data());
    for (size_t c = 0; c < k_; ++c) {
      double t = 0;
      for (size_t j = 0; j < d_; ++j) {
        double cj = c_[c * d_ + j];
        t += l2 ? (q[j] - cj) * (q[j] - cj) : q[j] * cj;
      }
      table[c] = static_cast<float>(t);
    }
    return std::make_unique<RabitqScanner>(qr.data(), lay_, qbits_, l2, std::move(table));
  }

  void save(ByteWriter& w) const override {
    w.u8(l2_ ? 1 : 0);
    w.array<float>(c_);
    w.array<float>(rot_);
  }
  void load(ByteReader& r) override {
    uint8_t l2 = r.u8("rabitq metric");
    if (l2 > 1) fail(r.what(), "corrupt {} parameters: metric flag {}", spec(), l2);
    l2_ = l2 == 1;
    c_ = r.array<float>("rabitq centres");
    rot_ = r.array<float>("rabitq rotation");
    if (c_.size() != k_ * d_ || rot_.size() != D() * D())
      fail(r.what(), "corrupt {} parameters: {} centre values and a rotation of {} values for dimension {}", spec(),
           c_.size(), rot_.size(), d_);
    rotate_centres();
  }

 private:
  struct Scratch {
    std::vector<std::pair<float, uint32_t>> events;
    std::vector<uint8_t> m;
  };

  size_t D() const { return lay_.words * 64; }

  // Copies one vector from its row to slot v of a block (to_block), or back.
  void move_row(const uint8_t* from, uint8_t* to, size_t v, bool to_block) const {
    auto mv = [&](size_t row_at, size_t blk_at, size_t bytes) {
      if (to_block) std::memcpy(to + blk_at, from + row_at, bytes);
      else std::memcpy(to + row_at, from + blk_at, bytes);
    };
    for (size_t b = 0; b < static_cast<size_t>(lay_.bits); ++b)
      for (size_t w = 0; w < lay_.words; ++w) mv((b * lay_.words + w) * 8, lay_.word_at(b, w, v), 8);
    mv(lay_.planes(), lay_.s0_at(v), 4);
    mv(lay_.planes() + 4, lay_.alpha_at(v), 4);
    if (lay_.has_id) mv(lay_.planes() + 8, lay_.id_at(v), 2);
  }

  void rotate_centres() {
    std::vector<float> padded(k_ * D(), 0.f);
    for (size_t c = 0; c < k_; ++c) std::copy(c_.begin() + c * d_, c_.begin() + (c + 1) * d_, padded.begin() + c * D());
    rc_.resize(k_ * D());
    apply_matrix(rot_.data(), D(), D(), padded.data(), k_, rc_.data());
  }

  // Picks the grid point ȳ (per dimension ±(m + 1/2), m < 2^(bits−1)) of largest
  // cosine with the unit vector o; writes u = ȳ + (2^bits − 1)/2 and returns ⟨ȳ, o⟩.
  // Scaling o by t and rounding each |o_j|·t down gives the candidates; the
  // cosine only changes where some |o_j|·t crosses an integer, so for few bits
  // every crossing is visited in order (extended RaBitQ), for more bits a grid of
  // scales around "largest coordinate saturates" is tried.
  double quantize(const float* o, uint8_t* u, Scratch& s) const {
    const size_t D = this->D();
    const unsigned top = (1u << (lay_.bits - 1)) - 1;  // largest m
    s.m.assign(D, 0);
    if (top > 0 && top <= 7) {
      s.events.clear();
      for (size_t j = 0; j < D; ++j) {
        float a = std::fabs(o[j]);
        if (a > 0)
          for (unsigned m = 1; m <= top; ++m) s.events.emplace_back(static_cast<float>(m) / a, static_cast<uint32_t>(j));
      }
      std::sort(s.events.begin(), s.events.end());
      double ip = 0, n2 = 0.25 * static_cast<double>(D);
      for (size_t j = 0; j < D; ++j) ip += 0.5 * std::fabs(o[j]);
      double best = ip / std::sqrt(n2);
      size_t best_k = 0;
      for (size_t k = 0; k < s.events.size(); ++k) {
        uint32_t j = s.events[k].second;
        ip += std::fabs(o[j]);
        n2 += 2.0 * s.m[j] + 2.0;
        ++s.m[j];
        double cs = ip / std::sqrt(n2);
        if (cs > best) {
          best = cs;
          best_k = k + 1;
        }
      }
      std::fill(s.m.begin(), s.m.end(), 0);
      for (size_t k = 0; k < best_k; ++k) ++s.m[s.events[k].second];
    } else if (top > 7) {
      float amax = 0;
      for (size_t j = 0; j < D; ++j) amax = std::max(amax, std::fabs(o[j]));
      if (amax > 0) {
        double best = -1, best_t = 0;
        for (int g = 0; g < 64; ++g) {
          double t = (top + 1) / amax * (0.4 + g * (1.2 / 63));
          double ip = 0, n2 = 0;
          for (size_t j = 0; j < D; ++j) {
            double a = std::fabs(o[j]);
            double y = std::min<double>(std::floor(a * t), top) + 0.5;
            ip += y * a;
            n2 += y * y;
          }
          if (ip / std::sqrt(n2) > best) {
            best = ip / std::sqrt(n2);
            best_t = t;
          }
        }
        for (size_t j = 0; j < D; ++j) {
          double v = std::floor(std::fabs(o[j]) * best_t);
          s.m[j] = static_cast<uint8_t>(v >= top ? top : v >= 0 ? v : 0);  // NaN input: 0, never UB
        }
      }
    }
    const unsigned mid = 1u << (lay_.bits - 1);
    double ip = 0;
    for (size_t j = 0; j < D; ++j) {
      ip += (s.m[j] + 0.5) * std::fabs(o[j]);
      u[j] = static_cast<uint8_t>(o[j] > 0 ? mid + s.m[j] : mid - 1 - s.m[j]);
    }
    return ip;
  }

  size_t d_, k_;
  Layout lay_;
  int qbits_;
  bool l2_ = true;
  std::vector<float> c_;    // k × d centres
  std::vector<float> rot_;  // D × D random orthogonal
  std::vector<float> rc_;   // k × D rotated centres
};

}  // namespace

std::unique_ptr<VectorCodec> make_rabitq(size_t dim, int bits, size_t centroids) {
  if (bits < 1 || bits > 8) fail_msg("rabitq{}: RaBitQ takes 1 to 8 bits per dimension", bits);
  if (centroids < 1 || centroids > 65536)
    fail_msg("rabitq c{}: the number of centres must be between 1 and 65536", centroids);
  return std::make_unique<RabitqCodec>(dim, bits, centroids);
}

}  // namespace pith
