#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/bytes.h"
#include "common/error.h"
#include "common/hash.h"
#include "store/container.h"

namespace fs = std::filesystem;
using namespace pith;

namespace {

fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("pith_store_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::vector<uint8_t> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<uint8_t> b(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v = nd(rng);
    std::memcpy(b.data() + 4 * i, &v, 4);
  }
  return b;
}

// Writes a tensor section cut into chunks of chunk_bytes through encode_chunk.
void write_tensor(ContainerWriter& w, const std::string& name, const std::vector<uint8_t>& raw, DType dt,
                  std::vector<uint64_t> shape, size_t chunk_bytes, uint16_t flags = kSectionSource) {
  w.begin_section(SectionKind::Tensor, flags, name, encode_tensor_meta({dt, std::move(shape)}));
  for (size_t off = 0; off < raw.size(); off += chunk_bytes) {
    std::span<const uint8_t> part(raw.data() + off, std::min(chunk_bytes, raw.size() - off));
    ChunkHint hint{true, dt, 3};
    w.add_chunk(encode_chunk(part, hint), part.size(), xxh64(part));
  }
  w.end_section(xxh64(raw));
}

// A container whose index bytes are given verbatim (stored uncompressed), for
// forging entries a writer would never produce.
std::vector<uint8_t> forge(const std::vector<uint8_t>& payload, const std::vector<uint8_t>& index) {
  ByteWriter w;
  const uint8_t magic[8] = {0x89, 'P', 'I', 'T', 'H', '\r', '\n', 0x1a};
  w.bytes(magic, 8);
  w.u16(1);
  w.u16(0);
  w.u32(0);
  w.bytes(payload);
  uint64_t ioff = w.size();
  w.bytes(index);
  w.u64(ioff);
  w.u64(index.size());
  w.u64(index.size());
  w.u64(xxh64(index));
  w.u32(0);
  w.u32(0);
  const uint8_t end[8] = {'P', 'I', 'T', 'H', 'E', 'N', 'D', 0x1a};
  w.bytes(end, 8);
  return std::move(w.buf());
}

// Index with one section of `kind`/`flags` holding one chunk of `payload` at offset 16.
std::vector<uint8_t> one_section_index(uint16_t kind, uint16_t flags, const std::vector<uint8_t>& payload,
                                       uint16_t codec, uint64_t raw_size, std::vector<uint8_t> meta = {}) {
  ByteWriter w;
  w.u8(0);
  w.u64(0);
  w.u64(0);
  w.u32(1);
  w.u16(kind);
  w.u16(flags);
  w.str("s");
  w.u32(static_cast<uint32_t>(meta.size()));
  w.bytes(meta);
  w.u64(raw_size);
  w.u64(xxh64(payload));
  w.u32(1);
  w.u64(16);
  w.u64(payload.size());
  w.u64(raw_size);
  w.u64(xxh64(payload));
  w.u64(xxh64(payload));
  w.u16(codec);
  w.u16(0);
  return std::move(w.buf());
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Container, RoundTripsSectionsRangesAndMapping) {
  auto p = (temp_dir() / "rt.pith").string();
  fs::remove(p);
  auto t1 = random_floats(100000, 1);
  std::vector<uint8_t> blob = {'{', '}', ' ', ' '};
  std::vector<uint8_t> codes(1000);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(i * 7);
  {
    ContainerWriter w(p, false);
    w.begin_section(SectionKind::Blob, kSectionSource, "header", {});
    w.add_stored(blob);
    w.end_section(xxh64(blob));
    write_tensor(w, "t1", t1, DType::F32, {100, 1000}, 65536);
    w.begin_section(uint16_t{17}, kSectionRequired, "codes", {});
    w.add_stored(std::span<const uint8_t>(codes).first(500));
    w.add_stored(std::span<const uint8_t>(codes).subspan(500));
    w.end_section(xxh64(codes));
    w.begin_section(SectionKind::Tensor, 0, "empty", encode_tensor_meta({DType::F16, {0, 5}}));
    w.end_section(xxh64(nullptr, 0));
    w.set_source({SourceFormat::Raw, blob.size() + t1.size(), 42});
    w.finish();
  }
  ContainerReader r(p);
  ASSERT_EQ(r.sections().size(), 4u);
  EXPECT_EQ(r.source().size, blob.size() + t1.size());
  EXPECT_EQ(r.read_section(*r.find("header"), 1), blob);
  const SectionInfo& s1 = *r.find("t1");
  EXPECT_EQ(s1.chunks.size(), 7u);
  EXPECT_EQ(r.read_section(s1, 2), t1);
  auto range = r.read_range(s1, 65530, 200000);
  EXPECT_TRUE(std::equal(range.begin(), range.end(), t1.begin() + 65530));
  EXPECT_EQ(range.size(), 200000u - 65530u);
  EXPECT_TRUE(r.read_range(s1, 5, 5).empty());
  EXPECT_THROW(r.read_range(s1, 5, t1.size() + 1), Error);
  auto m = r.mapped(*r.find("codes"));
  ASSERT_EQ(m.size(), codes.size());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % 64, 0u);
  EXPECT_TRUE(std::equal(m.begin(), m.end(), codes.begin()));
  EXPECT_TRUE(r.mapped(s1).empty());  // compressed chunks are not usable in place
  {  // a flipped byte in mapped codes is caught when they are mapped
    auto bytes = read_file(p);
    bytes[static_cast<size_t>(r.find("codes")->chunks[1].offset) + 3] ^= 1;
    ContainerReader bad(bytes, "bad.pith");
    EXPECT_NE(error_of([&] { bad.mapped(*bad.find("codes")); }).find("section codes chunk 1: checksum mismatch"),
              std::string::npos);
    EXPECT_EQ(bad.mapped(*bad.find("codes"), false).size(), codes.size());
  }
  EXPECT_TRUE(r.read_section(*r.find("empty"), 1).empty());
  EXPECT_EQ(decode_tensor_meta(r.find("empty")->meta, "x").shape, (std::vector<uint64_t>{0, 5}));
  EXPECT_EQ(r.find("nope"), nullptr);
}

