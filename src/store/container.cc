#include "store/container.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/parallel.h"

namespace pith {

namespace {

constexpr uint8_t kMagic[8] = {0x89, 'P', 'I', 'T', 'H', '\r', '\n', 0x1a};
constexpr uint8_t kEndMagic[8] = {'P', 'I', 'T', 'H', 'E', 'N', 'D', 0x1a};
constexpr uint16_t kMajor = 1, kMinor = 1;  // 1.1: PACK sections and SLICE chunks
constexpr uint64_t kHeaderSize = 16, kFooterSize = 48;
constexpr uint64_t kMaxIndexRaw = uint64_t{1} << 28;
constexpr uint64_t kMaxChunkRaw = uint64_t{1} << 30;
constexpr uint32_t kMaxName = 65536, kMaxMeta = 16u << 20, kMaxParams = 4096, kMaxDims = 32;
constexpr uint64_t kStoredAlign = 64;
// Smallest encodings, used to bound counts against the bytes left before reserving.
constexpr size_t kMinSectionBytes = 2 + 2 + 4 + 4 + 8 + 8 + 4;
constexpr size_t kMinChunkBytes = 5 * 8 + 2 + 2;
constexpr size_t kSliceParams = 4 + 8;  // u32 pack section, u64 offset in its content

// a * b, or nullopt when it does not fit in 64 bits.
std::optional<uint64_t> mul_checked(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

}  // namespace

uint64_t SectionInfo::stored_size() const {
  uint64_t n = 0;
  for (const auto& c : chunks) n += c.stored_size;
  return n;
}

uint64_t TensorMeta::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::vector<uint8_t> encode_tensor_meta(const TensorMeta& m) {
  ByteWriter w;
  w.u8(static_cast<uint8_t>(m.dtype));
  w.u8(static_cast<uint8_t>(m.shape.size()));
  for (uint64_t d : m.shape) w.u64(d);
  return std::move(w.buf());
}

TensorMeta decode_tensor_meta(std::span<const uint8_t> meta, const std::string& what) {
  ByteReader r(meta, what);
  TensorMeta m;
  uint8_t code = r.u8("tensor dtype");
  if (!dtype_valid(code)) fail(what, "tensor dtype code {} is not a known dtype", code);
  m.dtype = static_cast<DType>(code);
  uint8_t ndim = r.u8("tensor ndim");
  if (ndim > kMaxDims) fail(what, "tensor has {} dimensions (at most {})", ndim, kMaxDims);
  uint64_t bytes = dtype_size(m.dtype);
  for (uint8_t i = 0; i < ndim; ++i) {
    uint64_t d = r.u64("tensor dim");
    auto b = mul_checked(bytes, d);
    if (!b) fail(what, "tensor shape overflows 64 bits");
    bytes = *b;
    m.shape.push_back(d);
  }
  if (!r.done()) fail(what, "tensor meta has {} trailing bytes", r.remaining());
  return m;
}

// ---------------------------------------------------------------- writer

struct ContainerWriter::Impl {
  OutputFile out;
  std::vector<SectionInfo> sections;
  SourceInfo source;
  bool open = false;
  bool align_stored = true;

  Impl(const std::string& path, bool force) : out(path, force) {}

  SectionInfo& current() {
    if (!open) fail(out.path(), "internal error: chunk outside a section");
    return sections.back();
  }

  // `owner`, when given, keeps `payload` alive and lets the file queue it without a copy.
  void put_chunk(uint16_t codec, std::vector<uint8_t> params, std::span<const uint8_t> payload, uint64_t raw_size,
                 uint64_t raw_xxh64, uint64_t stored_xxh64, std::shared_ptr<const void> owner = nullptr) {
    SectionInfo& s = current();
    if (params.size() > kMaxParams) fail(out.path(), "internal error: codec params of {} bytes", params.size());
    // Stored content is aligned where a run of stored chunks starts; chunks that
    // continue the run follow without padding so mapped() can return the whole run.
    const bool continues = !s.chunks.empty() && s.chunks.back().codec == 0 &&
                           s.chunks.back().offset + s.chunks.back().stored_size == out.offset();
    if (codec == 0 && !continues && align_stored) out.pad_to(kStoredAlign);
    ChunkInfo c;
    c.offset = out.offset();
    c.stored_size = payload.size();
    c.raw_size = raw_size;
    c.stored_xxh64 = stored_xxh64;
    c.raw_xxh64 = raw_xxh64;
    c.codec = codec;
    c.params = std::move(params);
    if (owner)
      out.write(payload, std::move(owner));
    else
      out.write(payload);
    s.chunks.push_back(std::move(c));
  }

