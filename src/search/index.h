#pragma once
// A searchable collection of compressed vectors: train / add / search, stored in
// the .pith container and memory-mapped when opened.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quantize/codec.h"

namespace pith {

struct IndexOptions {
  std::string codec;      // factory string, e.g. "opq32,pq32x8"; may start with "ivfN,"
  Metric metric = Metric::L2;
  std::string refine;     // "" | "f16" | "f32": higher-precision copy kept for --rerank
  uint64_t seed = 1234;
  int threads = 0;        // 0 = all cores
  bool progress = true;
};

struct SearchParams {
  size_t k = 10;
  size_t nprobe = 8;      // IVF lists visited (ignored without IVF)
  size_t rerank = 0;      // re-score this many candidates with the refine copy (0 = off)
  int threads = 0;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  static std::unique_ptr<VectorIndex> create(size_t dim, const IndexOptions& opt);
  static std::unique_ptr<VectorIndex> open(const std::string& path);  // memory-maps the codes

  virtual void train(const float* x, size_t n) = 0;
  // ids: nullptr = row numbers continuing from size()
  virtual void add(const float* x, size_t n, const int64_t* ids) = 0;
  // Results: nq × k ids (-1 when fewer than k exist) and distances (L2: squared
  // distance; IP/COS: similarity), best first.
  virtual void search(const float* q, size_t nq, const SearchParams& p, int64_t* ids, float* dist) const = 0;
  virtual void reconstruct(int64_t id, float* out) const = 0;  // throws if the id is unknown

  virtual size_t dim() const = 0;
  virtual size_t size() const = 0;
  virtual Metric metric() const = 0;
  virtual std::string codec_spec() const = 0;
  virtual size_t bytes_per_vector() const = 0;  // codes + per-vector scalars
  virtual const VectorCodec& codec() const = 0;

  virtual void save(const std::string& path, bool force) const = 0;
};

}  // namespace pith
