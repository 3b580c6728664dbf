// The .pith reader on arbitrary bytes: opening must either succeed or throw
// pith::Error, and everything a successful open exposes must be safe to use.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "store/container.h"

namespace {
// Chunks claiming more than this are not decoded: the format allows 1 GiB per chunk,
// which is a legitimate allocation but would only slow the fuzzer down.
constexpr uint64_t kMaxDecode = 1 << 22;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pith::ContainerReader r({data, size}, "fuzz.pith");
    std::vector<uint8_t> buf;
    for (const auto& s : r.sections()) {
      r.mapped(s);
      if (s.kind == static_cast<uint16_t>(pith::SectionKind::Tensor)) pith::decode_tensor_meta(s.meta, "fuzz");
      // A SLICE chunk decodes chunks of its pack: their size counts too.
      auto cost = [&](const pith::ChunkInfo& k) {
        const pith::SectionInfo* pack = r.slice_pack(k);
        return k.raw_size + (pack ? pack->raw_size : 0);
      };
      uint64_t total = 0;
      for (size_t c = 0; c < s.chunks.size(); ++c) {
        total += cost(s.chunks[c]);
        if (cost(s.chunks[c]) > kMaxDecode) continue;
        buf.resize(s.chunks[c].raw_size);
        try {
          r.decode_chunk(s, c, buf);
        } catch (const pith::Error&) {
        }
      }
      if (total <= kMaxDecode) {
        try {
          r.read_section(s, 1);
          if (s.raw_size > 2) r.read_range(s, 1, s.raw_size - 1);
        } catch (const pith::Error&) {
        }
      }
    }
  } catch (const pith::Error&) {
  }
  return 0;
}
