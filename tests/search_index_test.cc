// VectorIndex: selection, add/save/open equivalences, rerank, threads, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <set>
#include <unistd.h>

#include "common/error.h"
#include "common/file.h"
#include "common/hash.h"
#include "read/npy.h"
#include "read/vectors.h"
#include "search/index.h"
#include "search/inspect.h"
#include "search/select_kernels.h"
#include "search/topk.h"
#include "store/container.h"

namespace pith {
namespace {

namespace fs = std::filesystem;

class TmpDir {
 public:
  TmpDir() {
    path_ = fs::temp_directory_path() / ("pith_search_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TmpDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

// Clustered data, so that neighbours are meaningful and codecs have structure to find.
std::vector<float> clustered(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  const size_t k = 16;
  std::vector<float> centers(k * d), x(n * d);
  for (auto& c : centers) c = 3.f * g(rng);
  for (size_t i = 0; i < n; ++i) {
    size_t c = rng() % k;
    for (size_t j = 0; j < d; ++j) x[i * d + j] = centers[c * d + j] + g(rng);
  }
  return x;
}

// Exact top-k ids by brute force, smaller distance first.
std::vector<int64_t> exact_knn(const std::vector<float>& x, const std::vector<float>& q, size_t d, size_t k,
                               Metric m) {
  size_t n = x.size() / d, nq = q.size() / d;
  std::vector<int64_t> out(nq * k);
  std::vector<std::pair<float, int64_t>> dist(n);
  for (size_t i = 0; i < nq; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float s = 0;
      for (size_t t = 0; t < d; ++t)
        s += m == Metric::L2 ? (q[i * d + t] - x[j * d + t]) * (q[i * d + t] - x[j * d + t])
                             : -q[i * d + t] * x[j * d + t];
      dist[j] = {s, int64_t(j)};
    }
    std::partial_sort(dist.begin(), dist.begin() + k, dist.end());
    for (size_t t = 0; t < k; ++t) out[i * k + t] = dist[t].second;
  }
  return out;
}

double recall(const std::vector<int64_t>& got, size_t got_k, const std::vector<int64_t>& gt, size_t gt_k, size_t k) {
  size_t nq = got.size() / got_k, hit = 0;
  for (size_t i = 0; i < nq; ++i) {
    std::set<int64_t> truth(gt.begin() + i * gt_k, gt.begin() + i * gt_k + k);
    for (size_t j = 0; j < k; ++j) hit += truth.count(got[i * got_k + j]);
  }
  return double(hit) / double(nq * k);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct Result {
  std::vector<int64_t> ids;
  std::vector<float> dist;
  bool operator==(const Result&) const = default;
};

Result run(const VectorIndex& idx, const std::vector<float>& q, SearchParams p) {
  size_t nq = q.size() / idx.dim();
  Result r{std::vector<int64_t>(nq * p.k), std::vector<float>(nq * p.k)};
  idx.search(q.data(), nq, p, r.ids.data(), r.dist.data());
  return r;
}

std::unique_ptr<VectorIndex> build(const std::string& codec, Metric m, const std::vector<float>& x, size_t d,
                                   const std::string& refine = "", int threads = 2) {
  IndexOptions o;
  o.codec = codec;
  o.metric = m;
  o.refine = refine;
  o.threads = threads;
  o.progress = false;
  auto idx = VectorIndex::create(d, o);
  idx->train(x.data(), x.size() / d);
  idx->add(x.data(), x.size() / d, nullptr);
  return idx;
}

TEST(TopK, EqualsSort) {
  std::mt19937 rng(7);
  for (size_t k : {1, 5, 64, 300}) {
    std::vector<float> d(1000);
    for (auto& v : d) v = float(rng() % 50);  // many ties
    TopK top(k);
    top.add(d.data(), 600, 0);
    top.add(d.data() + 600, 400, 600);
    std::vector<Candidate> all;
    for (size_t i = 0; i < d.size(); ++i) all.push_back({d[i], i});
    std::sort(all.begin(), all.end());
    all.resize(std::min(k, all.size()));
    auto got = top.take_sorted();
    ASSERT_EQ(got.size(), all.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].dist, all[i].dist);
      EXPECT_EQ(got[i].pos, all[i].pos);
    }
  }
}

TEST(SelectKernels, EqualScalarReference) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (SimdLevel level : {SimdLevel::AVX2, SimdLevel::AVX512}) {
    if (simd_level() < level) continue;  // this CPU cannot run it
    FilterLeFn f = filter_le_kernel(level);
    for (size_t n : {0, 1, 7, 8, 15, 16, 17, 100, 1000}) {
      std::vector<float> d(n);
      for (auto& v : d) v = u(rng) < 0.05f ? NAN : u(rng);
      for (float thr : {-1.f, 0.1f, 0.5f, 2.f, INFINITY}) {
        std::vector<uint32_t> a(n + 1), b(n + 1);
        size_t ca = filter_le_scalar(d.data(), n, thr, a.data());
        size_t cb = f(d.data(), n, thr, b.data());
        ASSERT_EQ(ca, cb) << simd_name(level) << " n=" << n << " thr=" << thr;
        a.resize(ca);
        b.resize(cb);
        EXPECT_EQ(a, b) << simd_name(level);
      }
    }
  }
}

TEST(TopK, SkipsNaN) {
  float d[4] = {NAN, 2.f, NAN, 1.f};
  TopK top(3);
  top.add(d, 4, 10);
  auto got = top.take_sorted();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].pos, 13u);
  EXPECT_EQ(got[1].pos, 11u);
}

