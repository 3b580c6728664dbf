#include "transform/transforms.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace pith {

namespace {

void check_matrix(ByteReader& r, const std::vector<float>& m, size_t expect, const char* what) {
  if (m.size() != expect)
    fail(r.what(), "corrupt {} parameters: {} values, expected {}", what, m.size(), expect);
}

class Rotation final : public Transform {
 public:
  explicit Rotation(size_t d) : d_(d) {}
  std::string spec() const override { return "rot"; }
  size_t dim_in() const override { return d_; }
  size_t dim_out() const override { return d_; }
  bool needs_training() const override { return true; }
  void train(const float*, size_t, uint64_t seed) override { m_ = random_orthogonal(d_, seed); }
  void apply(const float* x, size_t n, float* y) const override { apply_matrix(m_.data(), d_, d_, x, n, y); }
  void reverse(const float* y, size_t n, float* x) const override {
    apply_matrix_transposed(m_.data(), d_, d_, y, n, x);
  }
  void save(ByteWriter& w) const override { w.array<float>(m_); }
  void load(ByteReader& r) override {
    m_ = r.array<float>("rot matrix");
    check_matrix(r, m_, d_ * d_, "rot");
  }

 private:
  size_t d_;
  std::vector<float> m_;  // d × d orthogonal
};

// Projects on the leading principal directions without subtracting the mean:
// for both L2 and inner product the mean's part in the dropped directions adds
// the same amount to every distance from one query, so rankings keep their
// meaning, and the reconstruction puts that part back.
class Pca final : public Transform {
 public:
  Pca(size_t d, size_t n) : d_(d), n_(n) {}
  std::string spec() const override { return "pca" + std::to_string(n_); }
  size_t dim_in() const override { return d_; }
  size_t dim_out() const override { return n_; }
  bool needs_training() const override { return true; }
  void train(const float* x, size_t n, uint64_t) override {
    if (n < 2) fail_msg("{}: training needs at least 2 vectors, got {}", spec(), n);
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> xm(x, n, d_);
    Eigen::VectorXd mean = xm.cast<double>().colwise().mean().transpose();
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(d_, d_);
    // Accumulate in slices so that the double copy stays small.
    const size_t step = 4096;
    for (size_t i = 0; i < n; i += step) {
      size_t k = std::min(step, n - i);
      Eigen::MatrixXd c = xm.middleRows(i, k).cast<double>();
      c.rowwise() -= mean.transpose();
      cov.selfadjointView<Eigen::Lower>().rankUpdate(c.transpose());
    }
    cov = cov.selfadjointView<Eigen::Lower>();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(cov);
    if (es.info() != Eigen::Success) fail_msg("{}: eigen decomposition failed", spec());
    p_.assign(n_ * d_, 0.f);
    for (size_t r = 0; r < n_; ++r) {  // eigenvalues come ascending
      auto v = es.eigenvectors().col(d_ - 1 - r);
      for (size_t j = 0; j < d_; ++j) p_[r * d_ + j] = static_cast<float>(v(j));
    }
    // mean minus its projection: what the kept directions cannot express
    std::vector<float> mf(d_), proj(n_);
    for (size_t j = 0; j < d_; ++j) mf[j] = static_cast<float>(mean(j));
    apply_matrix(p_.data(), n_, d_, mf.data(), 1, proj.data());
    rest_.resize(d_);
    apply_matrix_transposed(p_.data(), n_, d_, proj.data(), 1, rest_.data());
    for (size_t j = 0; j < d_; ++j) rest_[j] = mf[j] - rest_[j];
  }
  void apply(const float* x, size_t n, float* y) const override { apply_matrix(p_.data(), n_, d_, x, n, y); }
  void reverse(const float* y, size_t n, float* x) const override {
    apply_matrix_transposed(p_.data(), n_, d_, y, n, x);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d_; ++j) x[i * d_ + j] += rest_[j];
  }
  void save(ByteWriter& w) const override {
    w.array<float>(p_);
    w.array<float>(rest_);
  }
  void load(ByteReader& r) override {
    p_ = r.array<float>("pca matrix");
    check_matrix(r, p_, n_ * d_, "pca");
    rest_ = r.array<float>("pca mean");
    check_matrix(r, rest_, d_, "pca mean");
  }

 private:
  size_t d_, n_;
  std::vector<float> p_;     // n × d, rows = principal directions, largest variance first
  std::vector<float> rest_;  // d
};

class Trunc final : public Transform {
 public:
  Trunc(size_t d, size_t n) : d_(d), n_(n) {}
  std::string spec() const override { return "trunc" + std::to_string(n_); }
  size_t dim_in() const override { return d_; }
  size_t dim_out() const override { return n_; }
  bool needs_training() const override { return false; }
  void train(const float*, size_t, uint64_t) override {}
  void apply(const float* x, size_t n, float* y) const override {
    for (size_t i = 0; i < n; ++i) std::memcpy(y + i * n_, x + i * d_, n_ * sizeof(float));
  }
  void reverse(const float* y, size_t n, float* x) const override {
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(x + i * d_, y + i * n_, n_ * sizeof(float));
      std::fill(x + i * d_ + n_, x + (i + 1) * d_, 0.f);
    }
  }
  void save(ByteWriter&) const override {}
  void load(ByteReader&) override {}

 private:
  size_t d_, n_;
};

void check_reduction(const char* name, size_t dim, size_t n) {
  if (n == 0) fail_msg("{}0: the output dimension must be at least 1", name);
  if (n > dim) fail_msg("{}{}: larger than dimension {}", name, n, dim);
}

}  // namespace

std::unique_ptr<Transform> make_rotation(size_t dim) { return std::make_unique<Rotation>(dim); }

std::unique_ptr<Transform> make_pca(size_t dim, size_t n) {
  check_reduction("pca", dim, n);
  return std::make_unique<Pca>(dim, n);
}

std::unique_ptr<Transform> make_trunc(size_t dim, size_t n) {
  check_reduction("trunc", dim, n);
  return std::make_unique<Trunc>(dim, n);
}

}  // namespace pith
