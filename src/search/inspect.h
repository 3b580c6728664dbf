#pragma once
// `pith inspect` of a .pith file that holds a vector index (section kinds 16-31).
#include <string>

#include <nlohmann/json.hpp>

#include "store/container.h"

namespace pith {

bool is_vector_index(const ContainerReader& r);
// Codec, metric, dimension, count, bytes_per_vector (top-level number), sizes.
nlohmann::json describe_vector_index(const ContainerReader& r);
std::string format_vector_index(const nlohmann::json& d);  // human-readable text

}  // namespace pith
