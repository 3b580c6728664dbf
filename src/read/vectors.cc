#include "read/vectors.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/file.h"
#include "read/npy.h"
#include "quantize/half.h"

namespace pith {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_finite(const VectorSet& v, const std::string& path) {
  for (size_t i = 0; i < v.n; ++i) {
    const float* r = v.row(i);
    for (size_t j = 0; j < v.dim; ++j)
      if (!std::isfinite(r[j])) fail(path, "row {} has a NaN or infinite value (component {})", i, j);
  }
}

template <typename T>
void widen(const uint8_t* src, size_t count, float* dst) {
  for (size_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

VectorSet load_npy(const std::string& path) {
  NpyFile f(path);
  const NpyHeader& h = f.header();
  if (h.fortran_order) fail(path, "array is in Fortran order; save it C-ordered (numpy.ascontiguousarray)");
  if (h.shape.empty() || h.shape.size() > 2)
    fail(path, "expected a 2-D array [n, dim] of vectors, got {} dimensions", h.shape.size());
  VectorSet v;
  v.n = h.shape.size() == 2 ? h.shape[0] : 1;
  v.dim = h.shape.back();
  if (v.n == 0 || v.dim == 0) fail(path, "empty collection ({} vectors of dimension {})", v.n, v.dim);
  const size_t count = v.n * v.dim;  // parse_npy checked it against the file size
  const uint8_t* src = f.data().data();
  v.data.resize(count);
  switch (h.dtype) {
    case DType::F32: std::memcpy(v.data.data(), src, count * 4); break;
    case DType::F16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        v.data[i] = f16_to_float(b);
      }
      break;
    case DType::U8: widen<uint8_t>(src, count, v.data.data()); break;
    case DType::I8: widen<int8_t>(src, count, v.data.data()); break;
    default:
      fail(path, "vectors must be float32, float16, uint8 or int8, not {}", dtype_name(h.dtype));
  }
  return v;
}

// .fvecs / .bvecs: records of (int32 dim, dim values), all of the same dim.
VectorSet load_vecs(const std::string& path, size_t elem) {
  MappedFile m(path);
  const uint8_t* p = m.data();
  const size_t size = m.size();
  if (size == 0) fail(path, "empty collection (empty file)");
  if (size < 4) fail(path, "truncated: record 0 has no dimension field");
  int32_t d0;
  std::memcpy(&d0, p, 4);
  if (d0 <= 0 || d0 > (1 << 20)) fail(path, "record 0 claims dimension {}", d0);
  const size_t rec = 4 + size_t(d0) * elem;
  if (size % rec != 0)
    fail(path, "size {} is not a whole number of records of dimension {} ({} bytes each); last record {} is truncated",
         size, d0, rec, size / rec);
  VectorSet v;
  v.n = size / rec;
  v.dim = size_t(d0);
  v.data.resize(v.n * v.dim);
  for (size_t i = 0; i < v.n; ++i) {
    const uint8_t* r = p + i * rec;
    int32_t d;
    std::memcpy(&d, r, 4);
    if (d != d0) fail(path, "record {} has dimension {}, record 0 has {}", i, d, d0);
    if (elem == 4)
      std::memcpy(v.data.data() + i * v.dim, r + 4, v.dim * 4);
    else
      widen<uint8_t>(r + 4, v.dim, v.data.data() + i * v.dim);
  }
  return v;
}

}  // namespace

VectorSet load_vectors(const std::string& path) {
  VectorSet v;
  if (ends_with(path, ".npy"))
    v = load_npy(path);
  else if (ends_with(path, ".fvecs"))
    v = load_vecs(path, 4);
  else if (ends_with(path, ".bvecs"))
    v = load_vecs(path, 1);
  else
    fail(path, "unknown vector file type (expected .npy, .fvecs or .bvecs)");
  check_finite(v, path);
  return v;
}

std::vector<int64_t> load_ids(const std::string& path) {
  NpyFile f(path);
  const NpyHeader& h = f.header();
  if (h.shape.size() != 1) fail(path, "ids must be a 1-D array, got {} dimensions", h.shape.size());
  std::vector<int64_t> ids(h.shape[0]);
  const uint8_t* src = f.data().data();
  if (h.dtype == DType::I64) {
    std::memcpy(ids.data(), src, ids.size() * 8);
  } else if (h.dtype == DType::I32) {
    for (size_t i = 0; i < ids.size(); ++i) {
      int32_t x;
      std::memcpy(&x, src + 4 * i, 4);
      ids[i] = x;
    }
  } else {
    fail(path, "ids must be int64 or int32, not {}", dtype_name(h.dtype));
  }
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0) fail(path, "id {} at row {} is negative", ids[i], i);
  return ids;
}

}  // namespace pith
