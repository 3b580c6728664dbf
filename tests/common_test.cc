#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/bytes.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/parallel.h"

namespace fs = std::filesystem;
using namespace pith;

namespace {
fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("pith_common_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
size_t count_files(const fs::path& d) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(d), fs::directory_iterator()));
}
}  // namespace

TEST(OutputFile, CommitRenamesAndAbandonLeavesNothing) {
  auto d = temp_dir();
  auto p = (d / "out.bin").string();
  {
    OutputFile f(p, false);
    f.write("abc", 3);
    EXPECT_FALSE(file_exists(p));  // only the temporary exists until commit
  }
  EXPECT_FALSE(file_exists(p));
  EXPECT_EQ(count_files(d), 0u);
  {
    OutputFile f(p, false);
    f.write("abcdef", 6);
    f.pwrite(1, "XY", 2);
    f.commit();
  }
  auto b = read_file(p);
  EXPECT_EQ(std::string(b.begin(), b.end()), "aXYdef");
  EXPECT_THROW(OutputFile(p, false), Error);  // no overwrite without force
  {
    OutputFile f(p, true);
    f.write("z", 1);
    f.pad_to(8);
    EXPECT_EQ(f.offset(), 8u);
    f.commit();
  }
  EXPECT_EQ(file_size(p), 8u);
  fs::remove_all(d);
}

TEST(OutputFile, WriteBehindKeepsOrderAndContent) {
  auto d = temp_dir();
  auto p = (d / "behind.bin").string();
  std::string want;
  {
    OutputFile f(p, false);
    f.write_behind(7);  // tiny buffers: every path (partial, exact, spanning) runs
    for (int i = 0; i < 300; ++i) {
      std::string piece(static_cast<size_t>(i % 23), static_cast<char>('a' + i % 26));
      f.write(piece.data(), piece.size());
      want += piece;
    }
    f.pwrite(3, "XYZ", 3);  // waits for what is queued, then patches in place
    want.replace(3, 3, "XYZ");
    f.write("tail", 4);
    want += "tail";
    std::vector<std::weak_ptr<const void>> handed;
    for (int i = 0; i < 5; ++i) {  // handed-over buffers between copied bytes
      auto own = std::make_shared<std::vector<uint8_t>>(11);
      for (int k = 0; k < 11; ++k) (*own)[k] = static_cast<uint8_t>('A' + (i + k) % 26);
      want.append(reinterpret_cast<const char*>(own->data()), 11);
      const std::span<const uint8_t> bytes(*own);
      handed.push_back(own);
      f.write(bytes, std::move(own));
      f.write("-", 1);
      want += "-";
    }
    f.pwrite(0, "Q", 1);  // waits until everything queued is written
    want[0] = 'Q';
    for (const auto& h : handed) EXPECT_TRUE(h.expired());  // released once written
    f.pad_to(64);
    want.resize((want.size() + 63) / 64 * 64, '\0');
    EXPECT_EQ(f.offset(), want.size());
    f.commit();
  }
  auto b = read_file(p);
  EXPECT_EQ(std::string(b.begin(), b.end()), want);
  {
    OutputFile f((d / "gone.bin").string(), false);
    f.write_behind(5);
    f.write("0123456789abcdef", 16);
  }  // abandoned: the thread stops and the temporary file is removed
  EXPECT_EQ(count_files(d), 1u);
  fs::remove_all(d);
}

TEST(OutputFile, ErrorsNameTheFile) {
  try {
    MappedFile m("/nonexistent/dir/x.pith");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.pith"), std::string::npos);
  }
}

TEST(ByteReader, BoundsAreChecked) {
  ByteWriter w;
  w.u32(7);
  w.str("hello");
  w.array<float>(std::vector<float>{1.f, 2.f});
  ByteReader r(w.buf(), "buf");
  EXPECT_EQ(r.u32("a"), 7u);
  EXPECT_EQ(r.str("b"), "hello");
  EXPECT_EQ(r.array<float>("c"), (std::vector<float>{1.f, 2.f}));
  EXPECT_TRUE(r.done());
  EXPECT_THROW(r.u8("past end"), Error);

  // A claimed element count larger than the bytes left must fail before allocating.
  ByteWriter bad;
  bad.u64(uint64_t{1} << 60);
  ByteReader rb(bad.buf(), "bad");
  EXPECT_THROW(rb.array<double>("huge"), Error);
}

TEST(DType, NamesSizesAndNpy) {
  for (int i = 0; i < kDTypeCount; ++i) {
    auto t = static_cast<DType>(i);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
    if (auto d = dtype_npy_descr(t)) {
      EXPECT_EQ(dtype_from_npy_descr(*d), t);
    }
  }
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_float_layout(DType::F16).exponent_bits, 5);
  EXPECT_FALSE(dtype_npy_descr(DType::BF16).has_value());
  EXPECT_EQ(dtype_from_npy_descr(">f4"), std::nullopt);  // big-endian is not ours
  EXPECT_EQ(dtype_from_npy_descr("<f4"), DType::F32);
  EXPECT_FALSE(dtype_valid(kDTypeCount));
}

TEST(Hash, StreamEqualsOneShot) {
  std::vector<uint8_t> v(10000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 31);
  Xxh64Stream s;
  s.update(v.data(), 1234);
  s.update(v.data() + 1234, v.size() - 1234);
  EXPECT_EQ(s.digest(), xxh64(v));
  EXPECT_EQ(xxh64(nullptr, 0), 0xEF46DB3751D8E999ull);  // XXH64 of the empty input
}

TEST(Parallel, CoversEveryItemAndPropagatesErrors) {
  std::vector<std::atomic<int>> hits(1000);
  parallel_for(hits.size(), 4, [&](size_t i) { hits[i]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(parallel_for(100, 3, [](size_t i) {
                 if (i == 42) fail_msg("item {}", i);
               }),
               Error);
}
