// compress, decompress, inspect, verify, extract: lossless tensor files.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/error.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/progress.h"
#include "read/npy.h"
#include "read/safetensors.h"
#include "search/inspect.h"
#include "store/container.h"
#include "store/pipeline.h"

namespace pith::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint64_t kMaxChunkSize = uint64_t{1} << 30;
// Results in flight per thread: enough to hide uneven chunk times, small enough for memory.
constexpr size_t kWindowPerThread = 4;
// From this output size on, a thread of its own writes the output while the
// chunks are coded; below it, starting the thread costs more than it saves.
constexpr uint64_t kWriteBehindBytes = 2 << 20;
// Tensors below this size are packed with their neighbours of the same dtype into
// one PACK section of up to a chunk: coded one by one, the 250 tensors of a 287 KB
// model (most under 1 KB) took 7 ms and paid a table or an adaptive coder's warm-up
// each; packed they take 0.9 ms and 1.5-1.8 KB less (measured on the shared models).
constexpr uint64_t kPackBelow = 64 << 10;

// Threads for `bytes` of content cut into chunks of at most `chunk` bytes: at most
// one per full chunk. A second thread on the 0.3 MB models (one chunk of tensors)
// made compression 7% slower: starting it cost more than it could share.
int threads_for(int requested, uint64_t bytes, uint64_t chunk) {
  return static_cast<int>(
      std::clamp<uint64_t>(bytes / std::max<uint64_t>(chunk, 1), 1, static_cast<uint64_t>(resolve_threads(requested))));
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "1048576", "64K", "1M", "1MiB"
uint64_t parse_size(const std::string& s) {
  size_t pos = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(s, &pos);
  } catch (const std::exception&) {
    fail_msg("--chunk-size {}: not a size", s);
  }
  std::string unit = s.substr(pos);
  uint64_t mul = 1;
  if (unit == "K" || unit == "k" || unit == "KiB") mul = 1024;
  else if (unit == "M" || unit == "m" || unit == "MiB") mul = 1 << 20;
  else if (unit == "G" || unit == "g" || unit == "GiB") mul = 1 << 30;
  else if (!unit.empty()) fail_msg("--chunk-size {}: unknown unit '{}' (use K, M or G)", s, unit);
  if (v == 0 || v > kMaxChunkSize / mul) fail_msg("--chunk-size {}: must be between 1 byte and 1 GiB", s);
  return v * mul;
}

