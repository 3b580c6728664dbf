#pragma once
// Vector collections from files: .npy (float32, float16, uint8, int8 rows),
// .fvecs (float32) and .bvecs (uint8) records, converted to float32 rows. Every
// value is checked finite (errors name the row), and an empty collection is an
// error, so what comes out can go straight to training or search.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pith {

struct VectorSet {
  size_t n = 0, dim = 0;
  std::vector<float> data;  // n × dim, row-major
  const float* row(size_t i) const { return data.data() + i * dim; }
};

// The format follows the extension (.npy, .fvecs, .bvecs); a .npy array must be
// 2-D [n, dim] (or 1-D: one vector).
VectorSet load_vectors(const std::string& path);

// Ids for a collection: a 1-D .npy of int64 (int32 is widened). Negative ids are
// rejected (-1 marks "no result" in search output).
std::vector<int64_t> load_ids(const std::string& path);

}  // namespace pith
