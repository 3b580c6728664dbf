// Recall@10 floors of the codecs (docs/CODECS.md) on slices of the shared data:
// the first 10,000 base vectors and 100 queries, exact ground truth computed here.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "quantize/codec.h"
#include "read/vectors.h"

using namespace pith;

namespace {

struct Slice {
  size_t n = 10000, nq = 100, d = 0;
  std::vector<float> base, queries;
  std::vector<uint32_t> gt;  // nq × 10
};

// Smaller is nearer: squared L2, or minus the inner product.
float distance(const float* a, const float* b, size_t d, Metric m) {
  float s = 0;
  for (size_t j = 0; j < d; ++j) s += m == Metric::L2 ? (a[j] - b[j]) * (a[j] - b[j]) : -a[j] * b[j];
  return s;
}

std::vector<uint32_t> top10(const std::vector<float>& dist) {
  std::vector<uint32_t> idx(dist.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::partial_sort(idx.begin(), idx.begin() + 10, idx.end(),
                    [&](uint32_t a, uint32_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
  idx.resize(10);
  return idx;
}

const Slice* load(const std::string& name, Metric m) {
  static std::map<std::string, Slice> cache;
  if (auto it = cache.find(name); it != cache.end()) return &it->second;
  const std::string dir = std::string(PITH_SHARED_DATA) + "/" + name;
  if (!std::filesystem::exists(dir + "/base.npy")) return nullptr;
  Slice s;
  auto base = load_vectors(dir + "/base.npy");
  auto q = load_vectors(dir + "/queries.npy");
  s.d = base.dim;
  s.base.assign(base.data.begin(), base.data.begin() + s.n * s.d);
  s.queries.assign(q.data.begin(), q.data.begin() + s.nq * s.d);
  std::vector<float> dist(s.n);
  for (size_t qi = 0; qi < s.nq; ++qi) {
    for (size_t i = 0; i < s.n; ++i) dist[i] = distance(&s.queries[qi * s.d], &s.base[i * s.d], s.d, m);
    auto t = top10(dist);
    s.gt.insert(s.gt.end(), t.begin(), t.end());
  }
  return &cache.emplace(name, std::move(s)).first->second;
}

double recall_at_10(const Slice& s, const std::string& spec, Metric m) {
  auto c = make_codec(spec, s.d);
  c->train(s.base.data(), s.n, m, 1234);
  std::vector<uint8_t> rows(s.n * c->code_size());
  c->encode(s.base.data(), s.n, rows.data());
  const size_t bs = c->block_size();
  std::vector<uint8_t> codes((s.n + bs - 1) / bs * bs * c->code_size());
  c->pack(rows.data(), s.n, codes.data());
  std::vector<float> dist(s.n);
  double hits = 0;
  for (size_t qi = 0; qi < s.nq; ++qi) {
    c->scanner(&s.queries[qi * s.d], m)->scan(codes.data(), s.n, dist.data());
    auto t = top10(dist);
    for (uint32_t id : t) hits += std::count(&s.gt[qi * 10], &s.gt[qi * 10 + 10], id);
  }
  return hits / (10.0 * s.nq);
}

struct Floor {
  const char* spec;
  double recall;
};

void check(const char* name, Metric m, std::initializer_list<Floor> floors) {
  const Slice* s = load(name, m);
  if (!s) GTEST_SKIP() << "no " << name << " under " << PITH_SHARED_DATA;
  for (const auto& f : floors) {
    double r = recall_at_10(*s, f.spec, m);
    EXPECT_GE(r, f.recall) << name << " " << f.spec;
    std::printf("%s %-18s recall@10 %.3f (floor %.2f)\n", name, f.spec, r, f.recall);
  }
}

}  // namespace

TEST(QuantizeData, Words300Floors) {
  check("words300", Metric::IP,
        {{"f16", 0.99}, {"bf16", 0.98}, {"sq8", 0.97}, {"sq4", 0.88}, {"sq2", 0.70}, {"rabitq", 0.57},
         {"rabitqc64", 0.62}, {"rabitq2", 0.77}, {"rabitq3", 0.86}, {"rabitq4", 0.90}, {"pca128,sq8", 0.74}});
}

TEST(QuantizeData, Sift128Floors) {
  check("sift128", Metric::L2,
        {{"sq8", 0.98}, {"sq4", 0.88}, {"sq2", 0.66}, {"rot,sq4", 0.88}, {"rabitq", 0.49}, {"rabitq2", 0.72},
         {"rabitq4", 0.89}, {"rabitq2c64", 0.78}});
}
