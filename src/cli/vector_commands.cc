// pith index | add | search | get: compressed, searchable vector collections.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/error.h"
#include "common/file.h"
#include "read/npy.h"
#include "read/vectors.h"
#include "search/index.h"

namespace pith::cli {
namespace {

struct IndexArgs {
  std::string vectors, ids, codec, metric = "l2", refine, out;
  int threads = 0;
  uint64_t seed = 1234;
  bool force = false;
};

struct AddArgs {
  std::string index, vectors, ids;
};

struct SearchArgs {
  std::string index, queries, out;
  size_t k = 10, rerank = 0, nprobe = 8;
  int threads = 0;
  bool json = false, force = false;
};

struct GetArgs {
  std::string index;
  int64_t id = 0;
  bool json = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void info(const std::string& s) {
  if (!globals().quiet) std::fprintf(stderr, "%s\n", s.c_str());
}

std::vector<int64_t> ids_for(const std::string& path, size_t n) {
  if (path.empty()) return {};
  auto ids = load_ids(path);
  if (ids.size() != n) fail(path, "{} ids for {} vectors", ids.size(), n);
  return ids;
}

void run_index(const IndexArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  VectorSet v = load_vectors(a.vectors);
  std::vector<int64_t> ids = ids_for(a.ids, v.n);
  IndexOptions opt;
  opt.codec = a.codec;
  opt.metric = metric_from_name(a.metric);
  opt.refine = a.refine;
  opt.seed = a.seed;
  opt.threads = a.threads;
  opt.progress = !globals().quiet;
  // Refuse an existing output before the (long) training, not after.
  if (!a.force && file_exists(a.out)) fail(a.out, "exists (use -f to overwrite)");
  auto idx = VectorIndex::create(v.dim, opt);
  idx->train(v.data.data(), v.n);
  idx->add(v.data.data(), v.n, ids.empty() ? nullptr : ids.data());
  idx->save(a.out, a.force);
  info(fmt::format("{}: {} vectors of dimension {}, codec {} ({} bytes per vector), {:.2f} s", a.out, idx->size(),
                   idx->dim(), idx->codec_spec(), idx->bytes_per_vector(), seconds_since(t0)));
}

void run_add(const AddArgs& a) {
  auto idx = VectorIndex::open(a.index);
  VectorSet v = load_vectors(a.vectors);
  if (v.dim != idx->dim()) fail(a.vectors, "vectors have dimension {}, the index {}", v.dim, idx->dim());
  std::vector<int64_t> ids = ids_for(a.ids, v.n);
  idx->add(v.data.data(), v.n, ids.empty() ? nullptr : ids.data());
  // The new file replaces the old one by rename, so a failure leaves the old index intact.
  idx->save(a.index, true);
  info(fmt::format("{}: {} vectors", a.index, idx->size()));
}

void run_search(const SearchArgs& a) {
  if (a.out.empty() && !a.json) fail_msg("search: give -o OUT (writes OUT.ids.npy and OUT.dist.npy) or --json");
  auto idx = VectorIndex::open(a.index);
  VectorSet q = load_vectors(a.queries);
  if (q.dim != idx->dim()) fail(a.queries, "queries have dimension {}, the index {}", q.dim, idx->dim());
  if (a.k == 0) fail_msg("search: -k must be at least 1");
  SearchParams p;
  p.k = a.k;
  p.rerank = a.rerank;
  p.nprobe = a.nprobe;
  p.threads = a.threads;
  std::vector<int64_t> ids(q.n * a.k);
  std::vector<float> dist(q.n * a.k);
  auto t0 = std::chrono::steady_clock::now();
  idx->search(q.data.data(), q.n, p, ids.data(), dist.data());
  double secs = seconds_since(t0);
  if (a.k > idx->size())
    info(fmt::format("note: k = {} but the index holds {} vectors; missing results have id -1", a.k, idx->size()));
  if (!a.out.empty()) {
    const uint64_t shape[2] = {q.n, a.k};
    write_npy(a.out + ".ids.npy", DType::I64, shape,
              {reinterpret_cast<const uint8_t*>(ids.data()), ids.size() * 8}, a.force);
    write_npy(a.out + ".dist.npy", DType::F32, shape,
              {reinterpret_cast<const uint8_t*>(dist.data()), dist.size() * 4}, a.force);
  }
  if (a.json) {
    nlohmann::json j = {{"k", a.k}, {"nq", q.n}, {"count", idx->size()}, {"codec", idx->codec_spec()},
                        {"bytes_per_vector", idx->bytes_per_vector()}, {"search_seconds", secs}};
    auto& ji = j["ids"] = nlohmann::json::array();
    auto& jd = j["dist"] = nlohmann::json::array();
    for (size_t i = 0; i < q.n; ++i) {
      ji.push_back(std::vector<int64_t>(ids.begin() + i * a.k, ids.begin() + (i + 1) * a.k));
      jd.push_back(std::vector<float>(dist.begin() + i * a.k, dist.begin() + (i + 1) * a.k));
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    info(fmt::format("{} queries, k = {}: {:.4f} s", q.n, a.k, secs));
  }
}

void run_get(const GetArgs& a) {
  auto idx = VectorIndex::open(a.index);
  std::vector<float> v(idx->dim());
  idx->reconstruct(a.id, v.data());
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"id", a.id}, {"vector", v}}.dump().c_str());
    return;
  }
  std::string line;
  for (size_t i = 0; i < v.size(); ++i) line += fmt::format("{}{:g}", i ? " " : "", v[i]);
  std::printf("%s\n", line.c_str());
}

}  // namespace

