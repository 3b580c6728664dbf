#pragma once
// A vector transform applied before quantization: random rotation, PCA, Matryoshka
// truncation, OPQ rotation. Factory tokens: "rot", "pcaN", "truncN", "opqM".
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/bytes.h"

namespace pith {

class Transform {
 public:
  virtual ~Transform() = default;
  virtual std::string spec() const = 0;  // its factory token, e.g. "pca128"
  virtual size_t dim_in() const = 0;
  virtual size_t dim_out() const = 0;
  virtual bool needs_training() const = 0;
  virtual void train(const float* x, size_t n, uint64_t seed) = 0;
  // n × dim_in -> n × dim_out
  virtual void apply(const float* x, size_t n, float* y) const = 0;
  // n × dim_out -> n × dim_in: the best reconstruction in input space (exact for
  // orthogonal transforms, least-squares for reductions).
  virtual void reverse(const float* y, size_t n, float* x) const = 0;
  virtual void save(ByteWriter& w) const = 0;
  virtual void load(ByteReader& r) = 0;
};

}  // namespace pith
