#include "search/index_format.h"

#include "common/error.h"

namespace pith::index_format {

const SectionInfo* find_kind(const ContainerReader& r, uint16_t kind) {
  for (const auto& s : r.sections())
    if (s.kind == kind) return &s;
  return nullptr;
}

nlohmann::json read_header(const ContainerReader& r) {
  const SectionInfo* s = find_kind(r, kHeader);
  if (!s) fail(r.path(), "not a vector index (no section of kind {})", int(kHeader));
  if (s->raw_size > (1u << 20)) fail(r.path(), "vector index header is {} bytes, more than 1 MiB", s->raw_size);
  std::vector<uint8_t> raw = r.read_section(*s, 1);
  auto j = nlohmann::json::parse(raw.begin(), raw.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(r.path(), "vector index header is not a JSON object");
  auto need = [&](const char* key, auto check, const char* type) {
    if (!j.contains(key) || !check(j[key])) fail(r.path(), "vector index header: field '{}' missing or not {}", key, type);
  };
  auto is_uint = [](const nlohmann::json& v) { return v.is_number_unsigned(); };
  auto is_str = [](const nlohmann::json& v) { return v.is_string(); };
  need("version", is_uint, "an unsigned integer");
  if (j["version"].get<uint64_t>() > kVersion)
    fail(r.path(), "vector index version {} is newer than this pith reads ({})", j["version"].get<uint64_t>(), kVersion);
  need("codec", is_str, "a string");
  need("metric", is_str, "a string");
  need("refine", is_str, "a string");
  need("dim", is_uint, "an unsigned integer");
  need("count", is_uint, "an unsigned integer");
  need("code_size", is_uint, "an unsigned integer");
  need("bytes_per_vector", is_uint, "an unsigned integer");
  need("ivf_nlist", is_uint, "an unsigned integer");
  return j;
}

}  // namespace pith::index_format
