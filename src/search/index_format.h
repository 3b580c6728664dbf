#pragma once
// The vector index sections of a .pith file (docs/FORMAT.md, "Vector index
// sections"), shared by the index and `pith inspect`.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "store/container.h"

namespace pith::index_format {

constexpr uint32_t kVersion = 1;

enum Kind : uint16_t {
  kHeader = 16,       // JSON: codec, metric, dim, count, refine, ivf, version
  kCodecParams = 17,  // VectorCodec::save() bytes
  kCodes = 18,        // codes in the codec's storage layout, list after list
  kIds = 19,          // int64 per vector in storage order; absent: ids are row numbers
  kRefine = 20,       // refine copy (f16 or f32 per component) in storage order
  kIvf = 21,          // f32 centroids [nlist × dim], then u64 list sizes [nlist]
};

// The first section of the given kind, or nullptr.
const SectionInfo* find_kind(const ContainerReader& r, uint16_t kind);

// The parsed and type-checked header section; errors name the file.
nlohmann::json read_header(const ContainerReader& r);

}  // namespace pith::index_format