  std::vector<uint8_t> encode_index() const {
    ByteWriter w;
    w.u8(static_cast<uint8_t>(source.format));
    w.u64(source.size);
    w.u64(source.xxh64);
    w.u32(static_cast<uint32_t>(sections.size()));
    for (const auto& s : sections) {
      w.u16(s.kind);
      w.u16(s.flags);
      w.str(s.name);
      w.u32(static_cast<uint32_t>(s.meta.size()));
      w.bytes(s.meta);
      w.u64(s.raw_size);
      w.u64(s.raw_xxh64);
      w.u32(static_cast<uint32_t>(s.chunks.size()));
      for (const auto& c : s.chunks) {
        w.u64(c.offset);
        w.u64(c.stored_size);
        w.u64(c.raw_size);
        w.u64(c.stored_xxh64);
        w.u64(c.raw_xxh64);
        w.u16(c.codec);
        w.u16(static_cast<uint16_t>(c.params.size()));
        w.bytes(c.params);
      }
    }
    return std::move(w.buf());
  }
};

ContainerWriter::ContainerWriter(const std::string& path, bool force) : impl_(std::make_unique<Impl>(path, force)) {
  ByteWriter h;
  h.bytes(kMagic, sizeof kMagic);
  h.u16(kMajor);
  h.u16(kMinor);
  h.u32(0);
  impl_->out.write(h.buf());
}

ContainerWriter::~ContainerWriter() = default;

const std::string& ContainerWriter::path() const { return impl_->out.path(); }

uint32_t ContainerWriter::begin_section(SectionKind kind, uint16_t flags, const std::string& name,
                                        std::vector<uint8_t> meta) {
  return begin_section(static_cast<uint16_t>(kind), flags, name, std::move(meta));
}

uint32_t ContainerWriter::begin_section(uint16_t kind, uint16_t flags, const std::string& name,
                                        std::vector<uint8_t> meta) {
  if (impl_->open) fail(path(), "internal error: section {} begun inside another", name);
  if (name.size() > kMaxName) fail(path(), "section name of {} bytes is too long (at most {})", name.size(), kMaxName);
  if (meta.size() > kMaxMeta) fail(path(), "section {}: meta of {} bytes is too large", name, meta.size());
  SectionInfo s;
  s.kind = kind;
  s.flags = flags;
  s.name = name;
  s.meta = std::move(meta);
  impl_->sections.push_back(std::move(s));
  impl_->open = true;
  return static_cast<uint32_t>(impl_->sections.size() - 1);
}

void ContainerWriter::add_chunk(EncodedChunk c, uint64_t raw_size, uint64_t raw_xxh64,
                                std::optional<uint64_t> stored_xxh64) {
  const uint64_t sh = stored_xxh64 ? *stored_xxh64 : payload_xxh64(c, raw_xxh64);
  auto payload = std::make_shared<const std::vector<uint8_t>>(std::move(c.payload));
  impl_->put_chunk(static_cast<uint16_t>(c.codec), std::move(c.params), *payload, raw_size, raw_xxh64, sh, payload);
}

void ContainerWriter::add_slice(uint32_t pack, uint64_t offset, uint64_t raw_size, uint64_t raw_xxh64) {
  if (pack + 1 >= impl_->sections.size() || impl_->sections[pack].kind != static_cast<uint16_t>(SectionKind::Pack))
    fail(path(), "internal error: slice of section {}, which is not an earlier pack", pack);
  ByteWriter p;
  p.u32(pack);
  p.u64(offset);
  impl_->put_chunk(static_cast<uint16_t>(Codec::Slice), std::move(p.buf()), {}, raw_size, raw_xxh64, xxh64({}));
}

void ContainerWriter::add_stored(std::span<const uint8_t> raw) {
  if (raw.empty()) return;
  const uint64_t h = xxh64(raw);
  impl_->put_chunk(0, {}, raw, raw.size(), h, h);
}

void ContainerWriter::end_section(uint64_t raw_xxh64) {
  SectionInfo& s = impl_->current();
  s.raw_size = 0;
  for (const auto& c : s.chunks) s.raw_size += c.raw_size;
  s.raw_xxh64 = raw_xxh64;
  impl_->open = false;
}

void ContainerWriter::set_source(const SourceInfo& s) { impl_->source = s; }

void ContainerWriter::set_align_stored(bool align) { impl_->align_stored = align; }

void ContainerWriter::write_behind() { impl_->out.write_behind(); }

void ContainerWriter::finish() {
  if (impl_->open) fail(path(), "internal error: finish() inside a section");
  std::vector<uint8_t> raw = impl_->encode_index();
  if (raw.size() > kMaxIndexRaw) fail(path(), "index of {} bytes exceeds the format's 256 MiB", raw.size());
  const std::vector<uint8_t> z = zstd_compress(raw, kMetadataZstdLevel);
  uint32_t codec = 0;
  std::span<const uint8_t> stored = raw;
  if (z.size() < raw.size()) {
    codec = 1;
    stored = z;
  }
  ByteWriter f;
  f.u64(impl_->out.offset());
  f.u64(stored.size());
  f.u64(raw.size());
  f.u64(xxh64(stored));
  f.u32(codec);
  f.u32(0);
  f.bytes(kEndMagic, sizeof kEndMagic);
  impl_->out.write(stored);
  impl_->out.write(f.buf());
  impl_->out.commit();
}

// ---------------------------------------------------------------- reader

struct ContainerReader::Impl {
  std::string path;
  std::optional<MappedFile> map;
  std::span<const uint8_t> bytes;
  uint16_t minor = 0;
  uint64_t index_offset = 0;
  SourceInfo source;
  std::vector<SectionInfo> sections;
  // The pack chunk decoded last, for the SLICE chunks that follow it.
  struct Cached {
    const SectionInfo* section = nullptr;
    size_t chunk = 0;
    std::shared_ptr<const std::vector<uint8_t>> bytes;
  };
  std::mutex cache_mu;
  Cached cache;