TEST(VectorIndex, SaveOpenGivesIdenticalResults) {
  const size_t d = 32;
  auto x = clustered(3000, d, 1), q = clustered(40, d, 2);
  TmpDir tmp;
  for (std::string codec : {"sq8", "pq8x4fs", "ivf16,sq8"}) {
    SCOPED_TRACE(codec);
    auto idx = build(codec, Metric::L2, x, d, "f16");
    std::string path = tmp.file("a.pith");
    idx->save(path, true);
    auto back = VectorIndex::open(path);
    EXPECT_EQ(back->size(), idx->size());
    EXPECT_EQ(back->codec_spec(), idx->codec_spec());
    SearchParams p;
    p.k = 10;
    p.nprobe = 4;
    EXPECT_EQ(run(*back, q, p), run(*idx, q, p));
    p.rerank = 50;
    EXPECT_EQ(run(*back, q, p), run(*idx, q, p));
    std::vector<float> a(d), b(d);
    idx->reconstruct(1234, a.data());
    back->reconstruct(1234, b.data());
    EXPECT_EQ(a, b);
    ContainerReader r(path);
    ASSERT_TRUE(is_vector_index(r));
    auto desc = describe_vector_index(r);
    EXPECT_EQ(desc["bytes_per_vector"].get<size_t>(), idx->bytes_per_vector());
    EXPECT_EQ(desc["count"].get<size_t>(), 3000u);
    EXPECT_FALSE(format_vector_index(desc).empty());
  }
}

TEST(VectorIndex, AddInPiecesEqualsAllAtOnce) {
  const size_t d = 16;
  auto x = clustered(1000, d, 3), q = clustered(30, d, 4);
  TmpDir tmp;
  for (std::string codec : {"sq8", "pq4x4fs", "ivf8,pq4x4fs"}) {
    SCOPED_TRACE(codec);
    auto whole = build(codec, Metric::L2, x, d);
    IndexOptions o;
    o.codec = codec;
    o.progress = false;
    auto parts = VectorIndex::create(d, o);
    parts->train(x.data(), 1000);
    // Uneven pieces leave partial fast-scan blocks that must be repacked; one
    // piece goes through save/open, as `pith add` does.
    size_t cuts[] = {0, 37, 70, 500, 1000};
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
      parts->add(x.data() + cuts[i] * d, cuts[i + 1] - cuts[i], nullptr);
      if (i == 1) {
        parts->save(tmp.file("p.pith"), true);
        parts = VectorIndex::open(tmp.file("p.pith"));
      }
    }
    SearchParams p;
    p.k = 7;
    p.nprobe = 3;
    EXPECT_EQ(run(*parts, q, p), run(*whole, q, p));
  }
}

