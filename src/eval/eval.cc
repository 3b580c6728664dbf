#include "eval/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <set>

#include "common/error.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/progress.h"
#include "eval/ratedist.h"
#include "eval/stats.h"
#include "read/npy.h"
#include "read/vectors.h"
#include "search/index.h"

namespace pith {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void normalise_rows(std::vector<float>& x, size_t dim) {
  for (size_t i = 0; i + dim <= x.size(); i += dim) {
    double s = 0;
    for (size_t j = 0; j < dim; ++j) s += double(x[i + j]) * x[i + j];
    if (s <= 0) continue;  // a zero vector has no direction; it stays zero
    float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (size_t j = 0; j < dim; ++j) x[i + j] *= inv;
  }
}

// The ground truth is a function of both files' contents, k and the metric, so
// the cache is keyed on exactly those.
std::string truth_cache_path(const EvalInput& in, size_t nq) {
  Xxh64Stream h;
  auto add_file = [&](const std::string& p) {
    MappedFile f(p);
    uint64_t v = xxh64(f.bytes());
    h.update(&v, sizeof v);
  };
  add_file(in.vectors);
  if (in.queries.empty()) {
    uint64_t key[3] = {0x686f6c646f7574ull, nq, in.seed};  // "holdout"
    h.update(key, sizeof key);
  } else {
    add_file(in.queries);
  }
  uint64_t key[2] = {in.k, static_cast<uint64_t>(in.metric)};
  h.update(key, sizeof key);
  return in.vectors + fmt::format(".gt-{:016x}.npy", h.digest());
}

std::optional<std::vector<int64_t>> read_truth_cache(const std::string& path, size_t nq, size_t k, size_t rows) {
  if (!file_exists(path)) return std::nullopt;
  NpyFile f(path);
  const auto& hd = f.header();
  if (hd.dtype != DType::I64 || hd.fortran_order || hd.shape != std::vector<uint64_t>{nq, k}) return std::nullopt;
  std::vector<int64_t> t(nq * k);
  std::memcpy(t.data(), f.data().data(), t.size() * sizeof(int64_t));
  for (int64_t v : t)
    if (v < -1 || v >= static_cast<int64_t>(rows)) return std::nullopt;
  return t;
}

// A user-given truth file: [nq, k] int32/int64 row numbers of the collection.
std::vector<int64_t> read_truth_file(const std::string& path, size_t nq, size_t rows, size_t& k) {
  NpyFile f(path);
  const auto& hd = f.header();
  if ((hd.dtype != DType::I32 && hd.dtype != DType::I64) || hd.shape.size() != 2 || hd.fortran_order)
    fail(path, "ground truth must be a C-order 2-D int32 or int64 array [queries, k]");
  if (hd.shape[0] != nq) fail(path, "ground truth has {} rows for {} queries", hd.shape[0], nq);
  size_t cols = hd.shape[1];
  if (cols == 0) fail(path, "ground truth has no columns");
  std::vector<int64_t> all(nq * cols);
  const uint8_t* p = f.data().data();
  for (size_t i = 0; i < all.size(); ++i) {
    if (hd.dtype == DType::I32) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      all[i] = v;
    } else {
      std::memcpy(&all[i], p + 8 * i, 8);
    }
    if (all[i] < -1 || all[i] >= static_cast<int64_t>(rows))
      fail(path, "query {} names row {}, the collection has {} rows", i / cols, all[i], rows);
  }
  size_t keep = std::min(k, cols);
  std::vector<int64_t> t(nq * keep);
  for (size_t i = 0; i < nq; ++i) std::copy_n(all.begin() + i * cols, keep, t.begin() + i * keep);
  k = keep;
  return t;
}

void finish_data(EvalData& d, int threads) {
  if (d.n >= 2) d.eigenvalues = covariance_eigenvalues(d.base.data(), d.n, d.dim, threads);
}

}  // namespace

