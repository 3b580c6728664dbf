#include "quantize/scalar.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "common/error.h"
#include "quantize/half.h"
#include "quantize/kernels.h"

namespace pith {

namespace {

class HalfScanner final : public CodeScanner {
 public:
  HalfScanner(const float* q, size_t d, bool bf16, bool l2) : q_(q, q + d), bf16_(bf16), l2_(l2) {}
  void scan(const uint8_t* codes, size_t n, float* dist) const override {
    const auto& k = quantize_kernels();
    (bf16_ ? k.scan_bf16 : k.scan_f16)(reinterpret_cast<const uint16_t*>(codes), n, q_.size(), q_.data(), l2_, dist);
  }

 private:
  std::vector<float> q_;
  bool bf16_, l2_;
};

class HalfCodec final : public VectorCodec {
 public:
  HalfCodec(size_t d, bool bf16) : d_(d), bf16_(bf16) {}
  std::string spec() const override { return bf16_ ? "bf16" : "f16"; }
  size_t dim() const override { return d_; }
  size_t code_size() const override { return 2 * d_; }
  bool needs_training() const override { return false; }
  void train(const float*, size_t, Metric, uint64_t) override {}
  void encode(const float* x, size_t n, uint8_t* codes) const override {
    for (size_t i = 0; i < n * d_; ++i) {
      uint16_t h = bf16_ ? float_to_bf16(x[i]) : float_to_f16(x[i]);
      std::memcpy(codes + 2 * i, &h, 2);
    }
  }
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    for (size_t i = 0; i < n * d_; ++i) {
      uint16_t h;
      std::memcpy(&h, codes + 2 * i, 2);
      x[i] = bf16_ ? bf16_to_float(h) : f16_to_float(h);
    }
  }
  std::unique_ptr<CodeScanner> scanner(const float* q, Metric metric) const override {
    return std::make_unique<HalfScanner>(q, d_, bf16_, metric == Metric::L2);
  }
  void save(ByteWriter&) const override {}
  void load(ByteReader&) override {}

 private:
  size_t d_;
  bool bf16_;
};

class SqScanner final : public CodeScanner {
 public:
  SqScanner(std::vector<float> a, std::vector<float> w, float offset, int bits, bool l2)
      : a_(std::move(a)), w_(std::move(w)), offset_(offset), bits_(bits), l2_(l2) {}
  void scan(const uint8_t* codes, size_t n, float* dist) const override {
    quantize_kernels().scan_sq(codes, n, w_.size(), bits_, a_.data(), w_.data(), l2_, dist);
    if (offset_ != 0)
      for (size_t i = 0; i < n; ++i) dist[i] += offset_;
  }

 private:
  std::vector<float> a_, w_;
  float offset_;
  int bits_;
  bool l2_;
};

// Uniform quantizer per dimension: x ≈ lo + delta·u, u ∈ [0, 2^bits − 1].
class SqCodec final : public VectorCodec {
 public:
  SqCodec(size_t d, int bits) : d_(d), bits_(bits), levels_((1u << bits) - 1) {}
  std::string spec() const override { return "sq" + std::to_string(bits_); }
  size_t dim() const override { return d_; }
  size_t code_size() const override { return (d_ * bits_ + 7) / 8; }
  bool needs_training() const override { return true; }