TEST(VectorIndex, CustomIds) {
  const size_t d = 8;
  auto x = clustered(200, d, 5);
  IndexOptions o;
  o.codec = "sq8";
  o.progress = false;
  auto idx = VectorIndex::create(d, o);
  idx->train(x.data(), 200);
  idx->add(x.data(), 100, nullptr);
  std::vector<int64_t> ids(100);
  for (size_t i = 0; i < 100; ++i) ids[i] = 1000 + 2 * int64_t(i);
  idx->add(x.data() + 100 * d, 100, ids.data());
  SearchParams p;
  p.k = 1;
  std::vector<float> q(x.begin() + 150 * d, x.begin() + 151 * d);
  auto r = run(*idx, q, p);
  EXPECT_EQ(r.ids[0], 1100);
  std::vector<float> v(d);
  idx->reconstruct(1100, v.data());
  for (size_t j = 0; j < d; ++j) EXPECT_NEAR(v[j], x[150 * d + j], 0.2f);
  idx->reconstruct(5, v.data());
  EXPECT_THROW(idx->reconstruct(1001, v.data()), Error);
  EXPECT_THROW(idx->reconstruct(-1, v.data()), Error);
}

TEST(VectorIndex, RerankImprovesRecall) {
  const size_t d = 32;
  auto x = clustered(4000, d, 6), q = clustered(50, d, 7);
  auto gt = exact_knn(x, q, d, 10, Metric::L2);
  auto idx = build("pq16x4fs", Metric::L2, x, d, "f16");
  SearchParams p;
  p.k = 10;
  double plain = recall(run(*idx, q, p).ids, 10, gt, 10, 10);
  p.rerank = 100;
  double rr = recall(run(*idx, q, p).ids, 10, gt, 10, 10);
  EXPECT_GT(rr, plain + 0.1) << plain;
  EXPECT_GT(rr, 0.9);
}

TEST(VectorIndex, ThreadsGiveSameResults) {
  const size_t d = 24;
  auto x = clustered(5000, d, 8), q = clustered(64, d, 9);
  for (std::string codec : {"sq8", "pq6x4fs", "ivf32,sq8"}) {
    SCOPED_TRACE(codec);
    auto idx = build(codec, Metric::IP, x, d, "", 1);
    SearchParams p;
    p.k = 20;
    p.threads = 1;
    auto one = run(*idx, q, p);
    p.threads = 3;
    EXPECT_EQ(run(*idx, q, p), one);
    // A single query splits the collection across threads instead.
    std::vector<float> q1(q.begin(), q.begin() + d);
    p.threads = 1;
    auto s1 = run(*idx, q1, p);
    p.threads = 4;
    EXPECT_EQ(run(*idx, q1, p), s1);
  }
}