  void open();
  std::vector<uint8_t> load_index(uint64_t stored_size, uint64_t raw_size, uint32_t codec, uint64_t hash);
  void parse_index(std::span<const uint8_t> index);
  void check_chunks();
};

namespace {

std::vector<uint8_t> unzstd_index(std::span<const uint8_t> in, uint64_t raw_size, const std::string& path) {
  // Grows the output as the frame decodes, so a forged raw size costs no memory
  // beyond what the frame really expands to.
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (!d) throw std::bad_alloc();
  std::vector<uint8_t> out;
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  size_t ret = 1;
  while (true) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(raw_size + 1 - out.size(), 1 << 20));
    size_t base = out.size();
    out.resize(base + step);
    ZSTD_outBuffer ob{out.data() + base, step, 0};
    ret = ZSTD_decompressStream(d, &ob, &ib);
    out.resize(base + ob.pos);
    if (ZSTD_isError(ret)) {
      ZSTD_freeDCtx(d);
      fail(path, "corrupt index: zstd: {}", ZSTD_getErrorName(ret));
    }
    if (out.size() > raw_size) break;
    if (ret == 0 || (ib.pos == ib.size && ob.pos < step)) break;
  }
  ZSTD_freeDCtx(d);
  if (ret != 0 || ib.pos != ib.size || out.size() != raw_size)
    fail(path, "corrupt index: zstd frame does not decode to index_raw_size = {} bytes", raw_size);
  return out;
}

}  // namespace