TEST(Container, IndexIsCompressedWhenSmaller) {
  auto p = (temp_dir() / "many.pith").string();
  fs::remove(p);
  {
    ContainerWriter w(p, false);
    std::vector<uint8_t> one = {1};
    for (int i = 0; i < 500; ++i) {
      w.begin_section(SectionKind::Blob, 0, "section.number." + std::to_string(i), {});
      w.add_stored(one);
      w.end_section(xxh64(one));
    }
    w.finish();
  }
  auto bytes = read_file(p);
  uint32_t codec;
  std::memcpy(&codec, bytes.data() + bytes.size() - 16, 4);
  EXPECT_EQ(codec, 1u);
  ContainerReader r(p);
  EXPECT_EQ(r.sections().size(), 500u);
  EXPECT_EQ(r.sections()[499].name, "section.number.499");
}

TEST(Container, WriterLeavesNothingWithoutFinishAndRefusesOverwrite) {
  auto d = temp_dir() / "nofinish";
  fs::create_directories(d);
  auto p = (d / "x.pith").string();
  {
    ContainerWriter w(p, false);
    w.begin_section(SectionKind::Blob, 0, "b", {});
  }
  EXPECT_TRUE(fs::is_empty(d));
  { ContainerWriter w(p, false); w.finish(); }
  EXPECT_THROW(ContainerWriter(p, false), Error);
  ContainerReader r(p);
  EXPECT_TRUE(r.sections().empty());
  EXPECT_LE(r.file_size(), 16u + 48u + 21u);  // header, footer, index of 21 bytes or less
}

// Every byte a checksum or a check covers must be caught when one of its bits flips:
// at open (header, index, footer) or when the section is decoded (payloads).
TEST(Container, EveryCoveredBitFlipIsDetected) {
  auto p = (temp_dir() / "flip.pith").string();
  fs::remove(p);
  auto t = random_floats(300, 3);
  {
    ContainerWriter w(p, false);
    write_tensor(w, "t", t, DType::F32, {300}, 512);
    w.set_source({SourceFormat::Raw, t.size(), xxh64(t)});
    w.finish();
  }
  const auto good = read_file(p);
  std::vector<bool> covered(good.size(), true);
  covered[10] = covered[11] = false;  // minor version: larger values are accepted by design
  {
    ContainerReader r(p);
    // Alignment padding before stored chunks belongs to nothing.
    uint64_t prev = 16;
    std::vector<std::pair<uint64_t, uint64_t>> ex;
    for (const auto& c : r.sections()[0].chunks) ex.push_back({c.offset, c.offset + c.stored_size});
    std::sort(ex.begin(), ex.end());
    for (auto [b, e] : ex) {
      for (uint64_t i = prev; i < b; ++i) covered[i] = false;
      prev = e;
    }
  }
  auto fp = (temp_dir() / "flipped.pith").string();
  int detected = 0, total = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    if (!covered[i]) continue;
    for (int bit = 0; bit < 8; bit += 3) {
      auto b = good;
      b[i] ^= static_cast<uint8_t>(1u << bit);
      ++total;
      try {
        ContainerReader r(b, "mem");
        for (const auto& s : r.sections()) r.read_section(s, 1);
      } catch (const Error&) {
        ++detected;
      }
    }
  }
  EXPECT_EQ(detected, total);
}