// Flat search over fast-scan PQ takes the thresholded multi-query scan; it must
// select exactly what scan() + sorting by (distance, position) selects, ties
// included (pq3x4fs has few distinct sums), for odd M, a partial last block,
// query counts that are not a multiple of the scan group, and IVF lists.
TEST(VectorIndex, FastScanSearchEqualsScanAndSort) {
  const size_t d = 30, n = 3013, k = 15;
  auto x = clustered(n, d, 21), q = clustered(7, d, 22);
  for (std::string codec : {"pq3x4fs", "pq15x4fs", "pq30x4fs", "ivf8,pq10x4fs"}) {
    for (Metric m : {Metric::L2, Metric::IP}) {
      SCOPED_TRACE(codec + " " + metric_name(m));
      auto idx = build(codec, m, x, d, "", 1);
      const VectorCodec& c = idx->codec();
      std::vector<uint8_t> rows(n * c.code_size()), stored((n + 31) / 32 * 32 * c.code_size());
      c.encode(x.data(), n, rows.data());
      c.pack(rows.data(), n, stored.data());
      SearchParams p;
      p.k = k;
      p.threads = 1;
      p.nprobe = 8;  // all lists: the same candidates as the flat scan
      Result got = run(*idx, q, p);
      // The scan direct, the later half of the codes first: ties at the threshold
      // then arrive at lower positions and must win.
      const size_t nq = q.size() / d, half = 47 * 32;
      std::vector<std::unique_ptr<CodeScanner>> sc;
      std::vector<const CodeScanner*> scp;
      std::vector<TopK> tops(nq, TopK(k));
      for (size_t i = 0; i < nq; ++i) {
        sc.push_back(c.scanner(&q[i * d], m));
        scp.push_back(sc.back().get());
      }
      for (auto [first, cnt] : {std::pair<size_t, size_t>{half, n - half}, {0, half}}) {
        for (size_t i = 0; i < nq;) {
          std::vector<ScanSink*> sinks;
          for (size_t j = i; j < nq; ++j) sinks.push_back(&tops[j]);
          size_t done = scp[i]->scan_topk(&scp[i], nq - i, stored.data() + first * c.code_size(), cnt, first,
                                          sinks.data());
          ASSERT_GT(done, 0u);
          i += done;
        }
      }
      for (size_t i = 0; i < nq; ++i) {
        std::vector<float> dist(n);
        sc[i]->scan(stored.data(), n, dist.data());
        std::vector<uint32_t> order(n);
        std::iota(order.begin(), order.end(), 0u);
        std::sort(order.begin(), order.end(),
                  [&](uint32_t a, uint32_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
        std::vector<Candidate> direct = tops[i].take_sorted();
        ASSERT_EQ(direct.size(), k);
        for (size_t j = 0; j < k; ++j) {
          EXPECT_EQ(got.dist[i * k + j], m == Metric::L2 ? dist[order[j]] : -dist[order[j]]) << i << " " << j;
          if (codec.rfind("ivf", 0) != 0) {
            EXPECT_EQ(got.ids[i * k + j], int64_t(order[j])) << i << " " << j;
          }
          EXPECT_EQ(direct[j].pos, order[j]) << i << " " << j;
          EXPECT_EQ(direct[j].dist, dist[order[j]]) << i << " " << j;
        }
      }
    }
  }
}

TEST(VectorIndex, CosineReportsSimilarity) {
  const size_t d = 8;
  auto x = clustered(300, d, 10);
  auto idx = build("f16", Metric::COS, x, d);
  std::vector<float> q(x.begin(), x.begin() + d);
  for (auto& v : q) v *= 5.f;  // scale must not matter for cosine
  SearchParams p;
  p.k = 3;
  auto r = run(*idx, q, p);
  EXPECT_EQ(r.ids[0], 0);
  EXPECT_NEAR(r.dist[0], 1.f, 1e-3f);
  EXPECT_GE(r.dist[0], r.dist[1]);
}

TEST(VectorIndex, KLargerThanCollectionPadsWithMinusOne) {
  const size_t d = 4;
  auto x = clustered(5, d, 11);
  for (std::string codec : {"sq8", "ivf2,sq8"}) {
    auto idx = build(codec, Metric::L2, x, d);
    SearchParams p;
    p.k = 8;
    p.nprobe = 2;
    std::vector<float> q(x.begin(), x.begin() + d);
    auto r = run(*idx, q, p);
    for (size_t j = 0; j < 5; ++j) EXPECT_GE(r.ids[j], 0);
    for (size_t j = 5; j < 8; ++j) {
      EXPECT_EQ(r.ids[j], -1);
      EXPECT_TRUE(std::isinf(r.dist[j]));
    }
  }
}

TEST(VectorIndex, BadInput) {
  IndexOptions o;
  o.progress = false;
  o.codec = "nosuchcodec";
  try {
    VectorIndex::create(16, o);
    FAIL() << "unknown codec accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nosuchcodec"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sq8"), std::string::npos) << "valid tokens listed: " << e.what();
  }
  o.codec = "pq7x8";  // 7 does not divide 16
  EXPECT_THROW(VectorIndex::create(16, o), Error);
  o.codec = "ivfx,sq8";
  EXPECT_THROW(VectorIndex::create(16, o), Error);
  o.codec = "sq8";
  o.refine = "f8";
  EXPECT_THROW(VectorIndex::create(16, o), Error);
  o.refine = "";
  auto idx = VectorIndex::create(4, o);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, NAN};
  EXPECT_THROW(idx->add(x.data(), 2, nullptr), Error) << "untrained";
  EXPECT_THROW(idx->train(x.data(), 0), Error) << "empty";
  idx->train(x.data(), 1);
  try {
    idx->add(x.data(), 2, nullptr);
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vector 1"), std::string::npos) << e.what();
  }
  SearchParams p;
  p.rerank = 10;
  std::vector<int64_t> ids(10);
  std::vector<float> dist(10);
  EXPECT_THROW(idx->search(x.data(), 1, p, ids.data(), dist.data()), Error) << "rerank without refine";
  p.rerank = 0;
  p.k = 0;
  EXPECT_THROW(idx->search(x.data(), 1, p, ids.data(), dist.data()), Error);
}

TEST(VectorIndex, TruncatedFileIsAnError) {
  const size_t d = 8;
  auto x = clustered(500, d, 12);
  auto idx = build("sq8", Metric::L2, x, d, "f32");
  TmpDir tmp;
  idx->save(tmp.file("a.pith"), true);
  auto bytes = read_file(tmp.file("a.pith"));
  for (size_t keep : {size_t(0), size_t(10), bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(tmp.file("t.pith"), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), keep);
    EXPECT_THROW(VectorIndex::open(tmp.file("t.pith")), Error) << keep;
  }
  EXPECT_THROW(idx->save(tmp.file("a.pith"), false), Error) << "overwrote without force";
}

TEST(VectorIndex, CorruptHeaderIsAnError) {
  TmpDir tmp;
  auto write = [&](const std::string& json) {
    ContainerWriter w(tmp.file("h.pith"), true);
    w.begin_section(16, kSectionRequired, "vector_index", {});
    std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(json.data()), json.size());
    w.add_stored(b);
    w.end_section(xxh64(b));
    w.begin_section(17, kSectionRequired, "codec", {});
    w.end_section(xxh64(nullptr, 0));
    w.finish();
    return error_of([&] { VectorIndex::open(tmp.file("h.pith")); });
  };
  const std::string ok = R"("version":1,"codec":"f16","metric":"l2","refine":"","dim":4,"code_size":8,"bytes_per_vector":8,"ivf_nlist":0)";
  EXPECT_NE(write("{" + ok + R"(,"count":1000000000000000})").find("count"), std::string::npos);
  EXPECT_NE(write("{" + ok + R"(,"count":3})").find("codes"), std::string::npos) << "codes section missing";
  EXPECT_NE(write(R"({"version":1})"), "");
  EXPECT_NE(write("not json"), "");
  std::string v2 = ok;
  v2.replace(v2.find("\"version\":1"), 11, "\"version\":2");
  EXPECT_NE(write("{" + v2 + R"(,"count":0})").find("version"), std::string::npos);
}