void ContainerReader::Impl::open() {
  const uint64_t size = bytes.size();
  if (size < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) fail(path, "not a .pith file");
  if (size < kHeaderSize + kFooterSize) fail(path, "truncated: {} bytes, a .pith file has at least 64", size);
  ByteReader h(bytes.subspan(8, 8), path);
  uint16_t major = h.u16("major");
  minor = h.u16("minor");
  uint32_t flags = h.u32("flags");
  if (major != kMajor) fail(path, "unsupported format version {}.{}; this pith reads 1.x", major, minor);
  if (flags != 0) fail(path, "header flags are {:#x}, must be 0", flags);

  ByteReader f(bytes.subspan(size - kFooterSize), path);
  uint64_t ioff = f.u64("index_offset"), istored = f.u64("index_stored_size"), iraw = f.u64("index_raw_size"),
           ihash = f.u64("index_xxh64");
  uint32_t icodec = f.u32("index_codec");
  uint32_t reserved = f.u32("reserved");
  if (std::memcmp(f.take(8, "end magic").data(), kEndMagic, 8) != 0)
    fail(path, "footer end magic missing (truncated or not a .pith file)");
  if (reserved != 0) fail(path, "footer reserved field is {}, must be 0", reserved);
  if (ioff < kHeaderSize || ioff > size - kFooterSize || istored != size - kFooterSize - ioff)
    fail(path, "footer index_offset {} / index_stored_size {} do not match the file size {}", ioff, istored, size);
  if (iraw > kMaxIndexRaw) fail(path, "footer index_raw_size {} exceeds 256 MiB", iraw);
  index_offset = ioff;
  std::vector<uint8_t> index = load_index(istored, iraw, icodec, ihash);
  parse_index(index);
  check_chunks();
}

std::vector<uint8_t> ContainerReader::Impl::load_index(uint64_t stored_size, uint64_t raw_size, uint32_t codec,
                                                       uint64_t hash) {
  auto stored = bytes.subspan(index_offset, stored_size);
  if (xxh64(stored) != hash) fail(path, "index checksum mismatch (file corrupted)");
  if (codec == 0) {
    if (raw_size != stored_size) fail(path, "footer index_raw_size {} differs from stored size {}", raw_size, stored_size);
    return {stored.begin(), stored.end()};
  }
  if (codec != 1) fail(path, "footer index_codec {} is unknown", codec);
  return unzstd_index(stored, raw_size, path);
}

bool ContainerReader::kind_known(uint16_t kind) {
  return (kind >= static_cast<uint16_t>(SectionKind::Blob) && kind <= static_cast<uint16_t>(SectionKind::Pack)) ||
         (kind >= 16 && kind <= 31);
}

namespace {

struct SliceRef {
  uint32_t pack;
  uint64_t offset;
};

// Params already checked to be kSliceParams bytes (parse_index).
SliceRef slice_ref(std::span<const uint8_t> params, const std::string& what) {
  ByteReader r(params, what);
  return {r.u32("slice pack"), r.u64("slice offset")};
}

}  // namespace