EvalData make_eval_data(std::vector<float> base, size_t n, size_t dim, std::vector<float> queries, size_t nq,
                        Metric metric, size_t k, int threads) {
  EvalData d;
  d.dim = dim;
  d.n = n;
  d.nq = nq;
  d.metric = metric;
  d.base = std::move(base);
  d.queries = std::move(queries);
  if (metric == Metric::COS) {
    normalise_rows(d.base, dim);
    normalise_rows(d.queries, dim);
  }
  d.ids.resize(n);
  std::iota(d.ids.begin(), d.ids.end(), 0);
  d.truth_k = std::min(k, n);
  d.truth = exact_knn(d.base.data(), n, d.queries.data(), nq, dim, metric == Metric::L2 ? Metric::L2 : Metric::IP,
                      d.truth_k, threads);
  finish_data(d, threads);
  return d;
}

EvalData load_eval_data(const EvalInput& in) {
  if (in.queries.empty() && !in.qrels.empty())
    fail_msg("--qrels needs --queries: judgments name rows of a query file");
  if (in.queries.empty() && !in.truth.empty())
    fail_msg("--gt needs --queries: a given ground truth belongs to given queries");
  VectorSet vs = load_vectors(in.vectors);
  EvalData d;
  d.dim = vs.dim;
  d.metric = in.metric;
  const size_t rows = vs.n;
  if (!in.queries.empty()) {
    VectorSet qs = load_vectors(in.queries);
    if (qs.dim != vs.dim)
      fail(in.queries, "queries have {} dimensions, the collection {} has {}", qs.dim, in.vectors, vs.dim);
    d.base = std::move(vs.data);
    d.n = rows;
    d.ids.resize(rows);
    std::iota(d.ids.begin(), d.ids.end(), 0);
    d.queries = std::move(qs.data);
    d.nq = qs.n;
  } else {
    size_t nh = std::min(in.holdout, rows / 10);
    if (nh == 0)
      fail(in.vectors, "{} rows are too few to hold out queries (needs at least 10, or give --queries)", rows);
    std::vector<size_t> perm(rows);
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(in.seed);
    for (size_t i = 0; i < nh; ++i) std::swap(perm[i], perm[i + rng() % (rows - i)]);
    std::vector<size_t> held(perm.begin(), perm.begin() + nh);
    std::sort(held.begin(), held.end());
    std::vector<bool> is_held(rows, false);
    for (size_t r : held) is_held[r] = true;
    d.queries.resize(nh * d.dim);
    for (size_t i = 0; i < nh; ++i) std::copy_n(vs.row(held[i]), d.dim, d.queries.begin() + i * d.dim);
    d.nq = nh;
    // Compact the kept rows in place: the collection can be large.
    size_t w = 0;
    for (size_t r = 0; r < rows; ++r) {
      if (is_held[r]) continue;
      if (w != r) std::copy_n(vs.row(r), d.dim, vs.data.begin() + w * d.dim);
      d.ids.push_back(static_cast<int64_t>(r));
      ++w;
    }
    vs.data.resize(w * d.dim);
    vs.data.shrink_to_fit();
    d.base = std::move(vs.data);
    d.n = w;
    d.notes.push_back(fmt::format("queries: {} random rows of the collection held out (seed {}), not indexed", nh,
                                  in.seed));
  }
  if (in.metric == Metric::COS) {
    normalise_rows(d.base, d.dim);
    normalise_rows(d.queries, d.dim);
  }

  size_t k = std::min(in.k, d.n);
  if (!in.truth.empty()) {
    d.truth = read_truth_file(in.truth, d.nq, rows, k);
    d.notes.push_back(fmt::format("ground truth: top-{} from {}", k, in.truth));
  } else {
    std::string cache = in.truth_cache.empty() ? truth_cache_path(in, d.nq) : in.truth_cache;
    std::optional<std::vector<int64_t>> cached;
    if (in.use_cache) cached = read_truth_cache(cache, d.nq, k, rows);
    if (cached) {
      d.truth = std::move(*cached);
      d.notes.push_back(fmt::format("ground truth: exact top-{}, reused from {}", k, cache));
    } else {
      auto t0 = Clock::now();
      d.truth = exact_knn(d.base.data(), d.n, d.queries.data(), d.nq, d.dim,
                          in.metric == Metric::L2 ? Metric::L2 : Metric::IP, k, in.threads);
      for (auto& v : d.truth)
        if (v >= 0) v = d.ids[v];
      std::string how = fmt::format("ground truth: exact top-{} by brute force ({:.1f} s)", k, seconds_since(t0));
      if (in.use_cache) {
        try {
          uint64_t shape[2] = {d.nq, k};
          write_npy(cache, DType::I64, shape,
                    {reinterpret_cast<const uint8_t*>(d.truth.data()), d.truth.size() * sizeof(int64_t)}, true);
          how += ", cached in " + cache;
        } catch (const Error& e) {
          how += fmt::format(", not cached ({})", e.what());
        }
      }
      d.notes.push_back(how);
    }
  }
  d.truth_k = k;

  if (!in.qrels.empty()) {
    d.qrels = read_qrels(in.qrels, d.nq, rows, in.strict);
    if (d.qrels->unknown)
      d.notes.push_back(fmt::format("qrels: {} of {} judgments name unknown queries or rows and were ignored",
                                    d.qrels->unknown, d.qrels->lines));
  }
  finish_data(d, in.threads);
  return d;
}

