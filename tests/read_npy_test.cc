#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/file.h"
#include "read/npy.h"

namespace fs = std::filesystem;
using namespace pith;

namespace {

fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("pith_npy_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// A .npy file with the given version and header text (padding as NumPy does) plus data.
std::vector<uint8_t> make_npy(int major, const std::string& dict, size_t data_bytes) {
  size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((prefix + h.size() + 1) % 64) h.push_back(' ');
  h.push_back('\n');
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (size_t i = 0; i < prefix - 8; ++i) b.push_back(static_cast<uint8_t>(h.size() >> (8 * i)));
  b.insert(b.end(), h.begin(), h.end());
  b.resize(b.size() + data_bytes, 0xab);
  return b;
}

std::string error_of(std::span<const uint8_t> b) {
  try {
    parse_npy(b, "a.npy");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Npy, ParsesVersions123) {
  for (int v = 1; v <= 3; ++v) {
    auto b = make_npy(v, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    NpyHeader h = parse_npy(b, "a.npy");
    EXPECT_EQ(h.major, v);
    EXPECT_EQ(h.dtype, DType::F32);
    EXPECT_EQ(h.shape, (std::vector<uint64_t>{2, 3}));
    EXPECT_FALSE(h.fortran_order);
    EXPECT_EQ(h.data_offset, 128u);
    EXPECT_EQ(h.data_size, 24u);
  }
  // Key order, quotes and spacing as other writers produce them; 0-d and empty arrays.
  auto b = make_npy(1, "{\"shape\":(),\"fortran_order\":True,\"descr\":\"|u1\"}", 1);
  NpyHeader h = parse_npy(b, "a.npy");
  EXPECT_TRUE(h.shape.empty());
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.elements(), 1u);
  b = make_npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 7), }", 0);
  EXPECT_EQ(parse_npy(b, "a.npy").data_size, 0u);
  b = make_npy(3, "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", 10);
  EXPECT_EQ(parse_npy(b, "a.npy").dtype, DType::F16);
}

TEST(Npy, PreambleMatchesNumPy) {
  // Bytes numpy 1.24 writes for np.save(f, np.zeros((2, 3), np.float32)).
  std::string want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  want.append(128 - 10 - want.size() - 1, ' ');
  want += '\n';
  std::vector<uint64_t> shape = {2, 3};
  auto pre = npy_preamble(DType::F32, shape);
  ASSERT_EQ(pre.size(), 128u);
  EXPECT_EQ(std::string(pre.begin() + 10, pre.end()), want);
  std::vector<uint64_t> one = {7};
  auto p1 = npy_preamble(DType::I64, one);
  EXPECT_NE(std::string(p1.begin(), p1.end()).find("'shape': (7,)"), std::string::npos);
  EXPECT_THROW(npy_preamble(DType::BF16, one), Error);
}

TEST(Npy, WriteThenReadRoundTrips) {
  auto p = (temp_dir() / "w.npy").string();
  fs::remove(p);
  std::vector<int64_t> v = {1, -2, 3, 1ll << 40};
  std::vector<uint64_t> shape = {2, 2};
  write_npy(p, DType::I64, shape, {reinterpret_cast<const uint8_t*>(v.data()), 32}, false);
  EXPECT_THROW(write_npy(p, DType::I64, shape, {reinterpret_cast<const uint8_t*>(v.data()), 32}, false), Error);
  NpyFile f(p);
  EXPECT_EQ(f.header().dtype, DType::I64);
  EXPECT_EQ(f.header().shape, shape);
  ASSERT_EQ(f.data().size(), 32u);
  EXPECT_EQ(std::memcmp(f.data().data(), v.data(), 32), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data().data()) % 64, 0u);
}

TEST(Npy, ReadsTheRepositoryDemoAndSharedData) {
  NpyFile demo(std::string(PITH_SOURCE_DIR) + "/data/demo/queries.npy");
  EXPECT_EQ(demo.header().dtype, DType::F32);
  EXPECT_EQ(demo.header().shape.size(), 2u);
  std::string gt = std::string(PITH_SHARED_DATA) + "/sift128/gt_ids.npy";
  if (!fs::exists(gt)) GTEST_SKIP() << "no shared data";
  NpyFile f(gt);
  EXPECT_EQ(f.header().dtype, DType::I32);
  EXPECT_EQ(f.header().shape, (std::vector<uint64_t>{1000, 100}));
}

TEST(Npy, BadHeadersAreRejectedWithReasons) {
  auto err = [](int v, const std::string& dict, size_t data) { return error_of(make_npy(v, dict, data)); };
  const std::string ok_tail = "'fortran_order': False, 'shape': (2,), }";
  EXPECT_EQ(err(1, "{'descr': '<f4', " + ok_tail, 8), "");
  EXPECT_NE(err(1, "{'descr': '>f4', " + ok_tail, 8).find("big-endian"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<c8', " + ok_tail, 16).find("unsupported dtype"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': [('a', '<f4')], " + ok_tail, 8).find("structured"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': False}", 8).find("needs the keys"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'descr': '<f4', " + ok_tail, 8).find("duplicate"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'extra': 1, " + ok_tail, 8).find("unexpected key"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8).find("True or False"),
            std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8).find("not a tuple"),
            std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8).find("non-negative"),
            std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8).find("overflow"),
            std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8)
                .find("overflows"),
            std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', " + ok_tail + " x", 8).find("after the closing"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4, " + ok_tail, 8), "");
  // Data size must match the shape exactly.
  EXPECT_NE(err(1, "{'descr': '<f4', " + ok_tail, 7).find("truncated"), std::string::npos);
  EXPECT_NE(err(1, "{'descr': '<f4', " + ok_tail, 9).find("after the array data"), std::string::npos);
  // A shape claiming terabytes is checked against the file, not allocated.
  EXPECT_NE(err(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", 8).find("truncated"),
            std::string::npos);
  // Magic, version, header length.
  auto b = make_npy(1, "{'descr': '<f4', " + ok_tail, 8);
  auto c = b;
  c[1] = 'n';
  EXPECT_NE(error_of(c).find("not a .npy file"), std::string::npos);
  c = b;
  c[6] = 4;
  EXPECT_NE(error_of(c).find("version 4.0"), std::string::npos);
  c = b;
  c[8] = 0xff;
  c[9] = 0xff;
  EXPECT_NE(error_of(c).find("header claims"), std::string::npos);
  for (size_t n = 0; n < 12; ++n) EXPECT_NE(error_of(std::span(b).first(n)), "");
  EXPECT_NE(error_of(std::span<const uint8_t>()), "");
}
