#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/file.h"
#include "read/safetensors.h"

using namespace pith;

namespace {

std::vector<uint8_t> make_st(const std::string& json, size_t data_bytes) {
  std::vector<uint8_t> b(8);
  uint64_t n = json.size();
  std::memcpy(b.data(), &n, 8);
  b.insert(b.end(), json.begin(), json.end());
  b.resize(b.size() + data_bytes, 0x5a);
  return b;
}

std::string error_of(const std::string& json, size_t data_bytes) {
  auto b = make_st(json, data_bytes);
  try {
    parse_safetensors(b, "m.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Safetensors, ParsesEveryDtypeAndSortsByOffset) {
  const char* names[] = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I32",
                         "I16", "I8",  "U64", "U32", "U16",  "U8",      "BOOL"};
  // Listed in reverse data order to check sorting.
  std::string json = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::vector<std::pair<uint64_t, uint64_t>> offs;
  uint64_t pos = 0;
  for (const char* n : names) {
    uint64_t sz = dtype_size(*dtype_from_name(n)) * 6;
    offs.push_back({pos, pos + sz});
    pos += sz;
  }
  for (int i = 14; i >= 0; --i)
    json += fmt::format(",\"t{}\":{{\"dtype\":\"{}\",\"shape\":[2,3],\"data_offsets\":[{},{}]}}", i, names[i],
                        offs[i].first, offs[i].second);
  json += "}  ";
  auto b = make_st(json, pos);
  auto f = parse_safetensors(b, "m");
  ASSERT_EQ(f.tensors.size(), 15u);
  EXPECT_EQ(f.header_size, 8 + json.size());
  EXPECT_EQ(f.metadata.at("format"), "pt");
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(f.tensors[i].name, "t" + std::to_string(i));
    EXPECT_EQ(dtype_name(f.tensors[i].dtype), names[i]);
    EXPECT_EQ(f.tensors[i].begin, f.header_size + offs[i].first);
    EXPECT_EQ(f.tensors[i].shape, (std::vector<uint64_t>{2, 3}));
  }
}

TEST(Safetensors, EmptyAndScalarTensors) {
  auto f = parse_safetensors(
      make_st(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]}})",
              4),
      "m");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_TRUE(f.tensors[0].shape.empty());
  EXPECT_EQ(f.tensors[1].end - f.tensors[1].begin, 0u);
  EXPECT_EQ(parse_safetensors(make_st("{}", 0), "m").tensors.size(), 0u);
}

TEST(Safetensors, RealWeightFiles) {
  std::string dir = std::string(PITH_SHARED_DATA) + "/weights";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no shared data";
  MappedFile m(dir + "/ppocrv4_rec.bf16.safetensors");
  auto f = parse_safetensors(m.bytes(), m.path());
  EXPECT_EQ(f.tensors.size(), 309u);
  uint64_t params = 0;
  for (const auto& t : f.tensors) {
    EXPECT_EQ(t.dtype, DType::BF16);
    params += (t.end - t.begin) / 2;
  }
  EXPECT_EQ(params, 2690296u);
}

TEST(Safetensors, BadFilesAreRejectedPrecisely) {
  auto has = [](const std::string& err, const char* needle) {
    EXPECT_NE(err.find(needle), std::string::npos) << err;
  };
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  EXPECT_EQ(error_of("{" + a + "}", 8), "");
  has(error_of("{" + a, 8), "malformed safetensors JSON");
  has(error_of("{\"a\":1} x", 8), "malformed");
  has(error_of("[1]", 0), "does not start with '{'");
  has(error_of(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype 'F33'");
  has(error_of(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "missing dtype");
  has(error_of(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8), "missing shape");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "data_offsets must be");
  has(error_of(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8), "non-negative");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8), "unknown field 'x'");
  has(error_of(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12 bytes");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "end before");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "outside the data area");
  has(error_of(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8), "overflows");
  has(error_of(R"({"__metadata__":{"k":1}})", 0), "not a string");
  has(error_of(R"({"__metadata__":[]})", 0), "__metadata__ is not a JSON object");
  has(error_of(R"({"a":[]})", 0), "tensor 'a': entry is not a JSON object");
  // A key given twice would silently hide the first value: both are errors.
  has(error_of("{" + a + "," + a + "}", 8), "tensor 'a' is listed twice");
  has(error_of(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
      "field 'dtype' given twice");
  has(error_of(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8), "dtype must be a string");
  has(error_of(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8), "shape must be an array");
  has(error_of(R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", 8), "non-negative");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", 8), "data_offsets must be");
  has(error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), "data_offsets must be");
  std::string dims = "1";
  for (int i = 1; i < 33; ++i) dims += ",1";
  has(error_of(R"({"a":{"dtype":"U8","shape":[)" + dims + R"(],"data_offsets":[0,1]}})", 1), "more than 32 dimensions");
  // Overlap names both tensors; gaps and trailing bytes give the offsets.
  has(error_of("{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
      "tensors 'a' and 'b' overlap (data_offsets [0, 8] and [4, 12])");
  has(error_of("{" + a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16),
      "gap of 4 bytes in the data area before tensor 'b' (data offsets 8 to 12");
  has(error_of("{" + a + "}", 10), "2 bytes after the last tensor");
  // Nesting bombs and absurd lengths fail before any large allocation.
  has(error_of("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", 0), "nests deeper");
  std::vector<uint8_t> b(16, 0);
  b[7] = 0x10;  // header length 2^60
  try {
    parse_safetensors(b, "m");
    ADD_FAILURE();
  } catch (const Error& e) {
    has(e.what(), "exceeds");
  }
  b[7] = 0;
  b[0] = 100;
  try {
    parse_safetensors(b, "m");
    ADD_FAILURE();
  } catch (const Error& e) {
    has(e.what(), "truncated");
  }
  for (size_t n = 0; n < 8; ++n) EXPECT_THROW(parse_safetensors(std::span(b).first(n), "m"), Error);
}