  // Per dimension, the range is the one of a few symmetric quantile clippings
  // (none, 0.01% ... 3% per side) that gives the least squared error on the
  // training values: outliers then cost a clipped value instead of coarser
  // steps for everybody.
  void train(const float* x, size_t n, Metric, uint64_t) override {
    if (n == 0) fail_msg("{}: training needs at least 1 vector", spec());
    const size_t step = (n + 32767) / 32768, m = (n + step - 1) / step;
    // the sampled rows, transposed in tiles of 64 rows so that reading a
    // dimension's values does not stride through the whole input
    std::vector<float> cols(d_ * m);
    for (size_t k0 = 0; k0 < m; k0 += 64)
      for (size_t j = 0; j < d_; ++j)
        for (size_t k = k0; k < std::min(m, k0 + 64); ++k) cols[j * m + k] = x[k * step * d_ + j];
    lo_.resize(d_);
    delta_.resize(d_);
    static constexpr double kClip[] = {0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2};
    for (size_t j = 0; j < d_; ++j) {
      std::span<float> v(cols.data() + j * m, m);
      // only the tails up to the largest clipping need to be in order
      const size_t t = static_cast<size_t>(kClip[std::size(kClip) - 1] * static_cast<double>(m - 1)) + 1;
      if (2 * t >= m) {
        std::sort(v.begin(), v.end());
      } else {
        std::nth_element(v.begin(), v.begin() + t, v.end());
        std::sort(v.begin(), v.begin() + t);
        std::nth_element(v.begin() + t, v.end() - t, v.end());
        std::sort(v.end() - t, v.end());
      }
      double best = INFINITY;
      for (double p : kClip) {
        auto k = static_cast<size_t>(p * static_cast<double>(m - 1));
        float lo = v[k], hi = v[m - 1 - k];
        float delta = (hi - lo) / static_cast<float>(levels_);
        double err = 0;
        for (float t : v) {
          float r = lo + delta * static_cast<float>(quantize(t, lo, delta)) - t;
          err += static_cast<double>(r) * r;
        }
        if (err < best) {
          best = err;
          lo_[j] = lo;
          delta_[j] = delta;
        }
      }
    }
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    const size_t row = code_size();
    std::memset(codes, 0, n * row);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d_; ++j) {
        size_t bit = j * bits_;
        codes[i * row + bit / 8] |= static_cast<uint8_t>(quantize(x[i * d_ + j], lo_[j], delta_[j]) << (bit % 8));
      }
  }
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    const size_t row = code_size();
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d_; ++j) {
        size_t bit = j * bits_;
        unsigned u = (codes[i * row + bit / 8] >> (bit % 8)) & levels_;
        x[i * d_ + j] = lo_[j] + delta_[j] * static_cast<float>(u);
      }
  }

  std::unique_ptr<CodeScanner> scanner(const float* q, Metric metric) const override {
    std::vector<float> a(d_), w(d_);
    if (metric == Metric::L2) {
      for (size_t j = 0; j < d_; ++j) {
        a[j] = q[j] - lo_[j];
        w[j] = delta_[j];
      }
      return std::make_unique<SqScanner>(std::move(a), std::move(w), 0.f, bits_, true);
    }
    double offset = 0;  // the lo part of the inner product, the same for every code
    for (size_t j = 0; j < d_; ++j) {
      w[j] = q[j] * delta_[j];
      offset += static_cast<double>(q[j]) * lo_[j];
    }
    return std::make_unique<SqScanner>(std::move(a), std::move(w), static_cast<float>(-offset), bits_, false);
  }

  void save(ByteWriter& w) const override {
    w.array<float>(lo_);
    w.array<float>(delta_);
  }
  void load(ByteReader& r) override {
    lo_ = r.array<float>("sq ranges");
    delta_ = r.array<float>("sq steps");
    if (lo_.size() != d_ || delta_.size() != d_)
      fail(r.what(), "corrupt {} parameters: {} and {} values for dimension {}", spec(), lo_.size(), delta_.size(), d_);
    for (size_t j = 0; j < d_; ++j)
      if (!std::isfinite(lo_[j]) || !std::isfinite(delta_[j]) || delta_[j] < 0)
        fail(r.what(), "corrupt {} parameters: dimension {} has range start {} step {}", spec(), j, lo_[j], delta_[j]);
  }

 private:
  unsigned quantize(float x, float lo, float delta) const {
    if (!(delta > 0)) return 0;
    float u = std::nearbyint((x - lo) / delta);
    if (!(u > 0)) return 0;  // also NaN
    return u >= static_cast<float>(levels_) ? levels_ : static_cast<unsigned>(u);
  }

  size_t d_;
  int bits_;
  unsigned levels_;
  std::vector<float> lo_, delta_;
};

}  // namespace

std::unique_ptr<VectorCodec> make_half(size_t dim, bool bf16) { return std::make_unique<HalfCodec>(dim, bf16); }

std::unique_ptr<VectorCodec> make_sq(size_t dim, int bits) {
  if (bits != 2 && bits != 4 && bits != 8) fail_msg("sq{}: scalar quantization takes 2, 4 or 8 bits", bits);
  return std::make_unique<SqCodec>(dim, bits);
}

}  // namespace pith
