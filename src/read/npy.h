#pragma once
// NumPy .npy files (format versions 1.0, 2.0, 3.0): strict header parsing and writing.
//
// Reading: NpyFile maps a file and checks it completely (magic, version, header
// dict with exactly 'descr', 'fortran_order' and 'shape', a dtype pith knows,
// little-endian, data size = dtype size x shape = the bytes after the header).
// Anything else throws pith::Error naming the file and the problem.
//
//   pith::NpyFile f("base.npy");
//   if (f.header().dtype != pith::DType::F32 || f.header().shape.size() != 2) ...
//   const float* x = reinterpret_cast<const float*>(f.data().data());  // 64-byte aligned data when NumPy wrote it
//
// Writing: write_npy() writes a C-order file through OutputFile (atomic, refuses an
// existing file unless force). For data produced piece by piece, write
// npy_preamble() first and then the data yourself.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/file.h"

namespace pith {

struct NpyHeader {
  int major = 1;               // format version 1, 2 or 3
  DType dtype = DType::U8;
  bool fortran_order = false;  // data is column-major; shape is still the logical shape
  std::vector<uint64_t> shape;
  uint64_t data_offset = 0;    // bytes before the array data (magic + header)
  uint64_t data_size = 0;      // bytes of array data = elements() * dtype_size(dtype)
  uint64_t elements() const;   // product of shape (1 for a 0-d array)
};

// Parses the start of `file` (the whole file: the data size is checked against it).
// `what` names the file in errors.
NpyHeader parse_npy(std::span<const uint8_t> file, const std::string& what);

// True when `b` starts with the .npy magic "\x93NUMPY".
bool is_npy(std::span<const uint8_t> b);

class NpyFile {
 public:
  explicit NpyFile(const std::string& path);
  const NpyHeader& header() const { return header_; }
  std::span<const uint8_t> data() const { return map_.bytes().subspan(header_.data_offset, header_.data_size); }
  const std::string& path() const { return map_.path(); }

 private:
  MappedFile map_;
  NpyHeader header_;
};

// The bytes before the data of a C-order .npy of this dtype and shape (version 1.0,
// or 2.0 when the header does not fit 1.0), padded so the data starts 64-byte aligned.
// Throws for dtypes NumPy has no type for (BF16, F8_*).
std::vector<uint8_t> npy_preamble(DType dtype, std::span<const uint64_t> shape);

// Writes a whole C-order .npy file; data.size() must equal the shape's byte size.
void write_npy(const std::string& path, DType dtype, std::span<const uint64_t> shape, std::span<const uint8_t> data,
               bool force);

}  // namespace pith
