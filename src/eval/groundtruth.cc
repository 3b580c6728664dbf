#include "eval/groundtruth.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <queue>
#include <sstream>
#include <unordered_map>

#include <Eigen/Core>

#include "common/error.h"
#include "common/parallel.h"

namespace pith {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMap = Eigen::Map<const RowMat>;

// Query blocks are small enough to spread over threads and large enough that the
// base block, once loaded into cache, serves many queries through one GEMM.
constexpr size_t kQueryBlock = 64;
constexpr size_t kBaseBlock = 2048;

// (distance, row) ordered so that a max-heap's top is the worst kept candidate;
// equal distances rank by ascending row.
using Cand = std::pair<float, int64_t>;

}  // namespace

std::vector<int64_t> exact_knn(const float* base, size_t n, const float* queries, size_t nq,
                               size_t d, Metric metric, size_t k, int threads) {
  std::vector<int64_t> out(nq * k, -1);
  if (nq == 0 || k == 0) return out;
  const bool l2 = metric == Metric::L2;
  // Squared L2 = |x|^2 - 2 q.x + |q|^2; the last term does not change the ranking.
  std::vector<float> norms;
  if (l2) {
    norms.resize(n);
    parallel_for((n + kBaseBlock - 1) / kBaseBlock, threads, [&](size_t b) {
      size_t lo = b * kBaseBlock, hi = std::min(n, lo + kBaseBlock);
      for (size_t i = lo; i < hi; ++i) {
        ConstRowMap x(base + i * d, 1, d);
        norms[i] = x.squaredNorm();
      }
    });
  }
  const size_t qblocks = (nq + kQueryBlock - 1) / kQueryBlock;
  parallel_for(qblocks, threads, [&](size_t qb) {
    size_t q0 = qb * kQueryBlock, nqb = std::min(nq, q0 + kQueryBlock) - q0;
    ConstRowMap Q(queries + q0 * d, nqb, d);
    std::vector<std::priority_queue<Cand>> heaps(nqb);
    RowMat dots;
    for (size_t b0 = 0; b0 < n; b0 += kBaseBlock) {
      size_t nb = std::min(n, b0 + kBaseBlock) - b0;
      ConstRowMap X(base + b0 * d, nb, d);
      dots.noalias() = Q * X.transpose();
      for (size_t i = 0; i < nqb; ++i) {
        auto& h = heaps[i];
        const float* row = dots.data() + i * nb;
        for (size_t j = 0; j < nb; ++j) {
          float dist = l2 ? norms[b0 + j] - 2 * row[j] : -row[j];
          Cand c{dist, static_cast<int64_t>(b0 + j)};
          if (h.size() < k) {
            h.push(c);
          } else if (c < h.top()) {
            h.pop();
            h.push(c);
          }
        }
      }
    }
    for (size_t i = 0; i < nqb; ++i) {
      auto& h = heaps[i];
      int64_t* dst = out.data() + (q0 + i) * k;
      for (size_t r = h.size(); r-- > 0;) {
        dst[r] = h.top().second;
        h.pop();
      }
    }
  });
  return out;
}

std::vector<double> recall_per_query(std::span<const int64_t> result, size_t result_k,
                                     std::span<const int64_t> truth, size_t truth_k, size_t k) {
  if (k == 0 || k > result_k || k > truth_k)
    fail_msg("recall@{}: needs {} results and {} true neighbours per query, have {} and {}", k, k, k,
             result_k, truth_k);
  size_t nq = truth.size() / truth_k;
  if (result.size() / result_k != nq)
    fail_msg("recall@{}: {} result rows for {} queries", k, result.size() / result_k, nq);
  std::vector<double> r(nq);
  std::vector<int64_t> t;
  for (size_t i = 0; i < nq; ++i) {
    t.assign(truth.begin() + i * truth_k, truth.begin() + i * truth_k + k);
    std::erase(t, int64_t{-1});
    if (t.empty()) {
      r[i] = 1.0;  // nothing to find: every answer is complete
      continue;
    }
    std::sort(t.begin(), t.end());
    size_t hit = 0;
    const int64_t* res = result.data() + i * result_k;
    for (size_t j = 0; j < k; ++j)
      if (res[j] >= 0 && std::binary_search(t.begin(), t.end(), res[j])) ++hit;
    r[i] = static_cast<double>(hit) / static_cast<double>(t.size());
  }
  return r;
}

double mean(std::span<const double> v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

Qrels read_qrels(const std::string& path, size_t nq, size_t n, bool strict) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open qrels file");
  Qrels q;
  q.by_query.resize(nq);
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string w; ss >> w;) f.push_back(w);
    if (f.size() != 3 && f.size() != 4)
      fail(path, "line {}: expected \"qid 0 docid rel\" or \"qid docid rel\", got {} fields", lineno,
           f.size());
    auto num = [&](const std::string& s, const char* what) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(s, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s.size() || v < 0) fail(path, "line {}: {} \"{}\" is not a row number", lineno, what, s);
      return v;
    };
    auto qid = num(f[0], "qid");
    auto doc = num(f[f.size() - 2], "docid");
    double rel = 0;
    try {
      size_t used = 0;
      rel = std::stod(f.back(), &used);
      if (used != f.back().size() || !std::isfinite(rel)) throw std::invalid_argument("");
    } catch (const std::exception&) {
      fail(path, "line {}: relevance \"{}\" is not a number", lineno, f.back());
    }
    ++q.lines;
    if (static_cast<unsigned long long>(qid) >= nq || static_cast<unsigned long long>(doc) >= n) {
      if (strict)
        fail(path, "line {}: {} (there are {} queries and {} collection rows)", lineno,
             static_cast<unsigned long long>(qid) >= nq ? fmt::format("unknown query {}", qid)
                                                        : fmt::format("unknown docid {}", doc),
             nq, n);
      ++q.unknown;
      continue;
    }
    q.by_query[qid].emplace_back(doc, rel);
  }
  return q;
}

RankQuality rank_quality(const Qrels& q, std::span<const int64_t> result, size_t result_k, size_t k) {
  if (k > result_k) fail_msg("nDCG@{}: only {} results per query", k, result_k);
  RankQuality out;
  size_t nq = std::min(q.by_query.size(), result.size() / result_k);
  for (size_t i = 0; i < nq; ++i) {
    const auto& judged = q.by_query[i];
    std::unordered_map<int64_t, double> grade;
    std::vector<double> ideal;
    for (auto [doc, rel] : judged) {
      if (rel <= 0) continue;
      grade[doc] = rel;
    }
    if (grade.empty()) continue;
    for (auto& [doc, rel] : grade) ideal.push_back(rel);
    std::sort(ideal.rbegin(), ideal.rend());
    double dcg = 0, idcg = 0, rr = 0;
    for (size_t j = 0; j < k; ++j) {
      double disc = 1.0 / std::log2(static_cast<double>(j) + 2.0);
      if (j < ideal.size()) idcg += ideal[j] * disc;
      auto it = grade.find(result[i * result_k + j]);
      if (it == grade.end()) continue;
      dcg += it->second * disc;
      if (rr == 0) rr = 1.0 / static_cast<double>(j + 1);
    }
    out.ndcg += dcg / idcg;
    out.mrr += rr;
    ++out.queries;
  }
  if (out.queries) {
    out.ndcg /= static_cast<double>(out.queries);
    out.mrr /= static_cast<double>(out.queries);
  }
  return out;
}

}  // namespace pith