void ContainerReader::Impl::parse_index(std::span<const uint8_t> index) {
  ByteReader r(index, path + ": index");
  uint8_t fmt = r.u8("source_format");
  if (fmt > static_cast<uint8_t>(SourceFormat::Npy)) fail(path, "index source_format {} is unknown", fmt);
  source.format = static_cast<SourceFormat>(fmt);
  source.size = r.u64("source_size");
  source.xxh64 = r.u64("source_xxh64");
  if (source.format == SourceFormat::None && (source.size != 0 || source.xxh64 != 0))
    fail(path, "index source_size/source_xxh64 must be 0 when source_format is none");
  uint32_t count = r.u32("section_count");
  if (count > r.remaining() / kMinSectionBytes) fail(path, "index section_count {} exceeds the index size", count);
  sections.reserve(count);
  uint64_t source_total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    SectionInfo s;
    s.kind = r.u16("section kind");
    s.flags = r.u16("section flags");
    uint32_t nlen = r.u32("section name length");
    if (nlen > kMaxName) fail(path, "section {} name length {} exceeds {}", i, nlen, kMaxName);
    auto nb = r.take(nlen, "section name");
    s.name.assign(reinterpret_cast<const char*>(nb.data()), nb.size());
    if (s.flags & ~uint16_t{kSectionSource | kSectionRequired})
      fail(path, "section {} has unknown flags {:#x}", s.name, s.flags);
    if ((s.flags & kSectionRequired) && !ContainerReader::kind_known(s.kind))
      fail(path, "section {} has kind {}, which this pith does not know (written by a newer version?)", s.name, s.kind);
    uint32_t mlen = r.u32("section meta length");
    if (mlen > kMaxMeta) fail(path, "section {} meta length {} exceeds 16 MiB", s.name, mlen);
    auto mb = r.take(mlen, "section meta");
    s.meta.assign(mb.begin(), mb.end());
    s.raw_size = r.u64("section raw_size");
    s.raw_xxh64 = r.u64("section raw_xxh64");
    uint32_t nchunks = r.u32("chunk_count");
    if (nchunks > r.remaining() / kMinChunkBytes) fail(path, "section {} chunk_count {} exceeds the index size", s.name, nchunks);
    s.chunks.reserve(nchunks);
    uint64_t total = 0;
    for (uint32_t c = 0; c < nchunks; ++c) {
      ChunkInfo k;
      k.offset = r.u64("chunk offset");
      k.stored_size = r.u64("chunk stored_size");
      k.raw_size = r.u64("chunk raw_size");
      k.stored_xxh64 = r.u64("chunk stored_xxh64");
      k.raw_xxh64 = r.u64("chunk raw_xxh64");
      k.codec = r.u16("chunk codec");
      uint16_t plen = r.u16("chunk params_len");
      if (plen > kMaxParams) fail(path, "section {} chunk {} params_len {} exceeds {}", s.name, c, plen, kMaxParams);
      auto pb = r.take(plen, "chunk params");
      k.params.assign(pb.begin(), pb.end());
      if (k.offset < kHeaderSize || k.offset > index_offset || k.stored_size > index_offset - k.offset)
        fail(path, "section {} chunk {}: offset {} + stored_size {} lies outside the payload area [16, {})", s.name, c,
             k.offset, k.stored_size, index_offset);
      if (k.codec == 0 && k.stored_size != k.raw_size)
        fail(path, "section {} chunk {}: stored chunk has stored_size {} != raw_size {}", s.name, c, k.stored_size,
             k.raw_size);
      if (k.codec != 0 && k.raw_size > kMaxChunkRaw)
        fail(path, "section {} chunk {}: raw_size {} exceeds 1 GiB", s.name, c, k.raw_size);
      if (k.codec == static_cast<uint16_t>(Codec::Slice)) {
        // A slice points back into a pack, never at another slice: a reader
        // resolves it with one lookup, without recursion or cycles.
        const std::string what = fmt::format("{}: section {} chunk {}", path, s.name, c);
        if (s.kind == static_cast<uint16_t>(SectionKind::Pack)) fail(what, "a PACK section cannot hold SLICE chunks");
        if (k.params.size() != kSliceParams) fail(what, "SLICE params must be {} bytes", kSliceParams);
        const SliceRef ref = slice_ref(k.params, what);
        if (ref.pack >= sections.size() || sections[ref.pack].kind != static_cast<uint16_t>(SectionKind::Pack))
          fail(what, "SLICE refers to section {}, which is not an earlier PACK section", ref.pack);
        if (k.stored_size != 0) fail(what, "SLICE chunk has stored_size {}, must be 0", k.stored_size);
        uint64_t end;
        if (__builtin_add_overflow(ref.offset, k.raw_size, &end) || end > sections[ref.pack].raw_size)
          fail(what, "SLICE [{}, +{}) lies outside the {} bytes of pack {}", ref.offset, k.raw_size,
               sections[ref.pack].raw_size, sections[ref.pack].name);
      }
      if (__builtin_add_overflow(total, k.raw_size, &total)) fail(path, "section {}: chunk sizes overflow", s.name);
      s.chunks.push_back(std::move(k));
    }
    if (total != s.raw_size)
      fail(path, "section {}: chunks add up to {} bytes, raw_size says {}", s.name, total, s.raw_size);
    if (s.kind == static_cast<uint16_t>(SectionKind::Tensor)) {
      TensorMeta m = decode_tensor_meta(s.meta, path + ": section " + s.name);
      uint64_t esize = dtype_size(m.dtype);
      if (m.elements() * esize != s.raw_size)
        fail(path, "section {}: tensor shape and dtype give {} bytes, raw_size says {}", s.name,
             m.elements() * esize, s.raw_size);
      for (size_t c = 0; c < s.chunks.size(); ++c)
        if (s.chunks[c].raw_size % esize != 0)
          fail(path, "section {} chunk {}: raw_size {} is not a whole number of {}-byte elements", s.name, c,
               s.chunks[c].raw_size, esize);
    }
    if ((s.flags & kSectionSource) && __builtin_add_overflow(source_total, s.raw_size, &source_total))
      fail(path, "source sections overflow 64 bits");
    sections.push_back(std::move(s));
  }
  if (!r.done()) fail(path, "index has {} trailing bytes", r.remaining());
  if (source.format != SourceFormat::None && source_total != source.size)
    fail(path, "source sections add up to {} bytes, source_size says {}", source_total, source.size);
}