// Vector files -------------------------------------------------------------

void write_vecs(const std::string& path, const std::vector<int32_t>& dims, size_t elem) {
  std::ofstream f(path, std::ios::binary);
  for (int32_t d : dims) {
    f.write(reinterpret_cast<const char*>(&d), 4);
    std::vector<char> v(size_t(d) * elem, 1);
    f.write(v.data(), std::streamsize(v.size()));
  }
}

template <typename T>
void write_array(const std::string& path, DType t, std::vector<uint64_t> shape, const std::vector<T>& v) {
  write_npy(path, t, shape, {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)}, true);
}

TEST(VectorFiles, ReadsEveryType) {
  TmpDir tmp;
  write_array<uint8_t>(tmp.file("u8.npy"), DType::U8, {2, 3}, {0, 1, 255, 3, 4, 5});
  auto v = load_vectors(tmp.file("u8.npy"));
  EXPECT_EQ(v.n, 2u);
  EXPECT_EQ(v.dim, 3u);
  EXPECT_EQ(v.data[2], 255.f);
  write_array<int8_t>(tmp.file("i8.npy"), DType::I8, {1, 2}, {-128, 7});
  EXPECT_EQ(load_vectors(tmp.file("i8.npy")).data, (std::vector<float>{-128.f, 7.f}));
  write_array<uint16_t>(tmp.file("f16.npy"), DType::F16, {1, 2}, {0x3C00, 0xC000});  // 1, -2
  EXPECT_EQ(load_vectors(tmp.file("f16.npy")).data, (std::vector<float>{1.f, -2.f}));
  write_vecs(tmp.file("a.fvecs"), {4, 4, 4}, 4);
  EXPECT_EQ(load_vectors(tmp.file("a.fvecs")).n, 3u);
  write_vecs(tmp.file("a.bvecs"), {5, 5}, 1);
  auto b = load_vectors(tmp.file("a.bvecs"));
  EXPECT_EQ(b.dim, 5u);
  EXPECT_EQ(b.data[9], 1.f);
  write_array<int64_t>(tmp.file("ids.npy"), DType::I64, {3}, {5, 9, 1});
  EXPECT_EQ(load_ids(tmp.file("ids.npy")), (std::vector<int64_t>{5, 9, 1}));
}