std::string shape_str(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void say(const std::string& line) {
  if (!globals().quiet) std::fprintf(stderr, "%s\n", line.c_str());
}

// ---------------------------------------------------------------- compress

struct CompressArgs {
  std::string input, output, dtype, chunk_size = "1M";
  std::vector<uint64_t> shape;
  bool force = false, json = false;
  int threads = 0;
};

// One section to write: a byte range of the input and how to encode it.
struct Piece {
  SectionKind kind;
  std::string name;
  std::vector<uint8_t> meta;
  std::span<const uint8_t> bytes;
  ChunkHint hint;
  size_t element = 1;            // chunks hold whole elements
  std::vector<size_t> members;   // a PACK: the pieces (tensors) it holds, in order
  bool member = false;           // a tensor inside the PACK before it: one SLICE chunk
};

struct Plan {
  SourceFormat format = SourceFormat::Raw;
  const char* format_name = "raw";
  std::vector<Piece> pieces;
};

Piece blob_piece(std::string name, std::span<const uint8_t> b) {
  ChunkHint h;
  h.zstd_level = kMetadataZstdLevel;
  return {SectionKind::Blob, std::move(name), {}, b, h, 1, {}, false};
}

Piece tensor_piece(std::string name, DType dt, std::vector<uint64_t> shape, std::span<const uint8_t> b) {
  ChunkHint h;
  h.is_tensor = true;
  h.dtype = dt;
  return {SectionKind::Tensor, std::move(name), encode_tensor_meta({dt, std::move(shape)}), b, h, dtype_size(dt), {}, false};
}

Plan plan_input(const MappedFile& in, const CompressArgs& a) {
  auto b = in.bytes();
  Plan p;
  const bool raw_requested = !a.dtype.empty() || !a.shape.empty();
  if (!raw_requested && b.size() >= 8 && std::memcmp(b.data(), "\x89PITH\r\n\x1a", 8) == 0)
    fail(in.path(), "is already a .pith file");
  if (!raw_requested && is_npy(b)) {
    NpyHeader h = parse_npy(b, in.path());
    p.format = SourceFormat::Npy;
    p.format_name = "npy";
    p.pieces.push_back(blob_piece("__npy_header__", b.first(h.data_offset)));
    p.pieces.push_back(tensor_piece("array", h.dtype, h.shape, b.subspan(h.data_offset)));
    return p;
  }
  if (!raw_requested && (ends_with(in.path(), ".safetensors") || looks_like_safetensors(b))) {
    SafetensorsFile f = parse_safetensors(b, in.path());
    p.format = SourceFormat::Safetensors;
    p.format_name = "safetensors";
    p.pieces.push_back(blob_piece("__header__", b.first(f.header_size)));
    for (auto& t : f.tensors)
      p.pieces.push_back(tensor_piece(t.name, t.dtype, t.shape, b.subspan(t.begin, t.end - t.begin)));
    return p;
  }
  if (a.dtype.empty()) {
    if (!a.shape.empty()) fail_msg("--shape needs --dtype");
    p.pieces.push_back(blob_piece("data", b));
    return p;
  }
  auto dt = dtype_from_name(a.dtype);
  if (!dt) fail_msg("--dtype {}: unknown dtype (use a safetensors name: F32, BF16, F16, I8...)", a.dtype);
  const uint64_t es = dtype_size(*dt);
  std::vector<uint64_t> shape = a.shape;
  if (shape.empty()) {
    if (b.size() % es) fail(in.path(), "{} bytes is not a whole number of {} elements", b.size(), a.dtype);
    shape = {b.size() / es};
  }
  uint64_t bytes = es;
  for (uint64_t d : shape)
    if (__builtin_mul_overflow(bytes, d, &bytes)) fail_msg("--shape {}: overflows 64 bits", shape_str(shape));
  if (bytes != b.size())
    fail(in.path(), "has {} bytes, but {} {} needs {}", b.size(), a.dtype, shape_str(shape), bytes);
  p.pieces.push_back(tensor_piece("data", *dt, shape, b));
  return p;
}

// Runs of small tensors with one dtype, adjacent in the file, become a PACK piece
// followed by its members; the pack alone carries their bytes into the original.
void pack_small(Plan& p, uint64_t chunk_size) {
  std::vector<Piece> out;
  auto packable = [](const Piece& x) {
    return x.kind == SectionKind::Tensor && !x.bytes.empty() && x.bytes.size() < kPackBelow;
  };
  size_t packs = 0;
  for (size_t i = 0; i < p.pieces.size();) {
    size_t j = i;
    uint64_t size = 0;
    while (j < p.pieces.size() && packable(p.pieces[j]) && p.pieces[j].hint.dtype == p.pieces[i].hint.dtype &&
           p.pieces[j].bytes.data() == p.pieces[i].bytes.data() + size && size + p.pieces[j].bytes.size() <= chunk_size)
      size += p.pieces[j++].bytes.size();
    if (j - i < 2) {
      out.push_back(std::move(p.pieces[i]));
      ++i;
      continue;
    }
    Piece pack{SectionKind::Pack, fmt::format("__pack_{}__", packs++), {}, {p.pieces[i].bytes.data(), size},
               p.pieces[i].hint, p.pieces[i].element, {}, false};
    const size_t at = out.size();
    out.push_back(std::move(pack));
    for (; i < j; ++i) {
      out[at].members.push_back(out.size());
      p.pieces[i].member = true;
      out.push_back(std::move(p.pieces[i]));
    }
  }
  p.pieces = std::move(out);
}

struct ChunkJob {
  size_t piece;
  uint64_t begin, end;  // within the piece
  bool first, last;     // of its piece (an empty piece has one job that is both)
};

std::vector<ChunkJob> cut_chunks(const std::vector<Piece>& pieces, uint64_t chunk_size) {
  std::vector<ChunkJob> jobs;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].member) continue;  // written with its pack
    // Equal chunks (whole elements, at most chunk_size): a 3.2 MB tensor becomes four
    // of 0.8 MB rather than three of 1 MiB and a remainder, so that at the end of a
    // file two threads finish together instead of one waiting for the other.
    const uint64_t size = pieces[i].bytes.size(), el = pieces[i].element;
    const uint64_t per = std::max<uint64_t>(chunk_size / el, 1), elements = size / el;
    const uint64_t count = std::max<uint64_t>((elements + per - 1) / per, 1);
    const uint64_t step = (elements + count - 1) / count * el;
    uint64_t pos = 0;
    do {
      const uint64_t end = std::min(size, pos + step);
      jobs.push_back({i, pos, end, pos == 0, end == size});
      pos = end;
    } while (pos < size);
  }
  return jobs;
}