void ContainerReader::Impl::check_chunks() {
  struct Extent {
    uint64_t begin, end;
    size_t section, chunk;
  };
  std::vector<Extent> ex;
  for (size_t i = 0; i < sections.size(); ++i)
    for (size_t c = 0; c < sections[i].chunks.size(); ++c) {
      const auto& k = sections[i].chunks[c];
      if (k.stored_size > 0) ex.push_back({k.offset, k.offset + k.stored_size, i, c});
    }
  std::sort(ex.begin(), ex.end(), [](const Extent& a, const Extent& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ex.size(); ++i)
    if (ex[i].begin < ex[i - 1].end)
      fail(path, "section {} chunk {} overlaps section {} chunk {}", sections[ex[i].section].name, ex[i].chunk,
           sections[ex[i - 1].section].name, ex[i - 1].chunk);
}

ContainerReader::ContainerReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->map.emplace(path);
  impl_->bytes = impl_->map->bytes();
  impl_->open();
}

ContainerReader::ContainerReader(std::span<const uint8_t> bytes, const std::string& name)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = name;
  impl_->bytes = bytes;
  impl_->open();
}

ContainerReader::~ContainerReader() = default;

const std::string& ContainerReader::path() const { return impl_->path; }
uint16_t ContainerReader::minor_version() const { return impl_->minor; }
const SourceInfo& ContainerReader::source() const { return impl_->source; }
const std::vector<SectionInfo>& ContainerReader::sections() const { return impl_->sections; }
uint64_t ContainerReader::file_size() const { return impl_->bytes.size(); }

const SectionInfo* ContainerReader::find(const std::string& name) const {
  for (const auto& s : impl_->sections)
    if (s.name == name) return &s;
  return nullptr;
}

std::span<const uint8_t> ContainerReader::stored(const SectionInfo& s, size_t chunk, bool verify) const {
  if (chunk >= s.chunks.size()) fail(path(), "section {} has no chunk {}", s.name, chunk);
  const ChunkInfo& c = s.chunks[chunk];
  auto b = impl_->bytes.subspan(c.offset, c.stored_size);
  if (verify && xxh64(b) != c.stored_xxh64)
    fail(path(), "section {} chunk {}: checksum mismatch in the stored bytes (file corrupted)", s.name, chunk);
  return b;
}

