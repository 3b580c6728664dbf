// Runs the `pith` binary (PITH_CLI) on synthetic and real files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/dtype.h"
#include "common/file.h"
#include "read/npy.h"
#include "store/container.h"

namespace fs = std::filesystem;
using namespace pith;

namespace {

struct Run {
  int status;
  std::string out, err;
};

fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("pith_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs `pith ARGS` (arguments are shell words; test paths contain no spaces).
Run run_pith(const std::string& args) {
  auto d = temp_dir();
  auto o = d / "stdout.txt", e = d / "stderr.txt";
  std::string cmd = std::string(PITH_CLI) + " " + args + " >" + o.string() + " 2>" + e.string();
  int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(o), slurp(e)};
}

void put(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<uint8_t> get(const fs::path& p) { return read_file(p.string()); }

struct T {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> safetensors(const std::vector<T>& ts) {
  nlohmann::ordered_json j;
  j["__metadata__"] = {{"format", "pt"}};
  uint64_t pos = 0;
  for (const auto& t : ts) {
    j[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {pos, pos + t.bytes.size()}}};
    pos += t.bytes.size();
  }
  std::string h = j.dump();
  while (h.size() % 8) h.push_back(' ');
  std::vector<uint8_t> b(8);
  uint64_t n = h.size();
  std::memcpy(b.data(), &n, 8);
  b.insert(b.end(), h.begin(), h.end());
  for (const auto& t : ts) b.insert(b.end(), t.bytes.begin(), t.bytes.end());
  return b;
}

template <typename U>
std::vector<uint8_t> bytes_of(const std::vector<U>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(U));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Values that must survive bit for bit: NaN payloads, infinities, subnormals, -0.0.
std::vector<T> special_tensors() {
  std::vector<uint32_t> f32 = {0x7fc00000, 0x7f800001, 0xffc12345, 0x7f800000, 0xff800000, 0x00000001,
                               0x807fffff, 0x80000000, 0x00000000, 0x3f800000, 0x7f7fffff};
  for (uint32_t i = 0; i < 5000; ++i) f32.push_back(0x3c000000u + i * 977u);
  std::vector<uint16_t> h16, b16;
  for (uint32_t i = 0; i < 65536; ++i) h16.push_back(static_cast<uint16_t>(i));  // every F16 / BF16 pattern
  for (uint32_t i = 0; i < 65536; ++i) b16.push_back(static_cast<uint16_t>(i * 40503u));
  std::vector<uint8_t> all8(256);
  for (int i = 0; i < 256; ++i) all8[i] = static_cast<uint8_t>(i);
  std::vector<T> ts = {
      {"f32", DType::F32, {f32.size()}, bytes_of(f32)},
      {"f16", DType::F16, {256, 256}, bytes_of(h16)},
      {"bf16", DType::BF16, {65536}, bytes_of(b16)},
      {"e4m3", DType::F8_E4M3, {16, 16}, all8},
      {"e5m2", DType::F8_E5M2, {256}, all8},
      {"empty", DType::F32, {0, 4}, {}},
      {"one", DType::F32, {}, bytes_of(std::vector<uint32_t>{0x80000000})},
      {"one_bf16", DType::BF16, {1}, bytes_of(std::vector<uint16_t>{0xffff})},
      {"i64", DType::I64, {3}, bytes_of(std::vector<int64_t>{-1, 0, 1ll << 62})},
      {"flags", DType::BOOL, {4}, {0, 1, 1, 0}},
      {"f64", DType::F64, {2}, bytes_of(std::vector<double>{-0.0, std::nan("7")})},
  };
  return ts;
}

}  // namespace

TEST(CliTensor, SpecialValuesRoundTripBitForBit) {
  auto d = temp_dir() / "special";
  fs::create_directories(d);
  auto in = d / "m.safetensors";
  auto original = safetensors(special_tensors());
  put(in, original);
  // Small chunks so tensors span several chunks, with one and two threads.
  for (const char* opts : {"-T1 --chunk-size 4K", "-T2 --chunk-size 1000", "-T2"}) {
    auto r = run_pith(std::string("-q compress -f ") + opts + " " + in.string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");  // -q
    fs::remove(d / "back.safetensors");
    r = run_pith("decompress " + (d / "m.safetensors.pith").string() + " -o " + (d / "back.safetensors").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(get(d / "back.safetensors"), original) << opts;
  }
  auto r = run_pith("verify " + (d / "m.safetensors.pith").string());
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(CliTensor, RealWeightsRoundTrip) {
  fs::path w = fs::path(PITH_SHARED_DATA) / "weights";
  if (!fs::exists(w)) GTEST_SKIP() << "no shared data";
  auto d = temp_dir() / "real";
  fs::create_directories(d);
  for (const char* f : {"ppocr_mobile_v2_cls.f32", "ppocr_mobile_v2_cls.f16", "ppocr_mobile_v2_cls.bf16",
                        "ppocrv4_rec.bf16"}) {
    auto src = w / (std::string(f) + ".safetensors");
    auto p = d / (std::string(f) + ".pith"), back = d / (std::string(f) + ".back");
    auto r = run_pith("compress -f " + src.string() + " -o " + p.string() + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["input_bytes"], fs::file_size(src));
    EXPECT_LT(j["output_bytes"].get<uint64_t>(), fs::file_size(src));
    r = run_pith("decompress -f " + p.string() + " -o " + back.string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(get(back), get(src)) << f;
    EXPECT_EQ(run_pith("verify -q " + p.string()).status, 0);
  }
}

TEST(CliTensor, SmallTensorsArePackedAndStayReadableOneByOne) {
  auto d = temp_dir() / "packed";
  fs::remove_all(d);
  fs::create_directories(d);
  // 40 small F16 tensors, a large F32 one, then 3 small BF16 ones: two packs.
  std::vector<T> ts;
  for (int i = 0; i < 40; ++i) {
    std::vector<uint16_t> h(16 + i);
    for (size_t k = 0; k < h.size(); ++k) h[k] = static_cast<uint16_t>(0x3c00 + 37 * k + i);
    ts.push_back({"n" + std::to_string(i), DType::F16, {h.size()}, bytes_of(h)});
  }
  std::vector<float> big(70000);
  for (size_t k = 0; k < big.size(); ++k) big[k] = std::sin(static_cast<float>(k));
  ts.push_back({"big", DType::F32, {big.size()}, bytes_of(big)});
  for (int i = 0; i < 3; ++i) ts.push_back({"b" + std::to_string(i), DType::BF16, {2}, {1, 2, 3, static_cast<uint8_t>(i)}});
  auto original = safetensors(ts);
  put(d / "m.safetensors", original);
  auto p = (d / "m.pith").string();
  for (const char* t : {"-T1", "-T2"}) {
    ASSERT_EQ(run_pith(std::string("-q compress -f ") + t + " " + (d / "m.safetensors").string() + " -o " + p).status, 0);
    fs::remove(d / "back");
    ASSERT_EQ(run_pith("-q decompress " + p + " -o " + (d / "back").string()).status, 0);
    EXPECT_EQ(get(d / "back"), original) << t;
  }
  auto j = nlohmann::json::parse(run_pith("inspect --json " + p).out);
  int packs = 0, members = 0;
  for (const auto& s : j["sections"]) {
    packs += s["kind"] == 3;
    members += s.contains("pack");
  }
  EXPECT_EQ(packs, 2);
  EXPECT_EQ(members, 43);
  EXPECT_EQ(j["sections"].size(), 1u + 2u + 44u);
  for (const char* name : {"n0", "n17", "n39", "b1"}) {
    const auto& want = *std::find_if(ts.begin(), ts.end(), [&](const T& x) { return x.name == name; });
    const bool bf16 = want.dtype == DType::BF16;  // NumPy has none: widened, not compared
    ASSERT_EQ(run_pith(std::string("-q extract -f ") + p + " " + name + " -o " + (d / "x.npy").string() +
                       (bf16 ? " --as f32" : ""))
                  .status,
              0);
    if (bf16) continue;
    NpyFile f((d / "x.npy").string());
    EXPECT_TRUE(std::equal(f.data().begin(), f.data().end(), want.bytes.begin(), want.bytes.end())) << name;
  }
  EXPECT_EQ(run_pith("verify -q " + p).status, 0);
  // A flipped byte inside the first pack: verify and extracting a member name the pack's chunk.
  auto bad = get(p);
  const ChunkInfo c = ContainerReader(p).find("__pack_0__")->chunks[0];
  bad[c.offset + c.stored_size / 2] ^= 0x20;
  put(d / "bad.pith", bad);
  auto r = run_pith("verify " + (d / "bad.pith").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("section __pack_0__ chunk 0: checksum mismatch"), std::string::npos) << r.err;
  r = run_pith("extract " + (d / "bad.pith").string() + " n3 -o " + (d / "y.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("section __pack_0__ chunk 0: checksum mismatch"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "y.npy"));
}

TEST(CliTensor, RefusesToOverwriteAndNeverDeletesInput) {
  auto d = temp_dir() / "overwrite";
  fs::create_directories(d);
  auto in = d / "m.safetensors";
  put(in, safetensors({{"a", DType::F32, {2}, bytes_of(std::vector<float>{1.f, 2.f})}}));
  ASSERT_EQ(run_pith("-q compress " + in.string()).status, 0);
  EXPECT_TRUE(fs::exists(in));
  auto before = get(d / "m.safetensors.pith");
  auto r = run_pith("compress " + in.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("pith: " + (d / "m.safetensors.pith").string() + ": already exists"), std::string::npos)
      << r.err;
  EXPECT_EQ(get(d / "m.safetensors.pith"), before);
  // Default decompress name strips .pith: the input exists, so it is refused too.
  r = run_pith("decompress " + (d / "m.safetensors.pith").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos);
  EXPECT_EQ(run_pith("-q decompress -f " + (d / "m.safetensors.pith").string()).status, 0);
  EXPECT_EQ(run_pith("-q compress -f " + in.string()).status, 0);
}

TEST(CliTensor, CorruptContainersFailWithoutPartialOutput) {
  auto d = temp_dir() / "corrupt";
  fs::remove_all(d);
  fs::create_directories(d);
  auto in = d / "m.safetensors";
  std::vector<float> v(20000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i));
  put(in, safetensors({{"a", DType::F32, {v.size()}, bytes_of(v)}}));
  auto p = d / "m.pith";
  ASSERT_EQ(run_pith("-q compress --chunk-size 8K " + in.string() + " -o " + p.string()).status, 0);
  auto good = get(p);
  auto count = [&] { return std::distance(fs::directory_iterator(d), fs::directory_iterator()); };
  const auto files_before = count();

  auto flipped = good;
  flipped[good.size() / 2] ^= 0x10;  // inside a chunk payload
  put(d / "flip.pith", flipped);
  auto r = run_pith("decompress " + (d / "flip.pith").string() + " -o " + (d / "out.bin").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("pith: " + (d / "flip.pith").string() + ": section a chunk"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  r = run_pith("verify " + (d / "flip.pith").string());
  EXPECT_EQ(r.status, 1);
  r = run_pith("verify --json " + (d / "flip.pith").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(nlohmann::json::parse(r.out)["ok"].get<bool>());

  std::vector<uint8_t> truncated(good.begin(), good.begin() + static_cast<long>(good.size() - 1));
  put(d / "trunc.pith", truncated);
  r = run_pith("decompress " + (d / "trunc.pith").string() + " -o " + (d / "out.bin").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("pith: " + (d / "trunc.pith").string() + ": "), std::string::npos) << r.err;

  auto wrong = good;
  wrong[0] = 'X';
  put(d / "magic.pith", wrong);
  r = run_pith("inspect " + (d / "magic.pith").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a .pith file"), std::string::npos);
  auto version = good;
  version[8] = 9;
  put(d / "version.pith", version);
  r = run_pith("verify " + (d / "version.pith").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("unsupported format version 9."), std::string::npos);

  EXPECT_FALSE(fs::exists(d / "out.bin"));
  EXPECT_EQ(count(), files_before + 4);  // the four corrupt inputs, no temporaries
}

TEST(CliTensor, BadInputsAreReportedWithTheFileName) {
  auto d = temp_dir() / "badin";
  fs::remove_all(d);
  fs::create_directories(d);
  auto st = safetensors({{"a", DType::F32, {2}, bytes_of(std::vector<float>{1.f, 2.f})}});
  auto bad = st;
  bad[9] = '!';  // break the JSON right after its opening brace
  put(d / "bad.safetensors", bad);
  auto r = run_pith("compress " + (d / "bad.safetensors").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("pith: " + (d / "bad.safetensors").string() + ": malformed safetensors JSON"),
            std::string::npos)
      << r.err;
  auto shortfile = st;
  shortfile.pop_back();
  put(d / "short.safetensors", shortfile);
  r = run_pith("compress " + (d / "short.safetensors").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("outside the data area"), std::string::npos) << r.err;
  r = run_pith("compress " + (d / "missing.safetensors").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("missing.safetensors: cannot open"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "bad.safetensors.pith"));
  EXPECT_FALSE(fs::exists(d / "short.safetensors.pith"));
  // Raw input whose size does not fit the shape.
  put(d / "raw.bin", std::vector<uint8_t>(10));
  r = run_pith("compress --dtype F32 --shape 2,2 " + (d / "raw.bin").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("has 10 bytes, but F32 [2, 2] needs 16"), std::string::npos) << r.err;
  r = run_pith("compress --dtype F99 " + (d / "raw.bin").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 3);
}

TEST(CliTensor, NpyAndRawInputsRoundTrip) {
  auto d = temp_dir() / "npyraw";
  fs::remove_all(d);
  fs::create_directories(d);
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.25f;
  std::vector<uint64_t> shape = {10, 100};
  write_npy((d / "a.npy").string(), DType::F32, shape, bytes_of(v), false);
  put(d / "raw.bin", bytes_of(v));
  put(d / "text.txt", {'h', 'e', 'l', 'l', 'o'});
  for (std::string args : {"a.npy", "raw.bin --dtype F32 --shape 10,100", "text.txt"}) {
    std::string name = args.substr(0, args.find(' '));
    auto r = run_pith("-q compress " + (d / args).string());
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_pith("-q decompress " + (d / name).string() + ".pith -o " + (d / name).string() + ".back");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(get(d / (name + ".back")), get(d / name));
  }
  auto r = run_pith("inspect --json " + (d / "raw.bin.pith").string());
  ASSERT_EQ(r.status, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["source_format"], "raw");
  EXPECT_EQ(j["sections"][0]["shape"], nlohmann::json({10, 100}));
  EXPECT_EQ(j["sections"][0]["dtype"], "F32");
}

TEST(CliTensor, TensorsAreCutIntoEqualChunks) {
  auto d = temp_dir() / "chunks";
  fs::remove_all(d);
  fs::create_directories(d);
  std::vector<float> v(10000);  // 40,000 bytes, chunks of at most 16 KiB: 3,334 + 3,334 + 3,332 elements
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::cos(static_cast<float>(i));
  put(d / "a.safetensors", safetensors({{"a", DType::F32, {v.size()}, bytes_of(v)}}));
  auto p = (d / "a.pith").string();
  ASSERT_EQ(run_pith("-q compress --chunk-size 16K " + (d / "a.safetensors").string() + " -o " + p).status, 0);
  const ContainerReader reader(p);
  const SectionInfo& s = *reader.find("a");
  ASSERT_EQ(s.chunks.size(), 3u);
  EXPECT_EQ(s.chunks[0].raw_size, 13336u);
  EXPECT_EQ(s.chunks[1].raw_size, 13336u);
  EXPECT_EQ(s.chunks[2].raw_size, 13328u);
  // At most one thread per full chunk of data: none to share in one chunk.
  auto threads = [&](const std::string& opts) {
    auto r = run_pith("compress -f --json -T2 " + opts + " " + (d / "a.safetensors").string() + " -o " + p);
    return nlohmann::json::parse(r.out)["threads"].get<int>();
  };
  EXPECT_EQ(threads(""), 1);
  EXPECT_EQ(threads("--chunk-size 16K"), 2);
}

TEST(CliTensor, InspectAndExtract) {
  auto d = temp_dir() / "extract";
  fs::remove_all(d);
  fs::create_directories(d);
  put(d / "m.safetensors", safetensors(special_tensors()));
  ASSERT_EQ(run_pith("-q compress " + (d / "m.safetensors").string()).status, 0);
  auto p = (d / "m.safetensors.pith").string();
  auto r = run_pith("inspect " + p);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("bf16"), std::string::npos);
  EXPECT_NE(r.out.find("[256, 256]"), std::string::npos);
  r = run_pith("inspect --json " + p);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["source_format"], "safetensors");
  EXPECT_EQ(j["sections"].size(), 12u);  // header + 11 tensors

  // Types NumPy has: written as they are.
  r = run_pith("extract " + p + " f32 -o " + (d / "f32.npy").string());
  ASSERT_EQ(r.status, 0) << r.err;
  NpyFile f((d / "f32.npy").string());
  EXPECT_EQ(f.header().dtype, DType::F32);
  auto tensors = special_tensors();
  EXPECT_TRUE(std::equal(f.data().begin(), f.data().end(), tensors[0].bytes.begin()));
  r = run_pith("extract " + p + " one -o " + (d / "one.npy").string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(NpyFile((d / "one.npy").string()).header().shape.empty());
  r = run_pith("extract " + p + " nope -o " + (d / "x.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no tensor named 'nope'"), std::string::npos);
  r = run_pith("extract " + p + " f64 --as f32 -o " + (d / "x.npy").string());
  EXPECT_EQ(r.status, 1);

  // BF16 has no NumPy dtype: refused with a hint, then widened exactly.
  r = run_pith("extract " + p + " bf16 -o " + (d / "bf16.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--as f32"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "bf16.npy"));
  ASSERT_EQ(run_pith("-q extract " + p + " bf16 --as f32 -o " + (d / "bf16.npy").string()).status, 0);
  NpyFile b((d / "bf16.npy").string());
  ASSERT_EQ(b.header().data_size, 65536u * 4);
  for (size_t i = 0; i < 65536; ++i) {
    uint32_t w;
    uint16_t h;
    std::memcpy(&w, b.data().data() + 4 * i, 4);
    std::memcpy(&h, tensors[2].bytes.data() + 2 * i, 2);
    ASSERT_EQ(w, uint32_t{h} << 16);
  }

  // F16 widened: every pattern equals the compiler's _Float16 conversion (NaNs keep their payload).
  ASSERT_EQ(run_pith("-q extract " + p + " f16 --as f32 -o " + (d / "f16.npy").string()).status, 0);
  NpyFile h((d / "f16.npy").string());
  EXPECT_EQ(h.header().shape, (std::vector<uint64_t>{256, 256}));
  for (uint32_t i = 0; i < 65536; ++i) {
    float got;
    std::memcpy(&got, h.data().data() + 4 * i, 4);
    uint16_t bits = static_cast<uint16_t>(i);
    _Float16 x;
    std::memcpy(&x, &bits, 2);
    float want = static_cast<float>(x);
    if (std::isnan(want)) {
      uint32_t g;
      std::memcpy(&g, &got, 4);
      ASSERT_TRUE(std::isnan(got));
      ASSERT_EQ(g & 0x3fffff, uint32_t(i & 0x1ff) << 13) << i;  // payload kept
    } else {
      ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << i;  // also tells -0.0 from 0.0
    }
  }

  // FP8 spot values.
  ASSERT_EQ(run_pith("-q extract " + p + " e4m3 --as f32 -o " + (d / "e4m3.npy").string()).status, 0);
  ASSERT_EQ(run_pith("-q extract " + p + " e5m2 --as f32 -o " + (d / "e5m2.npy").string()).status, 0);
  NpyFile e4((d / "e4m3.npy").string()), e5((d / "e5m2.npy").string());
  auto at = [](const NpyFile& f, size_t i) {
    float v;
    std::memcpy(&v, f.data().data() + 4 * i, 4);
    return v;
  };
  EXPECT_EQ(at(e4, 0x38), 1.0f);
  EXPECT_EQ(at(e4, 0x7e), 448.0f);
  EXPECT_EQ(at(e4, 0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(at(e4, 0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(at(e4, 0xb8), -1.0f);
  EXPECT_TRUE(std::isnan(at(e4, 0x7f)));
  EXPECT_TRUE(std::isnan(at(e4, 0xff)));
  EXPECT_TRUE(std::signbit(at(e4, 0x80)));
  EXPECT_EQ(at(e5, 0x3c), 1.0f);
  EXPECT_EQ(at(e5, 0x7b), 57344.0f);
  EXPECT_EQ(at(e5, 0x01), std::ldexp(1.0f, -16));
  EXPECT_TRUE(std::isinf(at(e5, 0x7c)));
  EXPECT_TRUE(std::isnan(at(e5, 0x7d)));
}
