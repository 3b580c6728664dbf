#include "quantize/rabitq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "quantize/kernels.h"
#include "transform/transforms.h"

namespace pith {

namespace {

// Row layout: `bits` planes of words·8 bytes (plane b holds bit b of every
// dimension's code u ∈ [0, 2^bits − 1]), then float |r|² and float
// alpha = |r| / ⟨ȳ, o⟩, where r = x − c, o = R·r / |r| (R the rotation, padded
// to D = words·64 dimensions) and ȳ = u − (2^bits − 1)/2 the grid point. The
// estimator ⟨r, q'⟩ ≈ alpha·⟨ȳ, R·q'⟩ is RaBitQ's unbiased one.
class RabitqScanner final : public CodeScanner {
 public:
  RabitqScanner(const float* qr, size_t words, int cbits, int qbits, bool l2, float base)
      : words_(words), cbits_(cbits), qbits_(qbits), l2_(l2), base_(base), planes_(qbits * words) {
    const size_t D = words * 64;
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
    half_ = static_cast<float>((1u << cbits) - 1) / 2;
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
        if ((v >> k) & 1u) planes_[k * words + i / 64] |= uint64_t{1} << (i % 64);
    }
  }

  void scan(const uint8_t* codes, size_t n, float* dist) const override {
    const size_t stride = cbits_ * words_ * 8 + 8;
    const auto kernel = quantize_kernels().rabitq_dots;
    constexpr size_t kBlock = 256;
    uint64_t dot[kBlock], sum[kBlock];
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      size_t m = std::min(kBlock, n - i0);
      const uint8_t* c = codes + i0 * stride;
      kernel(c, m, stride, words_, cbits_, planes_.data(), qbits_, dot, sum);
      for (size_t i = 0; i < m; ++i) {
        float sc[2];
        std::memcpy(sc, c + i * stride + stride - 8, 8);
        float ip = lo_ * static_cast<float>(sum[i]) + step_ * static_cast<float>(dot[i]) - half_ * sum_;
        dist[i0 + i] = l2_ ? sc[0] + base_ - 2 * sc[1] * ip : -(base_ + sc[1] * ip);
      }
    }
  }

 private:
  size_t words_;
  int cbits_, qbits_;
  bool l2_;
  float base_;  // L2: |q − c|²; IP: ⟨c, q⟩
  float lo_ = 0, step_ = 0, sum_ = 0, half_ = 0;
  std::vector<uint64_t> planes_;
};

class RabitqCodec final : public VectorCodec {
 public:
  RabitqCodec(size_t d, int bits)
      : d_(d), bits_(bits), words_((d + 63) / 64), qbits_(bits == 1 ? 4 : std::min(8, bits + 4)) {}
  std::string spec() const override { return bits_ == 1 ? "rabitq" : "rabitq" + std::to_string(bits_); }
  size_t dim() const override { return d_; }
  size_t code_size() const override { return bits_ * words_ * 8 + 8; }
  bool needs_training() const override { return true; }

