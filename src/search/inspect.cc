#include "search/inspect.h"

#include <fmt/format.h>

#include "search/index_format.h"

namespace pith {

namespace fmtx = index_format;

bool is_vector_index(const ContainerReader& r) { return fmtx::find_kind(r, fmtx::kHeader) != nullptr; }

nlohmann::json describe_vector_index(const ContainerReader& r) {
  nlohmann::json h = fmtx::read_header(r);
  nlohmann::json sizes = nlohmann::json::object();
  static const std::pair<uint16_t, const char*> kParts[] = {
      {fmtx::kHeader, "header"}, {fmtx::kCodecParams, "codec_params"}, {fmtx::kCodes, "codes"},
      {fmtx::kIds, "ids"},       {fmtx::kRefine, "refine"},            {fmtx::kIvf, "ivf"},
  };
  for (auto [kind, name] : kParts)
    if (const SectionInfo* s = fmtx::find_kind(r, kind)) sizes[name] = s->stored_size();
  sizes["file"] = r.file_size();
  return {
      {"type", "vector_index"},
      {"version", h["version"]},
      {"codec", h["codec"]},
      {"metric", h["metric"]},
      {"dim", h["dim"]},
      {"count", h["count"]},
      {"bytes_per_vector", h["bytes_per_vector"]},
      {"refine", h["refine"]},
      {"ivf_nlist", h["ivf_nlist"]},
      {"sizes", sizes},
  };
}

std::string format_vector_index(const nlohmann::json& d) {
  std::string out = fmt::format("vector index: {} vectors of dimension {}, metric {}\n", d["count"].get<uint64_t>(),
                                d["dim"].get<uint64_t>(), d["metric"].get<std::string>());
  out += fmt::format("codec: {} ({} bytes per vector)\n", d["codec"].get<std::string>(),
                     d["bytes_per_vector"].get<uint64_t>());
  if (!d["refine"].get<std::string>().empty()) out += fmt::format("refine copy: {}\n", d["refine"].get<std::string>());
  out += "sections (stored bytes):";
  for (auto& [k, v] : d["sizes"].items()) out += fmt::format(" {} {}", k, v.get<uint64_t>());
  out += "\n";
  return out;
}

}  // namespace pith