namespace {

// The codec a VectorIndex spec quantizes with: IVF assigns to lists, it does not
// change the code.
std::string codec_of_index_spec(const std::string& spec) {
  if (spec.rfind("ivf", 0) == 0 && spec.find(',') != std::string::npos) return spec.substr(spec.find(',') + 1);
  return spec;
}

// Mean squared error per dimension of the codec on standard Gaussian rows it was
// not trained on.
double gaussian_mse(const std::string& codec_spec, size_t dim, const EvalSettings& s) {
  auto codec = make_codec(codec_spec, dim);
  std::mt19937_64 rng(s.seed ^ 0x9e3779b97f4a7c15ull);
  std::normal_distribution<float> g;
  std::vector<float> train(s.gaussian_train * dim), test(s.gaussian_test * dim), back(test.size());
  for (auto& v : train) v = g(rng);
  for (auto& v : test) v = g(rng);
  if (codec->needs_training()) codec->train(train.data(), s.gaussian_train, Metric::L2, s.seed);
  std::vector<uint8_t> codes(s.gaussian_test * codec->code_size());
  codec->encode(test.data(), s.gaussian_test, codes.data());
  codec->decode(codes.data(), s.gaussian_test, back.data());
  double e = 0;
  for (size_t i = 0; i < test.size(); ++i) e += double(test[i] - back[i]) * (test[i] - back[i]);
  return e / static_cast<double>(test.size());
}

std::optional<double> mean_recall(const std::vector<int64_t>& ids, size_t k_search, const EvalData& d, size_t k,
                                  std::vector<double>* per_query = nullptr) {
  if (k > k_search || k > d.truth_k) return std::nullopt;
  auto r = recall_per_query(ids, k_search, d.truth, d.truth_k, k);
  double m = mean(r);
  if (per_query) *per_query = std::move(r);
  return m;
}

}  // namespace