void register_vector_commands(CLI::App& app) {
  auto ia = std::make_shared<IndexArgs>();
  auto* ic = app.add_subcommand("index", "build a compressed, searchable index of a vector collection");
  ic->add_option("vectors", ia->vectors, "vectors: .npy (float32/float16/uint8/int8 [n, dim]), .fvecs, .bvecs")
      ->required();
  ic->add_option("--codec", ia->codec, "codec factory string, e.g. pq32x8, opq32,pq32x8, rabitq4, ivf256,sq8")
      ->required();
  ic->add_option("--metric", ia->metric, "ip | cos | l2")->check(CLI::IsMember({"ip", "cos", "l2"}));
  ic->add_option("--ids", ia->ids, "ids of the vectors: 1-D int64 .npy (default: row numbers)");
  ic->add_option("--refine", ia->refine, "keep a f16 or f32 copy for search --rerank")
      ->check(CLI::IsMember({"f16", "f32"}));
  ic->add_option("-T,--threads", ia->threads, "threads (default: all cores)");
  ic->add_option("--seed", ia->seed, "random seed for training");
  ic->add_option("-o,--output", ia->out, "index file to write (.pith)")->required();
  ic->add_flag("-f,--force", ia->force, "overwrite the output");
  ic->callback([ia] { run_index(*ia); });

  auto aa = std::make_shared<AddArgs>();
  auto* ac = app.add_subcommand("add", "append vectors to an index (no retraining)");
  ac->add_option("index", aa->index, "index file (.pith), rewritten in place")->required();
  ac->add_option("vectors", aa->vectors, "vectors to add")->required();
  ac->add_option("--ids", aa->ids, "ids of the new vectors (default: continue the row numbers)");
  ac->callback([aa] { run_add(*aa); });

  auto sa = std::make_shared<SearchArgs>();
  auto* sc = app.add_subcommand("search", "k nearest neighbours of each query");
  sc->add_option("index", sa->index, "index file (.pith)")->required();
  sc->add_option("queries", sa->queries, "query vectors, same dimension as the index")->required();
  sc->add_option("-k", sa->k, "neighbours per query");
  sc->add_option("--rerank", sa->rerank, "re-score this many candidates with the refine copy");
  sc->add_option("--nprobe", sa->nprobe, "IVF lists visited per query");
  sc->add_option("-T,--threads", sa->threads, "threads (default: all cores)");
  sc->add_option("-o,--output", sa->out, "writes OUT.ids.npy (int64 [nq, k]) and OUT.dist.npy (float32)");
  sc->add_flag("--json", sa->json, "print ids, distances and search_seconds as JSON");
  sc->add_flag("-f,--force", sa->force, "overwrite the outputs");
  sc->callback([sa] { run_search(*sa); });

  auto ga = std::make_shared<GetArgs>();
  auto* gc = app.add_subcommand("get", "print the decoded vector of an id");
  gc->add_option("index", ga->index, "index file (.pith)")->required();
  gc->add_option("id", ga->id, "vector id")->required();
  gc->add_flag("--json", ga->json, "print as JSON");
  gc->callback([ga] { run_get(*ga); });
}

}  // namespace pith::cli