TEST(VectorFiles, RejectsBadInput) {
  TmpDir tmp;
  write_array<float>(tmp.file("nan.npy"), DType::F32, {3, 2}, {0, 1, 2, 3, INFINITY, 5});
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("nan.npy")); }).find("row 2"), std::string::npos);
  write_array<float>(tmp.file("empty.npy"), DType::F32, {0, 4}, {});
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("empty.npy")); }).find("empty"), std::string::npos);
  write_vecs(tmp.file("mix.fvecs"), {4, 4, 3, 4}, 4);
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("mix.fvecs")); }).find("record"), std::string::npos);
  write_vecs(tmp.file("mix.bvecs"), {4, 4, 6}, 1);  // same total size as 3 records of 4 + 2 bytes
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("mix.bvecs")); }), "");
  write_vecs(tmp.file("empty.fvecs"), {}, 4);
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("empty.fvecs")); }).find("empty"), std::string::npos);
  write_array<double>(tmp.file("f64.npy"), DType::F64, {1, 2}, {1, 2});
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("f64.npy")); }), "");
  write_array<int64_t>(tmp.file("neg.npy"), DType::I64, {2}, {1, -1});
  EXPECT_NE(error_of([&] { load_ids(tmp.file("neg.npy")); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([&] { load_vectors(tmp.file("x.txt")); }), "");
}

// The CLI end to end, including the dimension check between index and queries.
TEST(VectorCli, IndexAddSearchGet) {
  TmpDir tmp;
  const size_t d = 8;
  auto x = clustered(400, d, 13);
  write_array<float>(tmp.file("base.npy"), DType::F32, {300, d}, std::vector<float>(x.begin(), x.begin() + 300 * d));
  write_array<float>(tmp.file("more.npy"), DType::F32, {100, d}, std::vector<float>(x.begin() + 300 * d, x.end()));
  write_array<float>(tmp.file("q.npy"), DType::F32, {2, d}, std::vector<float>(x.begin() + 350 * d, x.begin() + 352 * d));
  write_array<float>(tmp.file("q4.npy"), DType::F32, {1, 4}, {1, 2, 3, 4});
  std::string cli = PITH_CLI;
  auto sh = [&](const std::string& args) { return std::system((cli + " -q " + args + " 2>/dev/null >/dev/null").c_str()); };
  std::string idx = tmp.file("i.pith");
  ASSERT_EQ(sh("index " + tmp.file("base.npy") + " --codec sq8 --metric l2 --refine f16 -o " + idx), 0);
  EXPECT_NE(sh("index " + tmp.file("base.npy") + " --codec sq8 -o " + idx), 0) << "overwrote without -f";
  ASSERT_EQ(sh("add " + idx + " " + tmp.file("more.npy")), 0);
  ASSERT_EQ(sh("search " + idx + " " + tmp.file("q.npy") + " -k 5 --rerank 20 -o " + tmp.file("out")), 0);
  NpyFile ids(tmp.file("out.ids.npy"));
  ASSERT_EQ(ids.header().shape, (std::vector<uint64_t>{2, 5}));
  EXPECT_EQ(reinterpret_cast<const int64_t*>(ids.data().data())[0], 350);
  EXPECT_EQ(reinterpret_cast<const int64_t*>(ids.data().data())[5], 351);
  EXPECT_NE(sh("search " + idx + " " + tmp.file("q4.npy") + " -o " + tmp.file("bad")), 0) << "dimension mismatch";
  EXPECT_EQ(sh("get " + idx + " 399 --json"), 0);
  EXPECT_NE(sh("get " + idx + " 400"), 0);
}

// Recall on a slice of the real data, above the floor each codec family reaches.
TEST(VectorIndex, RecallOnSharedDataSlice) {
  std::string dir = std::string(PITH_SHARED_DATA) + "/words300";
  if (!fs::exists(dir + "/base.npy")) GTEST_SKIP() << "no shared data at " << dir;
  VectorSet base = load_vectors(dir + "/base.npy"), queries = load_vectors(dir + "/queries.npy");
  const size_t n = 5000, nq = 100, d = base.dim;
  std::vector<float> x(base.data.begin(), base.data.begin() + n * d), q(queries.data.begin(),
                                                                        queries.data.begin() + nq * d);
  auto gt = exact_knn(x, q, d, 10, Metric::IP);
  SearchParams p;
  p.k = 10;
  p.nprobe = 16;
  struct Case {
    const char* codec;
    double floor;
  };
  for (Case c : {Case{"sq8", 0.9}, Case{"pq100x4fs", 0.45}, Case{"ivf32,sq8", 0.75}}) {
    SCOPED_TRACE(c.codec);
    auto idx = build(c.codec, Metric::IP, x, d);
    EXPECT_GE(recall(run(*idx, q, p).ids, 10, gt, 10, 10), c.floor);
  }
}

}  // namespace
}  // namespace pith