TEST(Container, EveryTruncationIsRejected) {
  auto p = (temp_dir() / "trunc.pith").string();
  fs::remove(p);
  auto t = random_floats(1000, 4);
  {
    ContainerWriter w(p, false);
    write_tensor(w, "t", t, DType::F32, {1000}, 1024);
    w.finish();
  }
  const auto good = read_file(p);
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> b(good.begin(), good.begin() + n);
    EXPECT_THROW(ContainerReader(b, "mem"), Error) << n;
  }
}

TEST(Container, HeaderErrorsNameTheProblem) {
  auto ok = forge({}, one_section_index(1, 0, {}, 0, 0));
  EXPECT_NO_THROW(ContainerReader(ok, "f.pith"));
  auto b = ok;
  b[1] = 'X';
  EXPECT_EQ(error_of([&] { ContainerReader(b, "f.pith"); }), "f.pith: not a .pith file");
  b = ok;
  b[8] = 2;
  EXPECT_EQ(error_of([&] { ContainerReader(b, "f.pith"); }),
            "f.pith: unsupported format version 2.0; this pith reads 1.x");
  b = ok;
  b[10] = 7;  // minor 7: accepted
  EXPECT_NO_THROW(ContainerReader(b, "f.pith"));
  b = ok;
  b[12] = 1;
  EXPECT_NE(error_of([&] { ContainerReader(b, "f.pith"); }).find("flags"), std::string::npos);
  b = ok;
  b[b.size() - 1] = 0;
  EXPECT_NE(error_of([&] { ContainerReader(b, "f.pith"); }).find("end magic"), std::string::npos);
  b = ok;
  b[b.size() - 20] ^= 1;  // index checksum
  EXPECT_NE(error_of([&] { ContainerReader(b, "f.pith"); }).find("index checksum"), std::string::npos);
}

TEST(Container, UnknownKindsAndCodecs) {
  std::vector<uint8_t> payload = {1, 2, 3, 4};
  // Unknown kind, not required: readable and skippable.
  auto b = forge(payload, one_section_index(200, 0, payload, 0, 4));
  ContainerReader r(b, "f.pith");
  EXPECT_EQ(r.read_section(r.sections()[0], 1), payload);
  // Unknown kind, required: refused at open.
  b = forge(payload, one_section_index(200, kSectionRequired, payload, 0, 4));
  EXPECT_EQ(error_of([&] { ContainerReader(b, "f.pith"); }),
            "f.pith: section s has kind 200, which this pith does not know (written by a newer version?)");
  // Unknown codec: opens, fails to decode.
  b = forge(payload, one_section_index(1, 0, payload, 9, 4));
  ContainerReader r2(b, "f.pith");
  EXPECT_EQ(error_of([&] { r2.read_section(r2.sections()[0], 1); }),
            "f.pith: section s chunk 0 uses codec 9, which this pith does not know (written by a newer version?)");
}

