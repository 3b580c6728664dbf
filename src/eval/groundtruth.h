#pragma once
// Exact nearest neighbours and the retrieval measures eval reports (recall@k,
// nDCG@10, MRR@10 against TREC-style relevance judgments).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quantize/codec.h"

namespace pith {

// Exact k nearest neighbours of nq queries among n base vectors (row-major, d
// dimensions) by brute force, blocked over queries and base rows and spread over
// `threads`. `metric` is IP or L2 (COS callers normalise first: it ranks as IP).
// Returns nq × k row numbers, nearest first, equal distances by ascending row;
// -1 pads when n < k.
std::vector<int64_t> exact_knn(const float* base, size_t n, const float* queries, size_t nq,
                               size_t d, Metric metric, size_t k, int threads);

// Per-query recall@k: |result[i,:k] ∩ truth[i,:k]| / (valid ids in truth[i,:k]).
// `result` is nq × result_k, `truth` nq × truth_k; k must not exceed either.
std::vector<double> recall_per_query(std::span<const int64_t> result, size_t result_k,
                                     std::span<const int64_t> truth, size_t truth_k, size_t k);

double mean(std::span<const double> v);

// Relevance judgments: for each query row, (collection row, grade) pairs.
struct Qrels {
  std::vector<std::vector<std::pair<int64_t, double>>> by_query;
  size_t lines = 0;     // judgments read
  size_t unknown = 0;   // judgments naming a query or row that does not exist (ignored)
};

// Reads "qid 0 docid rel" (TREC) or "qid docid rel" lines, whitespace-separated;
// ids are 0-based row numbers of the query and collection files. Blank lines and
// lines starting with '#' are skipped. Judgments naming qid >= nq or docid >= n are
// counted in `unknown` and dropped, or are an error when `strict`.
Qrels read_qrels(const std::string& path, size_t nq, size_t n, bool strict);

// Means over the queries that have at least one judgment with grade > 0 (like
// trec_eval): nDCG@k with linear gain (grade / log2(rank + 1)) and MRR@k.
struct RankQuality {
  double ndcg = 0, mrr = 0;
  size_t queries = 0;  // queries that had relevant rows
};
RankQuality rank_quality(const Qrels& q, std::span<const int64_t> result, size_t result_k, size_t k);

}  // namespace pith