std::vector<CodecResult> evaluate_codec(const EvalData& d, const std::string& codec, const EvalSettings& s,
                                        const std::vector<size_t>& reranks) {
  IndexOptions opt;
  opt.codec = codec;
  opt.metric = d.metric;
  opt.refine = s.refine;
  opt.seed = s.seed;
  opt.threads = s.threads;
  opt.progress = false;
  auto t0 = Clock::now();
  auto index = VectorIndex::create(d.dim, opt);
  try {
    index->train(d.base.data(), d.n);
  } catch (const Error& e) {
    fail_msg("{}: cannot train on {} vectors: {}", codec, d.n, e.what());
  }
  index->add(d.base.data(), d.n, d.ids.data());
  CodecResult base;
  base.build_s = seconds_since(t0);
  base.codec = index->codec_spec();
  base.bytes_per_vector = index->bytes_per_vector();
  base.compression = 4.0 * static_cast<double>(d.dim) / static_cast<double>(base.bytes_per_vector);
  base.bits_per_dim = 8.0 * static_cast<double>(base.bytes_per_vector) / static_cast<double>(d.dim);
  base.refine = s.refine;
  base.refine_bytes = s.refine.empty() ? 0 : d.dim * (s.refine == "f16" ? 2 : 4);

  // Reconstruction error on a seeded sample of rows, through the index so that
  // IVF residual codes count too.
  size_t m = std::min(s.mse_rows, d.n);
  std::vector<size_t> rows(d.n);
  std::iota(rows.begin(), rows.end(), 0);
  std::mt19937_64 rng(s.seed);
  for (size_t i = 0; i < m; ++i) std::swap(rows[i], rows[i + rng() % (d.n - i)]);
  std::vector<float> orig(m * d.dim), back(m * d.dim);
  double se = 0;
  for (size_t i = 0; i < m; ++i) {
    std::copy_n(d.base.begin() + rows[i] * d.dim, d.dim, orig.begin() + i * d.dim);
    index->reconstruct(d.ids[rows[i]], back.data() + i * d.dim);
    for (size_t j = 0; j < d.dim; ++j) {
      double e = double(orig[i * d.dim + j]) - back[i * d.dim + j];
      se += e * e;
    }
  }
  base.mse = m ? se / static_cast<double>(m * d.dim) : 0;
  size_t qe = std::min<size_t>(d.nq, 100);
  double ipe = 0;
  for (size_t q = 0; q < qe; ++q)
    for (size_t i = 0; i < m; ++i) {
      double e = 0;  // q·x − q·x̂ = q·(x − x̂)
      for (size_t j = 0; j < d.dim; ++j)
        e += double(d.queries[q * d.dim + j]) * (double(orig[i * d.dim + j]) - back[i * d.dim + j]);
      ipe += e * e;
    }
  base.ip_error = qe > 0 && m > 0 ? std::sqrt(ipe / static_cast<double>(qe * m)) : 0;

  auto tg = Clock::now();
  base.gaussian_mse = gaussian_mse(codec_of_index_spec(base.codec), d.dim, s);
  double gaussian_s = seconds_since(tg);
  base.shannon_mse = shannon_mse(base.bits_per_dim);
  base.gap_db = gap_db(base.gaussian_mse, base.shannon_mse);
  if (!d.eigenvalues.empty()) {
    base.waterfill_mse = reverse_waterfill(d.eigenvalues, 8.0 * static_cast<double>(base.bytes_per_vector)).mse_per_dim;
    base.waterfill_gap_db = gap_db(base.mse, base.waterfill_mse);
  }

  std::vector<CodecResult> out;
  const size_t k = std::min(d.truth_k, d.n);
  std::vector<int64_t> ids(d.nq * k);
  std::vector<float> dist(d.nq * k);
  for (size_t rr : reranks) {
    CodecResult r = base;
    r.rerank = rr;
    SearchParams p;
    p.k = k;
    p.rerank = rr;
    p.threads = 1;
    auto ts = Clock::now();
    index->search(d.queries.data(), d.nq, p, ids.data(), dist.data());
    double t = seconds_since(ts);
    r.qps = t > 0 ? static_cast<double>(d.nq) / t : 0;
    r.recall1 = mean_recall(ids, k, d, 1);
    r.recall10 = mean_recall(ids, k, d, 10, &r.recall10_per_query);
    r.recall100 = mean_recall(ids, k, d, 100);
    if (d.qrels && k >= 10) {
      auto rq = rank_quality(*d.qrels, ids, k, 10);
      if (rq.queries) {
        r.ndcg10 = rq.ndcg;
        r.mrr10 = rq.mrr;
      }
    }
    if (s.verbose)
      std::fprintf(stderr, "eval: %s: build %.2f s, search %.2f s (rerank %zu), Gaussian reference %.2f s\n",
                   r.codec.c_str(), r.build_s, t, rr, gaussian_s);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

size_t largest_divisor_at_most(size_t n, size_t cap) {
  for (size_t m = std::min(n, cap); m > 0; --m)
    if (n % m == 0) return m;
  return 1;
}

std::optional<size_t> code_size_of(const std::string& spec, size_t dim) {
  try {
    return make_codec(spec, dim)->code_size();
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The smallest budget that holds `bytes`, or 0 when none does.
size_t budget_for(size_t bytes, const std::vector<size_t>& sorted_budgets) {
  for (size_t b : sorted_budgets)
    if (bytes <= b) return b;
  return 0;
}

}  // namespace

std::vector<std::pair<size_t, std::string>> default_codecs(size_t dim, const std::vector<size_t>& budgets) {
  std::vector<size_t> sorted(budgets);
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::pair<size_t, std::string>> out;
  std::set<std::string> seen;
  auto offer = [&](const std::string& spec) {
    if (seen.count(spec)) return;
    auto size = code_size_of(spec, dim);
    if (!size) return;
    size_t b = budget_for(*size, sorted);
    if (b == 0) return;
    seen.insert(spec);
    out.emplace_back(b, spec);
  };
  for (size_t b : sorted) {
    // Product quantization: the most sub-quantizers the budget and dimension allow.
    size_t m8 = largest_divisor_at_most(dim, b);
    offer(fmt::format("pq{}x8", m8));
    offer(fmt::format("opq{},pq{}x8", m8, m8));
    offer(fmt::format("pq{}x4fs", largest_divisor_at_most(dim, 2 * b)));
    // RaBitQ: the most bits per dimension that fit; below one bit, on PCA dimensions.
    for (int bits = 8; bits >= 1; --bits) {
      std::string spec = bits == 1 ? "rabitq" : fmt::format("rabitq{}", bits);
      auto size = code_size_of(spec, dim);
      if (size && *size <= b) {
        offer(spec);
        break;
      }
      if (bits == 1 && b > 8 && 8 * (b - 8) < dim) offer(fmt::format("pca{},rabitq", 8 * (b - 8)));
    }
    // 3-bit RaBitQ on the leading principal components, with and without k-means
    // centres (2 bytes more): on text-like embeddings fewer dimensions at 3 bits
    // beat all of them at 1 bit (words300: pca64,rabitq3 0.65 recall@10 at 32 B,
    // rabitq 0.52 at 48 B); the centres pay where they fit (pca128,rabitq3c256
    // 0.83 at 58 B).
    for (const char* kind : {"rabitq3c256", "rabitq3"})
      for (size_t p = (dim - 1) / 64 * 64; p >= 64; p -= 64) {
        std::string spec = fmt::format("pca{},{}", p, kind);
        auto size = code_size_of(spec, dim);
        if (size && *size <= b) {
          offer(spec);
          break;
        }
      }
    // Scalar quantization: the most bits that fit, else fewer dimensions.
    if (dim <= b)
      offer("sq8");
    else if (dim <= 2 * b)
      offer("sq4");
    else if (dim <= 4 * b)
      offer("sq2");
    if (b < dim) {
      offer(fmt::format("pca{},sq8", b));
      offer(fmt::format("trunc{},sq8", b));
    }
    if (2 * b < dim) offer(fmt::format("pca{},sq4", 2 * b));
    offer("f16");
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& c) { return a.first < c.first; });
  return out;
}

std::vector<std::pair<size_t, std::string>> assign_budgets(size_t dim, const std::vector<std::string>& codecs,
                                                           const std::vector<size_t>& budgets) {
  std::vector<size_t> sorted(budgets);
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::pair<size_t, std::string>> out;
  for (const auto& c : codecs) {
    // Errors here (unknown token, PQ M not dividing the dimension) are the user's to see.
    size_t bytes = make_codec(codec_of_index_spec(c), dim)->code_size();
    out.emplace_back(budget_for(bytes, sorted), c);
  }
  // Codecs over every budget (0) go last.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& c) { return a.first - 1 < c.first - 1; });
  return out;
}

EvalReport run_eval(const EvalData& d, const EvalRun& run, const EvalSettings& s) {
  EvalReport rep;
  rep.dim = d.dim;
  rep.n = d.n;
  rep.nq = d.nq;
  rep.metric = d.metric;
  rep.budgets = run.budgets;
  std::sort(rep.budgets.begin(), rep.budgets.end());
  rep.notes = d.notes;
  rep.eigenvalues = d.eigenvalues;
  const bool user_list = !run.codecs.empty();
  auto plan = user_list ? assign_budgets(d.dim, run.codecs, rep.budgets) : default_codecs(d.dim, rep.budgets);
  for (size_t b : rep.budgets) {
    if (std::any_of(plan.begin(), plan.end(), [&](const auto& p) { return p.first == b; })) continue;
    std::string nearest;
    size_t nearest_bytes = SIZE_MAX;
    for (const auto& [pb, spec] : plan) {
      size_t bytes = make_codec(codec_of_index_spec(spec), d.dim)->code_size();
      if (bytes > b && bytes < nearest_bytes) {
        nearest_bytes = bytes;
        nearest = spec;
      }
    }
    rep.notes.push_back(nearest.empty() ? fmt::format("budget {}: no codec lands at or under it", b)
                                        : fmt::format("budget {}: no codec lands at or under it; the nearest is {} "
                                                      "at {} bytes per vector",
                                                      b, nearest, nearest_bytes));
  }
  Progress pr("eval", plan.size(), s.progress);
  for (const auto& [budget, spec] : plan) {
    try {
      auto r = evaluate_codec(d, spec, s, {run.rerank});
      r[0].budget = budget;
      rep.results.push_back(std::move(r[0]));
    } catch (const Error& e) {
      if (user_list) throw;
      rep.notes.push_back(fmt::format("skipped {}", e.what()));
    }
    pr.add(1);
  }
  pr.finish();
  if (rep.results.empty()) fail_msg("no codec could be evaluated ({})", rep.notes.back());

  for (size_t b : rep.budgets) {
    std::vector<const CodecResult*> c;
    for (const auto& r : rep.results)
      if (r.bytes_per_vector <= b && r.recall10) c.push_back(&r);
    if (c.size() < 2) continue;
    std::stable_sort(c.begin(), c.end(), [](auto* x, auto* y) { return *x->recall10 > *y->recall10; });
    Comparison cmp;
    cmp.budget = b;
    cmp.best = c[0]->codec;
    cmp.second = c[1]->codec;
    cmp.best_recall10 = *c[0]->recall10;
    cmp.second_recall10 = *c[1]->recall10;
    cmp.p_value = paired_permutation_test(c[0]->recall10_per_query, c[1]->recall10_per_query, 9999, s.seed).p_value;
    rep.comparisons.push_back(cmp);
  }
  return rep;
}

std::optional<double> objective_value(const CodecResult& r, const std::string& objective) {
  if (objective == "recall@1") return r.recall1;
  if (objective == "recall@10") return r.recall10;
  if (objective == "recall@100") return r.recall100;
  if (objective == "ndcg@10") return r.ndcg10;
  if (objective == "mrr@10") return r.mrr10;
  fail_msg("objective '{}' is not known (valid: recall@1, recall@10, recall@100, ndcg@10, mrr@10)", objective);
}

const CodecResult& choose(const std::vector<CodecResult>& cands, const TuneGoal& goal) {
  const CodecResult* best = nullptr;
  const CodecResult* nearest = nullptr;  // for the error: most objective, or fewest bytes
  for (const auto& r : cands) {
    auto v = objective_value(r, goal.objective);
    if (!v) continue;
    bool ok = goal.budget ? r.bytes_per_vector <= *goal.budget : *v >= *goal.target;
    if (!ok) {
      if (!nearest || (goal.budget ? r.bytes_per_vector < nearest->bytes_per_vector
                                   : *v > *objective_value(*nearest, goal.objective)))
        nearest = &r;
      continue;
    }
    if (!best) {
      best = &r;
      continue;
    }
    double bv = *objective_value(*best, goal.objective);
    auto key = [&](const CodecResult& x, double val) {
      // Budget mode: objective up, then bytes down, then speed up; target mode:
      // bytes down, then objective up, then speed up.
      return goal.budget ? std::make_tuple(-val, double(x.bytes_per_vector), -x.qps)
                         : std::make_tuple(double(x.bytes_per_vector), -val, -x.qps);
    };
    if (key(r, *v) < key(*best, bv)) best = &r;
  }
  if (best) return *best;
  if (!nearest) fail_msg("no candidate measured {} (nDCG and MRR need --qrels)", goal.objective);
  if (goal.budget)
    fail_msg("no codec fits in {} bytes per vector; the nearest is {} at {} bytes", *goal.budget, nearest->codec,
             nearest->bytes_per_vector);
  fail_msg("no codec reaches {} = {}; the nearest is {} with {:.4f} at {} bytes per vector", goal.objective,
           *goal.target, nearest->codec, *objective_value(*nearest, goal.objective), nearest->bytes_per_vector);
}

TuneResult run_tune(const EvalData& d, const TuneGoal& goal, const EvalSettings& s,
                    const std::vector<std::string>& codecs) {
  if (goal.budget.has_value() == goal.target.has_value()) fail_msg("tune needs either a budget or a target");
  std::vector<size_t> reranks = {0};
  if (!s.refine.empty())
    for (size_t r : {20, 50, 100, 200})
      if (r < d.n) reranks.push_back(r);
  TuneResult res;
  auto try_codec = [&](const std::string& spec) {
    try {
      for (auto& r : evaluate_codec(d, spec, s, reranks)) res.tried.push_back(std::move(r));
    } catch (const Error& e) {
      if (!codecs.empty()) throw;
      std::fprintf(stderr, "pith: tune: skipped %s\n", e.what());
    }
  };
  if (!codecs.empty()) {
    for (const auto& c : codecs) try_codec(c);
  } else if (goal.budget) {
    // Each family at the most parameters the budget holds.
    auto plan = default_codecs(d.dim, {*goal.budget});
    if (plan.empty()) {
      std::vector<size_t> sizes;
      for (size_t b = 1; b <= 4 * d.dim; b *= 2) sizes.push_back(b);
      auto all = default_codecs(d.dim, sizes);
      auto smallest = std::min_element(all.begin(), all.end(), [&](const auto& a, const auto& b) {
        return make_codec(a.second, d.dim)->code_size() < make_codec(b.second, d.dim)->code_size();
      });
      if (smallest == all.end()) fail_msg("no codec fits dimension {}", d.dim);
      fail_msg("no codec fits in {} bytes per vector; the nearest is {} at {} bytes", *goal.budget, smallest->second,
               make_codec(smallest->second, d.dim)->code_size());
    }
    Progress pr("tune", plan.size(), s.progress);
    for (const auto& [b, spec] : plan) {
      try_codec(spec);
      pr.add(1);
    }
  } else {
    // Budgets double until one holds a codec that reaches the target: the cheapest
    // winner lies in the first such level (or among those tried before it).
    std::vector<size_t> levels;
    for (size_t b = 4; b <= 4 * d.dim; b *= 2) levels.push_back(b);
    auto plan = default_codecs(d.dim, levels);
    Progress pr("tune", plan.size(), s.progress);
    for (size_t b : levels) {
      for (const auto& [pb, spec] : plan)
        if (pb == b) {
          try_codec(spec);
          pr.add(1);
        }
      bool reached = std::any_of(res.tried.begin(), res.tried.end(), [&](const CodecResult& r) {
        auto v = objective_value(r, goal.objective);
        return v && *v >= *goal.target;
      });
      if (reached) break;
    }
  }
  if (res.tried.empty()) fail_msg("tune: no codec could be evaluated on {} vectors of dimension {}", d.n, d.dim);
  res.best = choose(res.tried, goal);
  return res;
}

}  // namespace pith
