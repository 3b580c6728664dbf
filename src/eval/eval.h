#pragma once
// `pith eval` and `pith tune`: every codec's figures on the user's own vectors,
// measured through VectorIndex (the code `pith search` runs, same seed), so the
// numbers here are the numbers users get.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/groundtruth.h"
#include "quantize/codec.h"

namespace pith {

// Where the collection, the queries and the true neighbours come from.
struct EvalInput {
  std::string vectors;          // collection (.npy, .fvecs, .bvecs)
  std::string queries;          // "" = hold out `holdout` random rows of the collection
  std::string truth;            // "" = exact search (cached); else a .npy [nq, k] of row numbers
  std::string qrels;            // "" = none
  std::string truth_cache;      // "" = VECTORS.gt-<hash>.npy next to the collection
  bool use_cache = true;
  bool strict = false;          // unknown ids in qrels are an error rather than ignored
  Metric metric = Metric::L2;
  size_t holdout = 1000;        // capped at a tenth of the collection
  size_t k = 100;               // neighbours per query (recall@1/@10/@100)
  uint64_t seed = 1234;
  int threads = 0;
};

// The collection as indexed plus everything measured once per collection.
struct EvalData {
  size_t dim = 0, n = 0, nq = 0;
  Metric metric = Metric::L2;
  std::vector<float> base;       // n × dim; COS rows already normalised
  std::vector<int64_t> ids;      // row numbers in the user's file (held-out rows are absent)
  std::vector<float> queries;    // nq × dim
  std::vector<int64_t> truth;    // nq × truth_k, row numbers of the user's file
  size_t truth_k = 0;
  std::optional<Qrels> qrels;
  std::vector<double> eigenvalues;  // of the collection's covariance, largest first
  std::vector<std::string> notes;   // how queries and truth were obtained, ignored qrels
};

// Loads and checks the inputs (dimension agreement, truth ids inside the
// collection), holds out queries, computes or reuses the ground truth.
EvalData load_eval_data(const EvalInput& in);
// The same from arrays in memory (tests, tune on a built collection).
EvalData make_eval_data(std::vector<float> base, size_t n, size_t dim, std::vector<float> queries, size_t nq,
                        Metric metric, size_t k, int threads);

struct EvalSettings {
  uint64_t seed = 1234;          // codec training, sampling
  int threads = 0;               // building and ground truth; queries are timed on one thread
  std::string refine;            // "" | "f16" | "f32": the refine copy kept for re-ranking
  size_t mse_rows = 2000;        // collection rows reconstructed for MSE and inner-product error
  size_t gaussian_train = 4096;  // standard Gaussian rows to train on, for the Shannon reference
  size_t gaussian_test = 1024;   // ... and held-out rows to measure on
  bool progress = true;
  bool verbose = false;          // one line per codec on stderr with where the time went
};

struct CodecResult {
  std::string codec;
  size_t budget = 0;              // the budget this codec was chosen for (0: none)
  size_t bytes_per_vector = 0;    // codes + per-vector scalars
  double compression = 0;         // float32 bytes / bytes_per_vector
  double bits_per_dim = 0;
  std::string refine;             // refine copy kept for re-ranking ("" = none)
  size_t refine_bytes = 0;        // its bytes per vector, on top of bytes_per_vector
  size_t rerank = 0;              // candidates re-scored with it
  std::optional<double> recall1, recall10, recall100, ndcg10, mrr10;
  double mse = 0;                 // per dimension, on collection rows
  double ip_error = 0;            // RMS of q·x − q·x̂ over queries × rows
  double gaussian_mse = 0;        // per dimension, on held-out standard Gaussian rows
  double shannon_mse = 0;         // 2^(−2R), R = bits_per_dim
  double gap_db = 0;              // 10·log10(gaussian_mse / shannon_mse), ≥ 0 up to noise
  double waterfill_mse = 0;       // per dimension, water-filling over the collection's eigenvalues
  double waterfill_gap_db = 0;    // 10·log10(mse / waterfill_mse): < 0 beats the Gaussian of same covariance
  double build_s = 0;             // train + add, all threads
  double qps = 0;                 // single thread, all queries as one batch
  std::vector<double> recall10_per_query;  // for paired tests
};

// Builds an index with `codec` on the collection and measures it, once per
// re-ranking depth in `reranks` (the index is built once; depths > 0 need
// settings.refine).
std::vector<CodecResult> evaluate_codec(const EvalData& data, const std::string& codec, const EvalSettings& s,
                                        const std::vector<size_t>& reranks);

// The default codec list: for each budget, codecs of the families pith has whose
// code size fits the dimension and lands at or under the budget; each codec is
// listed once, under the smallest budget it fits. Returns (budget, codec).
std::vector<std::pair<size_t, std::string>> default_codecs(size_t dim, const std::vector<size_t>& budgets);
// User codecs assigned the same way; codecs larger than every budget keep budget 0.
std::vector<std::pair<size_t, std::string>> assign_budgets(size_t dim, const std::vector<std::string>& codecs,
                                                           const std::vector<size_t>& budgets);

// Best vs second best codec at one budget (codecs at or under it), by recall@10.
struct Comparison {
  size_t budget = 0;
  std::string best, second;
  double best_recall10 = 0, second_recall10 = 0;
  double p_value = 1;
};

struct EvalReport {
  size_t dim = 0, n = 0, nq = 0;
  Metric metric = Metric::L2;
  std::vector<size_t> budgets;
  std::vector<CodecResult> results;
  std::vector<Comparison> comparisons;
  std::vector<std::string> notes;
  std::vector<double> eigenvalues;
};

struct EvalRun {
  std::vector<size_t> budgets = {8, 16, 32, 64, 128};
  std::vector<std::string> codecs;  // empty = default_codecs
  size_t rerank = 0;
};
EvalReport run_eval(const EvalData& data, const EvalRun& run, const EvalSettings& s);

// What tune optimises and under which constraint.
struct TuneGoal {
  std::string objective = "recall@10";  // recall@1|recall@10|recall@100|ndcg@10|mrr@10
  std::optional<size_t> budget;         // maximise the objective within this many code bytes
  std::optional<double> target;         // or: fewest code bytes reaching this value
};
// The objective's value in a result (nullopt when not measured, e.g. nDCG without qrels).
std::optional<double> objective_value(const CodecResult& r, const std::string& objective);
// Picks the winner among measured candidates: within the budget the best objective
// (ties: fewer bytes, then more queries per second); for a target the fewest
// bytes reaching it (ties: better objective, then speed). Throws pith::Error
// naming the nearest candidate when none qualifies.
const CodecResult& choose(const std::vector<CodecResult>& candidates, const TuneGoal& goal);

struct TuneResult {
  CodecResult best;
  std::vector<CodecResult> tried;
};
// Searches codec families and their parameters (and re-ranking depths when
// settings.refine is set) and returns the winner with everything tried.
TuneResult run_tune(const EvalData& data, const TuneGoal& goal, const EvalSettings& s,
                    const std::vector<std::string>& codecs);

}  // namespace pith