struct Encoded {
  EncodedChunk chunk;
  uint64_t raw_xxh64 = 0, stored_xxh64 = 0;  // hashed by the worker, off the writing thread
  std::vector<uint64_t> member_xxh64;         // a pack's: each member's bytes
};

void run_compress(const CompressArgs& a) {
  const auto t0 = Clock::now();
  const std::string out_path = a.output.empty() ? a.input + ".pith" : a.output;
  const uint64_t chunk_size = parse_size(a.chunk_size);
  MappedFile in(a.input);
  Plan plan = plan_input(in, a);
  pack_small(plan, chunk_size);
  auto jobs = cut_chunks(plan.pieces, chunk_size);
  const int threads = threads_for(a.threads, in.size(), chunk_size);

  ContainerWriter w(out_path, a.force);
  w.set_align_stored(false);  // tensor files are decoded, never mapped in place
  if (in.size() >= kWriteBehindBytes) w.write_behind();
  Xxh64Stream source_hash, section_hash;
  uint32_t section = 0;  // of the piece being written
  Progress progress("compress", in.size(), !a.json);
  ordered_pipeline<Encoded>(
      jobs.size(), threads, kWindowPerThread * threads,
      [&](size_t i) {
        const ChunkJob& j = jobs[i];
        const Piece& p = plan.pieces[j.piece];
        auto raw = p.bytes.subspan(j.begin, j.end - j.begin);
        Encoded e;
        if (!raw.empty()) {
          e.chunk = encode_chunk(raw, p.hint);
          e.raw_xxh64 = xxh64(raw);
          e.stored_xxh64 = payload_xxh64(e.chunk, e.raw_xxh64);
        }
        for (size_t m : p.members) e.member_xxh64.push_back(xxh64(plan.pieces[m].bytes));
        return e;
      },
      [&](size_t i, Encoded& e) {
        const ChunkJob& j = jobs[i];
        const Piece& p = plan.pieces[j.piece];
        auto raw = p.bytes.subspan(j.begin, j.end - j.begin);
        if (j.first) {
          section = w.begin_section(p.kind, kSectionSource, p.name, p.meta);
          section_hash = Xxh64Stream();
        }
        if (!raw.empty()) w.add_chunk(std::move(e.chunk), raw.size(), e.raw_xxh64, e.stored_xxh64);
        source_hash.update(raw);
        if (j.first && j.last) {  // one chunk: the section's hash is the chunk's
          w.end_section(raw.empty() ? xxh64(raw) : e.raw_xxh64);
        } else {
          section_hash.update(raw);
          if (j.last) w.end_section(section_hash.digest());
        }
        uint64_t offset = 0;  // the pack is one chunk (pack_small keeps it within one)
        for (size_t k = 0; k < p.members.size(); ++k) {
          const Piece& m = plan.pieces[p.members[k]];
          w.begin_section(m.kind, 0, m.name, m.meta);
          w.add_slice(section, offset, m.bytes.size(), e.member_xxh64[k]);
          w.end_section(e.member_xxh64[k]);
          offset += m.bytes.size();
        }
        progress.add(raw.size());
      });
  w.set_source({plan.format, in.size(), source_hash.digest()});
  w.finish();
  progress.finish();
  const uint64_t out_size = file_size(out_path);
  const double secs = seconds_since(t0);
  const double pct = in.size() ? 100.0 * static_cast<double>(out_size) / static_cast<double>(in.size()) : 0.0;
  if (a.json) {
    json j = {{"command", "compress"}, {"input", a.input},       {"output", out_path},
              {"format", plan.format_name}, {"input_bytes", in.size()}, {"output_bytes", out_size},
              {"percent", pct},        {"sections", plan.pieces.size()}, {"chunks", jobs.size()},
              {"threads", threads},    {"seconds", secs}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    say(fmt::format("{}: {:.2f}% ({} => {} bytes, {})", a.input, pct, in.size(), out_size, out_path));
    if (globals().verbose)
      say(fmt::format("{}: {} sections, {} chunks, {} threads, {:.3f} s, {:.1f} MB/s", a.input, plan.pieces.size(),
                      jobs.size(), threads, secs, static_cast<double>(in.size()) / 1e6 / secs));
  }
}

// ---------------------------------------------------------------- decoding loops

// One chunk of one section, or an empty section (chunk = npos) so its checks still run.
struct DecodeJob {
  size_t section, chunk;
  bool last;  // of its section
};
constexpr size_t kNoChunk = static_cast<size_t>(-1);

std::vector<DecodeJob> decode_jobs(const ContainerReader& r, bool source_only) {
  std::vector<DecodeJob> jobs;
  const auto& ss = r.sections();
  for (size_t s = 0; s < ss.size(); ++s) {
    if (source_only && !(ss[s].flags & kSectionSource)) continue;
    if (ss[s].chunks.empty()) jobs.push_back({s, kNoChunk, true});
    for (size_t c = 0; c < ss[s].chunks.size(); ++c) jobs.push_back({s, c, c + 1 == ss[s].chunks.size()});
  }
  return jobs;
}

struct Decoded {
  std::unique_ptr<uint8_t[]> data;  // not zeroed first: the decoder writes every byte
  std::span<uint8_t> bytes;
  std::string error;  // verify collects errors instead of stopping
  void allocate(size_t n) {
    data = std::make_unique_for_overwrite<uint8_t[]>(n);
    bytes = {data.get(), n};
  }
};

struct DecompressArgs {
  std::string input, output;
  bool force = false, json = false;
  int threads = 0;
};

void run_decompress(const DecompressArgs& a) {
  const auto t0 = Clock::now();
  std::string out_path = a.output;
  if (out_path.empty()) {
    if (!ends_with(a.input, ".pith") || a.input.size() == 5)
      fail(a.input, "cannot tell the output name (no .pith suffix); use -o");
    out_path = a.input.substr(0, a.input.size() - 5);
  }
  ContainerReader r(a.input);
  if (r.source().format == SourceFormat::None)
    fail(a.input, "holds no original file to restore (a vector index? use pith inspect)");
  auto jobs = decode_jobs(r, true);
  const auto& ss = r.sections();
  uint64_t largest = 0;
  for (const DecodeJob& j : jobs)
    if (j.chunk != kNoChunk) largest = std::max(largest, ss[j.section].chunks[j.chunk].raw_size);
  const int threads = threads_for(a.threads, r.source().size, largest);
  OutputFile out(out_path, a.force);
  if (r.source().size >= kWriteBehindBytes) out.write_behind();
  // Every restored byte is hashed once, into the original's checksum, which
  // covers all chunks and sections. Only when that fails (or a decoder rejects a
  // chunk) are chunks decoded again with their own checksums, so the error names
  // the damaged chunk.
  auto locate_damage = [&] {
    std::vector<uint8_t> buf;
    for (const DecodeJob& j : jobs) {
      if (j.chunk == kNoChunk) continue;
      buf.resize(ss[j.section].chunks[j.chunk].raw_size);
      r.decode_chunk(ss[j.section], j.chunk, buf);
    }
  };
  Xxh64Stream source_hash;
  Progress progress("decompress", r.source().size, !a.json);
  ordered_pipeline<Decoded>(
      jobs.size(), threads, kWindowPerThread * threads,
      [&](size_t i) {
        Decoded d;
        const DecodeJob& j = jobs[i];
        if (j.chunk == kNoChunk) return d;
        d.allocate(ss[j.section].chunks[j.chunk].raw_size);
        try {
          r.decode_chunk(ss[j.section], j.chunk, d.bytes, false);
        } catch (const Error&) {
          r.decode_chunk(ss[j.section], j.chunk, d.bytes);  // a checksum error names the damage first
          throw;
        }
        return d;
      },
      [&](size_t, Decoded& d) {
        source_hash.update(d.bytes);  // before the buffer is handed over (and freed once written)
        progress.add(d.bytes.size());
        if (d.data) out.write(d.bytes, std::shared_ptr<const uint8_t[]>(std::move(d.data)));
      });
  if (out.offset() != r.source().size || source_hash.digest() != r.source().xxh64) {
    locate_damage();
    fail(a.input, "restored file does not match the original's size and checksum");
  }
  out.commit();
  progress.finish();
  const double secs = seconds_since(t0);
  if (a.json) {
    json j = {{"command", "decompress"},      {"input", a.input},     {"output", out_path},
              {"input_bytes", r.file_size()}, {"output_bytes", out.offset()}, {"threads", threads},
              {"seconds", secs}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    say(fmt::format("{}: {} bytes => {}", a.input, out.offset(), out_path));
    if (globals().verbose)
      say(fmt::format("{}: {} threads, {:.3f} s, {:.1f} MB/s", a.input, threads, secs,
                      static_cast<double>(out.offset()) / 1e6 / secs));
  }
}

struct VerifyArgs {
  std::string input;
  bool json = false;
  int threads = 0;
};

void run_verify(const VerifyArgs& a) {
  ContainerReader r(a.input);
  const auto& ss = r.sections();
  auto jobs = decode_jobs(r, false);
  const int threads = resolve_threads(a.threads);
  std::vector<std::string> errors;
  Xxh64Stream source_hash, section_hash;
  uint64_t source_bytes = 0;
  bool section_ok = true, section_start = true;
  ordered_pipeline<Decoded>(
      jobs.size(), threads, kWindowPerThread * threads,
      [&](size_t i) {
        Decoded d;
        const DecodeJob& j = jobs[i];
        if (j.chunk == kNoChunk) return d;
        try {
          d.allocate(ss[j.section].chunks[j.chunk].raw_size);
          r.decode_chunk(ss[j.section], j.chunk, d.bytes);
        } catch (const Error& e) {
          d.error = e.what();
        }
        return d;
      },
      [&](size_t i, Decoded& d) {
        const DecodeJob& j = jobs[i];
        const SectionInfo& s = ss[j.section];
        if (section_start) {
          section_hash = Xxh64Stream();
          section_ok = true;
        }
        section_start = j.last;
        if (!d.error.empty()) {
          errors.push_back(d.error);
          section_ok = false;
          return;
        }
        section_hash.update(d.bytes);
        if (s.flags & kSectionSource) {
          source_hash.update(d.bytes);
          source_bytes += d.bytes.size();
        }
        if (j.last && section_ok && section_hash.digest() != s.raw_xxh64)
          errors.push_back(fmt::format("{}: section {}: checksum mismatch in the decoded content", a.input, s.name));
      });
  if (errors.empty() && r.source().format != SourceFormat::None &&
      (source_bytes != r.source().size || source_hash.digest() != r.source().xxh64))
    errors.push_back(fmt::format("{}: the original file's checksum does not match", a.input));
  if (a.json) {
    json j = {{"command", "verify"}, {"input", a.input}, {"ok", errors.empty()}, {"sections", ss.size()},
              {"chunks", jobs.size()}, {"errors", errors}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& e : errors) std::fprintf(stderr, "pith: %s\n", e.c_str());
  }
  if (!errors.empty()) fail(a.input, "verification failed: {} error(s)", errors.size());
  if (!a.json) say(fmt::format("{}: OK ({} sections, {} chunks)", a.input, ss.size(), jobs.size()));
}

// ---------------------------------------------------------------- inspect

std::string codecs_of(const SectionInfo& s) {
  std::string out;
  for (const auto& c : s.chunks) {
    std::string n = codec_known(c.codec) ? codec_name(static_cast<Codec>(c.codec)) : "codec" + std::to_string(c.codec);
    if (out.find(n) == std::string::npos) out += (out.empty() ? "" : "+") + n;
  }
  return out.empty() ? "-" : out;
}

// The pack a tensor's SLICE chunks point into, or nullptr for a tensor with
// chunks of its own (pith writes a packed tensor as one SLICE chunk).
const SectionInfo* pack_of(const ContainerReader& r, const SectionInfo& s) {
  for (const auto& c : s.chunks)
    if (const SectionInfo* pack = r.slice_pack(c)) return pack;
  return nullptr;
}

const char* source_name(SourceFormat f) {
  switch (f) {
    case SourceFormat::None: return "none";
    case SourceFormat::Raw: return "raw";
    case SourceFormat::Safetensors: return "safetensors";
    case SourceFormat::Npy: return "npy";
  }
  return "?";
}

struct InspectArgs {
  std::string input;
  bool json = false;
};

void run_inspect(const InspectArgs& a) {
  ContainerReader r(a.input);
  if (is_vector_index(r)) {
    json d = describe_vector_index(r);
    if (a.json) std::printf("%s\n", d.dump(2).c_str());
    else std::printf("%s", format_vector_index(d).c_str());
    return;
  }
  json sections = json::array();
  uint64_t tensor_raw = 0, tensor_stored = 0;
  for (const auto& s : r.sections()) {
    // A packed tensor is charged its share of the pack's stored bytes; the pack
    // itself then counts as a container of tensors, not as more tensor bytes.
    uint64_t stored = s.stored_size();
    json e = {{"name", s.name}, {"kind", s.kind}, {"raw_bytes", s.raw_size}, {"chunks", s.chunks.size()},
              {"codec", codecs_of(s)}};
    if (const SectionInfo* pack = pack_of(r, s)) {
      stored = pack->raw_size ? static_cast<uint64_t>(static_cast<double>(pack->stored_size()) *
                                                      static_cast<double>(s.raw_size) / static_cast<double>(pack->raw_size) + 0.5)
                              : 0;
      e["codec"] = "packed:" + codecs_of(*pack);
      e["pack"] = pack->name;
    }
    e["stored_bytes"] = stored;
    if (s.kind == static_cast<uint16_t>(SectionKind::Tensor)) {
      TensorMeta m = decode_tensor_meta(s.meta, a.input);
      e["dtype"] = std::string(dtype_name(m.dtype));
      e["shape"] = m.shape;
      tensor_raw += s.raw_size;
      tensor_stored += stored;
    }
    sections.push_back(std::move(e));
  }
  const auto& src = r.source();
  const double pct = src.size ? 100.0 * static_cast<double>(r.file_size()) / static_cast<double>(src.size) : 0.0;
  if (a.json) {
    json j = {{"file", a.input},
              {"version", fmt::format("1.{}", r.minor_version())},
              {"source_format", source_name(src.format)},
              {"source_bytes", src.size},
              {"file_bytes", r.file_size()},
              {"percent", pct},
              {"tensor_raw_bytes", tensor_raw},
              {"tensor_stored_bytes", tensor_stored},
              {"sections", sections}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s: .pith 1.%u, %zu sections, source %s of %llu bytes\n", a.input.c_str(), r.minor_version(),
              r.sections().size(), source_name(src.format), static_cast<unsigned long long>(src.size));
  std::printf("%-40s %-8s %-20s %-18s %12s %12s %8s\n", "name", "dtype", "shape", "codec", "raw", "stored", "ratio");
  for (const auto& e : sections) {
    const uint64_t raw = e["raw_bytes"], st = e["stored_bytes"];
    std::string dt = e.contains("dtype") ? e["dtype"].get<std::string>()
                     : e["kind"] == static_cast<uint16_t>(SectionKind::Pack) ? "pack" : "blob";
    std::string shape = e.contains("shape") ? shape_str(e["shape"].get<std::vector<uint64_t>>()) : "";
    std::printf("%-40s %-8s %-20s %-18s %12llu %12llu %7.2f%%\n", e["name"].get<std::string>().c_str(), dt.c_str(),
                shape.c_str(), e["codec"].get<std::string>().c_str(), static_cast<unsigned long long>(raw),
                static_cast<unsigned long long>(st), raw ? 100.0 * static_cast<double>(st) / static_cast<double>(raw) : 0.0);
  }
  if (tensor_raw)
    std::printf("tensors: %llu => %llu bytes (%.2f%%)\n", static_cast<unsigned long long>(tensor_raw),
                static_cast<unsigned long long>(tensor_stored),
                100.0 * static_cast<double>(tensor_stored) / static_cast<double>(tensor_raw));
  std::printf("total: %llu => %llu bytes (%.2f%%)\n", static_cast<unsigned long long>(src.size),
              static_cast<unsigned long long>(r.file_size()), pct);
}

// ---------------------------------------------------------------- extract

// Exact widening of every float type to float32 (NaN payloads, infinities,
// subnormals and -0.0 keep their meaning; F16/BF16/F8 values are all representable).
uint32_t f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return sign | 0x7f800000 | (man << 13);
  if (exp != 0) return sign | ((exp + 112) << 23) | (man << 13);
  float v = std::ldexp(static_cast<float>(man), -24);
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return sign | b;
}

uint32_t e4m3_bits_to_f32(uint8_t x) {
  // OCP FP8 E4M3 ("fn"): bias 7, no infinities, S.1111.111 is NaN.
  const uint32_t sign = uint32_t(x & 0x80) << 24, exp = (x >> 3) & 0xf, man = x & 7;
  if (exp == 0xf && man == 7) return sign | 0x7fc00000;
  float v = exp ? std::ldexp(static_cast<float>(8 + man), static_cast<int>(exp) - 10)
                : std::ldexp(static_cast<float>(man), -9);
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return sign | b;
}

void widen_to_f32(DType dt, std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  const size_t n = in.size() / dtype_size(dt);
  out.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    uint32_t b = 0;
    switch (dt) {
      case DType::BF16: b = uint32_t(in[2 * i] | in[2 * i + 1] << 8) << 16; break;
      case DType::F16: b = f16_bits_to_f32(static_cast<uint16_t>(in[2 * i] | in[2 * i + 1] << 8)); break;
      case DType::F8_E5M2: b = f16_bits_to_f32(static_cast<uint16_t>(in[i] << 8)); break;
      case DType::F8_E4M3: b = e4m3_bits_to_f32(in[i]); break;
      case DType::F32: std::memcpy(&b, in.data() + 4 * i, 4); break;
      default: fail_msg("internal error: cannot widen {}", dtype_name(dt));
    }
    std::memcpy(out.data() + 4 * i, &b, 4);
  }
}

struct ExtractArgs {
  std::string input, tensor, output, as;
  bool force = false;
};

void run_extract(const ExtractArgs& a) {
  ContainerReader r(a.input);
  const SectionInfo* s = nullptr;
  for (const auto& x : r.sections())
    if (x.kind == static_cast<uint16_t>(SectionKind::Tensor) && x.name == a.tensor) s = &x;
  if (!s) fail(a.input, "has no tensor named '{}'", a.tensor);
  TensorMeta m = decode_tensor_meta(s->meta, a.input);
  const bool widen = !a.as.empty();
  if (widen && a.as != "f32") fail_msg("--as {}: only f32 is supported", a.as);
  if (widen && !(dtype_is_float(m.dtype) && dtype_size(m.dtype) <= 4))
    fail(a.input, "tensor '{}' is {}, which --as f32 cannot hold exactly", a.tensor, dtype_name(m.dtype));
  if (!widen && !dtype_npy_descr(m.dtype))
    fail(a.input, "tensor '{}' is {}, which NumPy has no dtype for; use --as f32 to widen it exactly", a.tensor,
         dtype_name(m.dtype));
  OutputFile out(a.output, a.force);
  out.write(npy_preamble(widen ? DType::F32 : m.dtype, m.shape));
  std::vector<uint8_t> raw, wide;
  Xxh64Stream h;
  for (size_t c = 0; c < s->chunks.size(); ++c) {
    raw.resize(s->chunks[c].raw_size);
    r.decode_chunk(*s, c, raw);
    h.update(raw);
    if (widen) {
      widen_to_f32(m.dtype, raw, wide);
      out.write(wide);
    } else {
      out.write(raw);
    }
  }
  if (h.digest() != s->raw_xxh64) fail(a.input, "section {}: checksum mismatch in the decoded content", s->name);
  out.commit();
  say(fmt::format("{}: {} {} {} => {}", a.input, a.tensor, widen ? "f32" : dtype_name(m.dtype), shape_str(m.shape),
                  a.output));
}

}  // namespace