TEST(Container, ForgedIndexEntriesAreRejected) {
  std::vector<uint8_t> payload(8, 7);
  auto expect_error = [](const std::vector<uint8_t>& idx, const std::vector<uint8_t>& pay, const char* needle) {
    auto b = forge(pay, idx);
    std::string e = error_of([&] { ContainerReader(b, "f.pith"); });
    EXPECT_NE(e.find(needle), std::string::npos) << e;
  };
  // Stored chunk whose raw size differs from its stored size.
  expect_error(one_section_index(1, 0, payload, 0, 9), payload, "stored_size 8 != raw_size 9");
  // Tensor whose shape disagrees with its size.
  expect_error(one_section_index(2, 0, payload, 0, 8, encode_tensor_meta({DType::F32, {3}})), payload,
               "tensor shape and dtype give 12 bytes");
  // Tensor meta with an impossible shape.
  expect_error(one_section_index(2, 0, payload, 0, 8, encode_tensor_meta({DType::F32, {1ull << 62, 8}})), payload,
               "overflows");
  // Compressed chunk claiming more than 1 GiB.
  expect_error(one_section_index(1, 0, payload, 1, 2ull << 30), payload, "exceeds 1 GiB");
  // Absurd section count: rejected before anything is reserved.
  ByteWriter w;
  w.u8(0);
  w.u64(0);
  w.u64(0);
  w.u32(0xffffffff);
  expect_error(w.buf(), {}, "section_count");
  // Chunk outside the payload area.
  auto idx = one_section_index(1, 0, payload, 0, 8);
  uint64_t far = 1000;
  std::memcpy(idx.data() + idx.size() - 44, &far, 8);
  expect_error(idx, payload, "outside the payload area");
  // Trailing bytes after the index.
  idx = one_section_index(1, 0, payload, 0, 8);
  idx.push_back(0);
  expect_error(idx, payload, "trailing");
  // Two sections sharing the same payload bytes.
  ByteWriter two;
  two.u8(0);
  two.u64(0);
  two.u64(0);
  two.u32(2);
  for (int i = 0; i < 2; ++i) {
    two.u16(1);
    two.u16(0);
    two.str(i ? "b" : "a");
    two.u32(0);
    two.u64(8);
    two.u64(xxh64(payload));
    two.u32(1);
    two.u64(16);
    two.u64(8);
    two.u64(8);
    two.u64(xxh64(payload));
    two.u64(xxh64(payload));
    two.u16(0);
    two.u16(0);
  }
  expect_error(two.buf(), payload, "overlaps");
}

TEST(Container, ZstdIndexClaimingHugeSizeFailsCheaply) {
  auto p = (temp_dir() / "z.pith").string();
  fs::remove(p);
  { ContainerWriter w(p, false); w.finish(); }
  auto b = read_file(p);
  // Claim 256 MiB raw for a 21-byte index stored as is: the raw/stored mismatch is caught.
  uint64_t huge = 1ull << 28;
  std::memcpy(b.data() + b.size() - 32, &huge, 8);
  EXPECT_THROW(ContainerReader(b, "m"), Error);
  huge = (1ull << 28) + 1;
  std::memcpy(b.data() + b.size() - 32, &huge, 8);
  EXPECT_NE(error_of([&] { ContainerReader(b, "m"); }).find("256 MiB"), std::string::npos);
}

TEST(Container, StoredChunksAlignedUnlessTurnedOff) {
  for (bool align : {true, false}) {
    auto p = (temp_dir() / (align ? "aligned.pith" : "packed.pith")).string();
    fs::remove(p);
    std::vector<uint8_t> a = {1, 2, 3}, b = {4, 5};
    {
      ContainerWriter w(p, false);
      w.set_align_stored(align);
      for (const auto* v : {&a, &b}) {
        w.begin_section(SectionKind::Blob, kSectionSource, v == &a ? "a" : "b", {});
        w.add_stored(*v);
        w.end_section(xxh64(*v));
      }
      w.finish();
    }
    ContainerReader r(p);
    EXPECT_EQ(r.sections()[0].chunks[0].offset, align ? 64u : 16u);
    EXPECT_EQ(r.sections()[1].chunks[0].offset, align ? 128u : 19u);
    EXPECT_EQ(r.read_section(r.sections()[1], 1), b);
  }
}

TEST(Container, PackMembersReadThroughTheirSlices) {
  auto p = (temp_dir() / "pack.pith").string();
  fs::remove(p);
  auto all = random_floats(3000, 7);  // three tensors of 1000 floats packed together
  auto part = [&](int i) { return std::vector<uint8_t>(all.begin() + 4000 * i, all.begin() + 4000 * (i + 1)); };
  {
    ContainerWriter w(p, false);
    const uint32_t pack = w.begin_section(SectionKind::Pack, kSectionSource, "__pack_0__", {});
    w.add_chunk(encode_chunk(all, {true, DType::F32, 3}), all.size(), xxh64(all));
    w.end_section(xxh64(all));
    EXPECT_EQ(pack, 0u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(w.begin_section(SectionKind::Tensor, 0, "t" + std::to_string(i),
                                encode_tensor_meta({DType::F32, {1000}})),
                static_cast<uint32_t>(i + 1));
      w.add_slice(pack, 4000 * i, 4000, xxh64(part(i)));
      w.end_section(xxh64(part(i)));
    }
    w.begin_section(SectionKind::Tensor, 0, "bad", encode_tensor_meta({DType::F32, {0}}));
    EXPECT_THROW(w.add_slice(1, 0, 4, 0), Error);  // not a pack
    w.end_section(0);
    w.set_source({SourceFormat::Raw, all.size(), xxh64(all)});
    w.finish();
  }
  ContainerReader r(p);
  EXPECT_EQ(r.minor_version(), 1u);
  for (int i : {2, 0, 1}) EXPECT_EQ(r.read_section(*r.find("t" + std::to_string(i)), 1), part(i));
  auto range = r.read_range(*r.find("t1"), 10, 30);
  EXPECT_TRUE(std::equal(range.begin(), range.end(), all.begin() + 4010));
  EXPECT_EQ(r.find("t1")->chunks[0].codec, static_cast<uint16_t>(Codec::Slice));
  EXPECT_EQ(r.find("t1")->stored_size(), 0u);
}

