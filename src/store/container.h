#pragma once
// Reading and writing the .pith container (docs/FORMAT.md).
#include <cstdint>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/file.h"
#include "entropy/chunk_codec.h"

namespace pith {

// PACK: the bytes of several small tensors coded together; each of them is a TENSOR
// section whose one SLICE chunk points into the pack. 16..31: vector index parts.
enum class SectionKind : uint16_t { Blob = 1, Tensor = 2, Pack = 3 };
enum SectionFlags : uint16_t { kSectionSource = 1, kSectionRequired = 2 };
enum class SourceFormat : uint8_t { None = 0, Raw = 1, Safetensors = 2, Npy = 3 };

struct ChunkInfo {
  uint64_t offset = 0, stored_size = 0, raw_size = 0, stored_xxh64 = 0, raw_xxh64 = 0;
  uint16_t codec = 0;
  std::vector<uint8_t> params;
};

struct SectionInfo {
  uint16_t kind = 0, flags = 0;
  std::string name;
  std::vector<uint8_t> meta;
  uint64_t raw_size = 0, raw_xxh64 = 0;
  std::vector<ChunkInfo> chunks;
  uint64_t stored_size() const;  // sum of the chunks' stored sizes
};

// Meta of a TENSOR section: u8 dtype, u8 ndim (<= 32), ndim x u64 dims.
struct TensorMeta {
  DType dtype = DType::U8;
  std::vector<uint64_t> shape;
  uint64_t elements() const;  // product of the dims (1 for a scalar)
};
std::vector<uint8_t> encode_tensor_meta(const TensorMeta& m);
// Checks the layout and that the byte size fits in 64 bits; `what` names the file/section.
TensorMeta decode_tensor_meta(std::span<const uint8_t> meta, const std::string& what);

// zstd level of metadata (a file's header, the index). Measured on the 20 KB header
// and 30 KB index of a 287 KB model: level 9 saved 0.3% of the file and took 0.45
// ms, as long as coding all its tensors; level 15 saved 0.5% and took 4 ms.
constexpr int kMetadataZstdLevel = 3;

struct SourceInfo {
  SourceFormat format = SourceFormat::None;
  uint64_t size = 0, xxh64 = 0;
};

// Streams chunk payloads to a temporary file; finish() writes index + footer and
// renames the file into place. Destroyed without finish(): nothing is left behind.
class ContainerWriter {
 public:
  ContainerWriter(const std::string& path, bool force);
  // Sections are written one at a time: begin, add its chunks in content order, end.
  // Returns the section's number (its place in the index).
  uint32_t begin_section(SectionKind kind, uint16_t flags, const std::string& name, std::vector<uint8_t> meta);
  uint32_t begin_section(uint16_t kind, uint16_t flags, const std::string& name, std::vector<uint8_t> meta);
  // raw_xxh64: hash of the chunk's decoded bytes (the caller has them);
  // stored_xxh64: hash of c.payload when the caller computed it already (on a
  // worker thread), else it is computed here.
  // The payload is handed to the file's writer thread (write_behind) without a copy.
  void add_chunk(EncodedChunk c, uint64_t raw_size, uint64_t raw_xxh64,
                 std::optional<uint64_t> stored_xxh64 = std::nullopt);
  // A SLICE chunk: raw_size bytes from `offset` of the content of PACK section `pack`,
  // written (ended) before this one.
  void add_slice(uint32_t pack, uint64_t offset, uint64_t raw_size, uint64_t raw_xxh64);
  // Convenience: content already in memory, stored uncompressed (codec 0), 64-byte aligned.
  void add_stored(std::span<const uint8_t> raw);
  // Codec-0 chunks are 64-byte aligned so readers can map them (the default). Files
  // whose sections are only decoded, never mapped, turn this off to save the padding.
  void set_align_stored(bool align);
  void write_behind();  // the payload is written by a thread of its own (OutputFile::write_behind)
  void end_section(uint64_t raw_xxh64);
  void set_source(const SourceInfo& s);
  void finish();
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
 public:
  ~ContainerWriter();
};

// Opens a .pith file (memory-mapped), validates header, footer and index. Every
// offset and size in the index is checked against the file before it is used.
class ContainerReader {
 public:
  explicit ContainerReader(const std::string& path);
  // Reads a container held in memory (the caller keeps `bytes` alive); `name` stands
  // for the file in error messages. Used by the fuzz targets and tests.
  ContainerReader(std::span<const uint8_t> bytes, const std::string& name);
  ~ContainerReader();
  const std::string& path() const;
  uint16_t minor_version() const;
  const SourceInfo& source() const;
  const std::vector<SectionInfo>& sections() const;
  const SectionInfo* find(const std::string& name) const;  // nullptr if absent
  uint64_t file_size() const;

  // True when the section kind is one this pith knows (BLOB, TENSOR, vector index parts).
  static bool kind_known(uint16_t kind);

  // Stored bytes of a chunk, verified against stored_xxh64 when verify is set.
  std::span<const uint8_t> stored(const SectionInfo& s, size_t chunk, bool verify) const;
  // Decodes one chunk into out (size = chunk raw_size), checking both checksums
  // unless verify is false (for callers that check a hash over the decoded bytes
  // themselves; the decoders are safe on any input either way). A SLICE chunk is
  // copied out of its pack's chunks, which are always checked; the last pack chunk
  // decoded stays cached, so the members of a pack cost one decode, not one each.
  void decode_chunk(const SectionInfo& s, size_t chunk, std::span<uint8_t> out, bool verify = true) const;
  // Whole section content, chunks decoded in parallel, checked against raw_xxh64.
  std::vector<uint8_t> read_section(const SectionInfo& s, int threads) const;
  // Bytes [begin, end) of a section's decoded content (decodes only the chunks it needs).
  std::vector<uint8_t> read_range(const SectionInfo& s, uint64_t begin, uint64_t end) const;
  // The PACK section a SLICE chunk points into (checked when the index was read),
  // nullptr for any other chunk.
  const SectionInfo* slice_pack(const ChunkInfo& c) const;
  // A section stored as one codec-0 chunk, or as codec-0 chunks contiguous in the file,
  // is usable in place: returns the mapped bytes (no copy). Empty span otherwise.
  // Every chunk is checked against its checksum first (one pass over the bytes,
  // far less than one scan of a batch of queries) unless verify is false.
  std::span<const uint8_t> mapped(const SectionInfo& s, bool verify = true) const;

 private:
  std::shared_ptr<const std::vector<uint8_t>> decoded_chunk(const SectionInfo& s, size_t chunk) const;
  void copy_range(const SectionInfo& s, uint64_t begin, std::span<uint8_t> out) const;  // begin + size <= raw_size

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pith