  void train(const float* x, size_t n, Metric, uint64_t seed) override {
    if (n == 0) fail_msg("{}: training needs at least 1 vector", spec());
    std::vector<double> mean(d_, 0.0);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d_; ++j) mean[j] += x[i * d_ + j];
    c_.resize(d_);
    for (size_t j = 0; j < d_; ++j) c_[j] = static_cast<float>(mean[j] / static_cast<double>(n));
    rot_ = random_orthogonal(D(), seed);
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    const size_t D = this->D(), stride = code_size();
    constexpr size_t kBlock = 512;
    std::vector<float> res(kBlock * D, 0.f), o(kBlock * D);
    std::vector<uint8_t> u(D);
    Scratch s;
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      size_t m = std::min(kBlock, n - i0);
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < d_; ++j) res[i * D + j] = x[(i0 + i) * d_ + j] - c_[j];
      apply_matrix(rot_.data(), D, D, res.data(), m, o.data());
      for (size_t i = 0; i < m; ++i) {
        float* oi = o.data() + i * D;
        double r2 = 0;
        for (size_t j = 0; j < d_; ++j) r2 += static_cast<double>(res[i * D + j]) * res[i * D + j];
        float nr = static_cast<float>(std::sqrt(r2));
        if (nr > 0)
          for (size_t j = 0; j < D; ++j) oi[j] /= nr;
        else
          std::fill(oi, oi + D, 0.f);
        float yo = quantize(oi, u.data(), s);
        uint8_t* row = codes + (i0 + i) * stride;
        std::memset(row, 0, stride - 8);
        for (size_t j = 0; j < D; ++j)
          for (int b = 0; b < bits_; ++b)
            if ((u[j] >> b) & 1u) row[(b * words_ + j / 64) * 8 + (j % 64) / 8] |= static_cast<uint8_t>(1u << (j % 8));
        float sc[2] = {static_cast<float>(r2), yo > 0 ? nr / yo : 0.f};
        std::memcpy(row + stride - 8, sc, 8);
      }
    }
  }

  // x̂ = c + R⁻¹·(|r|·cos·ȳ/|ȳ|): the projection of r on the code's direction,
  // the least-squares reconstruction given the code and its two scalars.
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    const size_t D = this->D(), stride = code_size();
    const float half = static_cast<float>((1u << bits_) - 1) / 2;
    std::vector<float> y(D), back(D);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* row = codes + i * stride;
      float sc[2];
      std::memcpy(sc, row + stride - 8, 8);
      double y2 = 0;
      for (size_t j = 0; j < D; ++j) {
        unsigned v = 0;
        for (int b = 0; b < bits_; ++b) v |= ((row[(b * words_ + j / 64) * 8 + (j % 64) / 8] >> (j % 8)) & 1u) << b;
        y[j] = static_cast<float>(v) - half;
        y2 += static_cast<double>(y[j]) * y[j];
      }
      // |r|·⟨ȳ,o⟩/|ȳ|² = |r|² / (alpha·|ȳ|²)
      float scale = sc[1] > 0 ? static_cast<float>(sc[0] / (sc[1] * y2)) : 0.f;
      for (float& v : y) v *= scale;
      apply_matrix_transposed(rot_.data(), D, D, y.data(), 1, back.data());
      for (size_t j = 0; j < d_; ++j) x[i * d_ + j] = c_[j] + back[j];
    }
  }

  std::unique_ptr<CodeScanner> scanner(const float* q, Metric metric) const override {
    const size_t D = this->D();
    const bool l2 = metric == Metric::L2;
    std::vector<float> v(D, 0.f), qr(D);
    double base = 0;
    for (size_t j = 0; j < d_; ++j) {
      if (l2) {
        v[j] = q[j] - c_[j];
        base += static_cast<double>(v[j]) * v[j];
      } else {
        v[j] = q[j];
        base += static_cast<double>(q[j]) * c_[j];
      }
    }
    apply_matrix(rot_.data(), D, D, v.data(), 1, qr.data());
    return std::make_unique<RabitqScanner>(qr.data(), words_, bits_, qbits_, l2, static_cast<float>(base));
  }

  void save(ByteWriter& w) const override {
    w.array<float>(c_);
    w.array<float>(rot_);
  }
  void load(ByteReader& r) override {
    c_ = r.array<float>("rabitq centre");
    rot_ = r.array<float>("rabitq rotation");
    if (c_.size() != d_ || rot_.size() != D() * D())
      fail(r.what(), "corrupt {} parameters: centre of {} and rotation of {} values for dimension {}", spec(),
           c_.size(), rot_.size(), d_);
  }

 private:
  struct Scratch {
    std::vector<std::pair<float, uint32_t>> events;
    std::vector<uint8_t> m;
  };

  size_t D() const { return words_ * 64; }

  // Picks the grid point ȳ (per dimension ±(m + 1/2), m < 2^(bits−1)) of largest
  // cosine with the unit vector o; writes u = ȳ + (2^bits − 1)/2 and returns ⟨ȳ, o⟩.
  // Scaling o by t and rounding each |o_j|·t down gives the candidates; the
  // cosine only changes where some |o_j|·t crosses an integer, so for few bits
  // every crossing is visited in order (extended RaBitQ), for more bits a grid of
  // scales around "largest coordinate saturates" is tried.
  float quantize(const float* o, uint8_t* u, Scratch& s) const {
    const size_t D = this->D();
    const unsigned top = (1u << (bits_ - 1)) - 1;  // largest m
    s.m.assign(D, 0);
    if (top > 0) {
      if (top <= 7) {
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
      } else {
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
          for (size_t j = 0; j < D; ++j)
            s.m[j] = static_cast<uint8_t>(std::min<double>(std::floor(std::fabs(o[j]) * best_t), top));
        }
      }
    }
    const unsigned mid = 1u << (bits_ - 1);
    double ip = 0;
    for (size_t j = 0; j < D; ++j) {
      ip += (s.m[j] + 0.5) * std::fabs(o[j]);
      u[j] = static_cast<uint8_t>(o[j] > 0 ? mid + s.m[j] : mid - 1 - s.m[j]);
    }
    return static_cast<float>(ip);
  }

  size_t d_;
  int bits_;
  size_t words_;
  int qbits_;
  std::vector<float> c_;    // d: the data mean
  std::vector<float> rot_;  // D × D random orthogonal
};

}  // namespace

std::unique_ptr<VectorCodec> make_rabitq(size_t dim, int bits) {
  if (bits < 1 || bits > 8) fail_msg("rabitq{}: RaBitQ takes 1 to 8 bits per dimension", bits);
  return std::make_unique<RabitqCodec>(dim, bits);
}

}  // namespace pith