void ContainerReader::decode_chunk(const SectionInfo& s, size_t chunk, std::span<uint8_t> out, bool verify) const {
  auto in = stored(s, chunk, verify);
  const ChunkInfo& c = s.chunks[chunk];
  if (out.size() != c.raw_size)
    fail(path(), "internal error: section {} chunk {} decoded into {} bytes, needs {}", s.name, chunk, out.size(),
         c.raw_size);
  if (!codec_known(c.codec))
    fail(path(), "section {} chunk {} uses codec {}, which this pith does not know (written by a newer version?)",
         s.name, chunk, c.codec);
  if (const SectionInfo* pack = slice_pack(c)) {
    copy_range(*pack, slice_ref(c.params, path()).offset, out);
  } else {
    pith::decode_chunk(static_cast<Codec>(c.codec), c.params, in, out,
                       fmt::format("{}: section {} chunk {}", path(), s.name, chunk));
  }
  if (verify && xxh64(out.data(), out.size()) != c.raw_xxh64)
    fail(path(), "section {} chunk {}: checksum mismatch in the decoded bytes (file corrupted)", s.name, chunk);
}

std::vector<uint8_t> ContainerReader::read_section(const SectionInfo& s, int threads) const {
  std::vector<uint64_t> starts(s.chunks.size());
  uint64_t pos = 0;
  for (size_t c = 0; c < s.chunks.size(); ++c) {
    starts[c] = pos;
    pos += s.chunks[c].raw_size;
  }
  std::vector<uint8_t> out(s.raw_size);
  parallel_for(s.chunks.size(), threads, [&](size_t c) {
    decode_chunk(s, c, std::span<uint8_t>(out.data() + starts[c], s.chunks[c].raw_size));
  });
  if (xxh64(out) != s.raw_xxh64) fail(path(), "section {}: checksum mismatch in the decoded content", s.name);
  return out;
}

std::vector<uint8_t> ContainerReader::read_range(const SectionInfo& s, uint64_t begin, uint64_t end) const {
  if (begin > end || end > s.raw_size)
    fail(path(), "section {}: byte range [{}, {}) outside its {} bytes", s.name, begin, end, s.raw_size);
  std::vector<uint8_t> out(end - begin);
  copy_range(s, begin, out);
  return out;
}

std::shared_ptr<const std::vector<uint8_t>> ContainerReader::decoded_chunk(const SectionInfo& s, size_t chunk) const {
  {
    std::lock_guard<std::mutex> lk(impl_->cache_mu);
    if (impl_->cache.section == &s && impl_->cache.chunk == chunk) return impl_->cache.bytes;
  }
  auto b = std::make_shared<std::vector<uint8_t>>(s.chunks[chunk].raw_size);
  decode_chunk(s, chunk, *b);
  std::lock_guard<std::mutex> lk(impl_->cache_mu);
  impl_->cache = {&s, chunk, b};
  return b;
}

void ContainerReader::copy_range(const SectionInfo& s, uint64_t begin, std::span<uint8_t> out) const {
  const uint64_t end = begin + out.size();
  uint64_t pos = 0;
  for (size_t c = 0; c < s.chunks.size() && pos < end; ++c) {
    const uint64_t cb = pos, ce = pos + s.chunks[c].raw_size;
    pos = ce;
    if (ce <= begin) continue;
    auto b = decoded_chunk(s, c);
    const uint64_t from = std::max(begin, cb), to = std::min(end, ce);
    if (to > from) std::memcpy(out.data() + (from - begin), b->data() + (from - cb), to - from);  // empty: data() may be null
  }
}

const SectionInfo* ContainerReader::slice_pack(const ChunkInfo& c) const {
  if (c.codec != static_cast<uint16_t>(Codec::Slice)) return nullptr;
  return &impl_->sections[slice_ref(c.params, path()).pack];  // checked when the index was read
}

std::span<const uint8_t> ContainerReader::mapped(const SectionInfo& s, bool verify) const {
  if (s.chunks.empty()) return {};
  for (size_t c = 0; c < s.chunks.size(); ++c) {
    if (s.chunks[c].codec != static_cast<uint16_t>(Codec::Stored)) return {};
    if (c > 0 && s.chunks[c].offset != s.chunks[c - 1].offset + s.chunks[c - 1].stored_size) return {};
  }
  for (size_t c = 0; verify && c < s.chunks.size(); ++c) stored(s, c, true);
  return impl_->bytes.subspan(s.chunks[0].offset, s.raw_size);
}

}  // namespace pith