void register_tensor_commands(CLI::App& app) {
  {
    auto a = std::make_shared<CompressArgs>();
    auto* c = app.add_subcommand("compress", "compress a .safetensors, .npy or raw file losslessly into .pith");
    c->add_option("input", a->input, "file to compress")->required();
    c->add_option("-o,--output", a->output, "output file (default: INPUT.pith)");
    c->add_flag("-f,--force", a->force, "overwrite an existing output");
    c->add_flag("--json", a->json, "print a machine-readable summary");
    c->add_option("-T,--threads", a->threads, "threads (default: all cores, at most one per chunk of data)");
    c->add_option("--chunk-size", a->chunk_size, "bytes per chunk, e.g. 256K, 1M (default 1M)");
    c->add_option("--dtype", a->dtype, "raw input: element type (F32, BF16, F16, I8...)");
    c->add_option("--shape", a->shape, "raw input: shape, e.g. 1024,768")->delimiter(',');
    c->callback([a] { run_compress(*a); });
  }
  {
    auto a = std::make_shared<DecompressArgs>();
    auto* c = app.add_subcommand("decompress", "restore the original file from a .pith file");
    c->add_option("input", a->input, ".pith file")->required();
    c->add_option("-o,--output", a->output, "output file (default: INPUT without .pith)");
    c->add_flag("-f,--force", a->force, "overwrite an existing output");
    c->add_flag("--json", a->json, "print a machine-readable summary");
    c->add_option("-T,--threads", a->threads, "threads (default: all cores, at most one per chunk of data)");
    c->callback([a] { run_decompress(*a); });
  }
  {
    auto a = std::make_shared<InspectArgs>();
    auto* c = app.add_subcommand("inspect", "list the tensors (or the vector index) in a .pith file");
    c->add_option("input", a->input, ".pith file")->required();
    c->add_flag("--json", a->json, "machine-readable output");
    c->callback([a] { run_inspect(*a); });
  }
  {
    auto a = std::make_shared<VerifyArgs>();
    auto* c = app.add_subcommand("verify", "check every checksum of a .pith file (writes nothing)");
    c->add_option("input", a->input, ".pith file")->required();
    c->add_flag("--json", a->json, "machine-readable output");
    c->add_option("-T,--threads", a->threads, "threads (default: all cores)");
    c->callback([a] { run_verify(*a); });
  }
  {
    auto a = std::make_shared<ExtractArgs>();
    auto* c = app.add_subcommand("extract", "write one tensor of a .pith file as .npy");
    c->add_option("input", a->input, ".pith file")->required();
    c->add_option("tensor", a->tensor, "tensor name")->required();
    c->add_option("-o,--output", a->output, "output .npy file")->required();
    c->add_option("--as", a->as, "convert to this dtype (f32: exact widening of BF16/F16/F8)");
    c->add_flag("-f,--force", a->force, "overwrite an existing output");
    c->callback([a] { run_extract(*a); });
  }
}

}  // namespace pith::cli