TEST(Container, ForgedSlicesAreRejected) {
  std::vector<uint8_t> payload(8, 7);
  // Section 0: a pack (or `pack_kind`) of 8 stored bytes; section 1: an F32 [1]
  // tensor whose one chunk is a SLICE with the given fields.
  auto index = [&](uint16_t pack_kind, uint32_t pack, uint64_t offset, uint64_t stored_size, size_t params_len,
                   uint16_t member_kind = 2) {
    ByteWriter w;
    w.u8(0);
    w.u64(0);
    w.u64(0);
    w.u32(2);
    w.u16(pack_kind);
    w.u16(0);
    w.str("pack");
    w.u32(0);
    w.u64(8);
    w.u64(xxh64(payload));
    w.u32(1);
    for (uint64_t v : {uint64_t{16}, uint64_t{8}, uint64_t{8}, xxh64(payload), xxh64(payload)}) w.u64(v);
    w.u16(0);
    w.u16(0);
    w.u16(member_kind);
    w.u16(0);
    w.str("m");
    auto meta = member_kind == 2 ? encode_tensor_meta({DType::F32, {1}}) : std::vector<uint8_t>{};
    w.u32(static_cast<uint32_t>(meta.size()));
    w.bytes(meta);
    w.u64(4);
    w.u64(xxh64(payload.data(), 4));
    w.u32(1);
    for (uint64_t v : {uint64_t{16}, stored_size, uint64_t{4}, xxh64(nullptr, 0), xxh64(payload.data(), 4)}) w.u64(v);
    w.u16(3);
    w.u16(static_cast<uint16_t>(params_len));
    ByteWriter prm;
    prm.u32(pack);
    prm.u64(offset);
    prm.buf().resize(params_len);
    w.bytes(prm.buf());
    return std::move(w.buf());
  };
  {
    auto b = forge(payload, index(3, 0, 4, 0, 12));
    ContainerReader r(b, "f.pith");
    EXPECT_EQ(r.read_section(*r.find("m"), 1), std::vector<uint8_t>(4, 7));
  }
  auto expect_error = [&](const std::vector<uint8_t>& idx, const char* needle) {
    auto b = forge(payload, idx);
    std::string e = error_of([&] { ContainerReader(b, "f.pith"); });
    EXPECT_NE(e.find(needle), std::string::npos) << e;
  };
  expect_error(index(3, 0, 5, 0, 12), "SLICE [5, +4) lies outside the 8 bytes of pack pack");
  expect_error(index(3, 0, ~uint64_t{0}, 0, 12), "lies outside");
  expect_error(index(3, 1, 0, 0, 12), "not an earlier PACK section");
  expect_error(index(1, 0, 0, 0, 12), "not an earlier PACK section");
  expect_error(index(3, 0, 0, 4, 12), "stored_size 4, must be 0");
  expect_error(index(3, 0, 0, 0, 11), "SLICE params must be 12 bytes");
  expect_error(index(3, 0, 0, 0, 12, 3), "a PACK section cannot hold SLICE chunks");
  // A slice whose bytes do not match its checksum: caught when it is read.
  auto idx = index(3, 0, 2, 0, 12);
  auto b = forge(payload, idx);
  b[16 + 2] ^= 1;  // inside the pack's stored bytes: the pack chunk's own checksum fails
  ContainerReader r(b, "f.pith");
  EXPECT_NE(error_of([&] { r.read_section(*r.find("m"), 1); }).find("section pack chunk 0: checksum mismatch"),
            std::string::npos);
}
