// Product quantization on a dataset of ../shared/data: recall@10 and the
// single-thread scan time of the PQ codecs (codes in their stored layout, fast
// scan included):
//   pq_bench DATA_DIR/sift128 l2 'pq32x8;opq32,pq32x8;pq64x4fs' [nq] [reps]
// Trains on the whole base set. Prints codec, bytes/vector, recall@10 (exact
// ground truth gt_ids.npy), ns per vector per query (thread CPU time, best of
// `reps` passes over all queries) of scan() alone and of the top-10 selection as
// flat search runs it (scan_topk for groups of 8 queries over 256 KB of codes at a
// time where the codec has it, else scan() + TopK), and the train + encode time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "quantize/codec.h"
#include "read/npy.h"
#include "read/vectors.h"
#include "search/topk.h"

using namespace pith;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// CPU time of this thread: scan timings stay meaningful on a machine shared with
// other jobs, where wall time also counts the time slices given to them.
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DATASET_DIR ip|l2 'SPEC;SPEC;...' [nq] [reps]\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[1];
    const Metric metric = metric_from_name(argv[2]);
    auto base = load_vectors(dir + "/base.npy");
    auto queries = load_vectors(dir + "/queries.npy");
    NpyFile gt_file(dir + "/gt_ids.npy");
    const auto* gt = reinterpret_cast<const int32_t*>(gt_file.data().data());
    const size_t gt_k = gt_file.header().shape.at(1);
    const size_t nq = std::min<size_t>(argc > 4 ? std::stoul(argv[4]) : queries.n, queries.n);
    const int reps = argc > 5 ? std::stoi(argv[5]) : 3;
    const size_t n = base.n, d = base.dim;
    std::printf("%-20s %6s %9s %10s %10s %9s\n", "codec", "bytes", "recall@10", "scan_ns", "topk_ns", "train_s");
    std::stringstream specs(argv[3]);
    for (std::string spec; std::getline(specs, spec, ';');) {
      auto c = make_codec(spec, d);
      auto t0 = std::chrono::steady_clock::now();
      c->train(base.data.data(), n, metric, 1234);
      std::vector<uint8_t> rows(n * c->code_size());
      c->encode(base.data.data(), n, rows.data());
      double train_s = seconds_since(t0);
      size_t bs = c->block_size();
      std::vector<uint8_t> stored((n + bs - 1) / bs * bs * c->code_size());
      c->pack(rows.data(), n, stored.data());
      std::vector<std::unique_ptr<CodeScanner>> scanners;
      for (size_t q = 0; q < nq; ++q) scanners.push_back(c->scanner(queries.row(q), metric));
      std::vector<float> dist(n);
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        double s0 = thread_seconds();
        for (size_t q = 0; q < nq; ++q) scanners[q]->scan(stored.data(), n, dist.data());
        best = std::min(best, thread_seconds() - s0);
      }
      // Top-10 as search_flat: code blocks of 256 KB, each scanned for a group of queries.
      const size_t block = std::max<size_t>(1, (256 << 10) / (c->code_size() * bs)) * bs, group = 8;
      std::vector<const CodeScanner*> scp;
      for (auto& sc : scanners) scp.push_back(sc.get());
      double best_topk = 1e30;
      for (int r = 0; r < reps; ++r) {
        std::vector<TopK> tops(nq, TopK(10));
        double s0 = thread_seconds();
        for (size_t p0 = 0; p0 < n; p0 += block) {
          size_t m = std::min(block, n - p0);
          const uint8_t* codes = stored.data() + p0 * c->code_size();
          for (size_t q = 0; q < nq;) {
            std::vector<ScanSink*> sinks;
            for (size_t j = q; j < std::min(nq, q + group); ++j) sinks.push_back(&tops[j]);
            size_t done = scp[q]->scan_topk(&scp[q], sinks.size(), codes, m, p0, sinks.data());
            if (done == 0) {
              scp[q]->scan(codes, m, dist.data());
              tops[q].add(dist.data(), m, p0);
              done = 1;
            }
            q += done;
          }
        }
        best_topk = std::min(best_topk, thread_seconds() - s0);
      }
      double hits = 0;
      std::vector<uint32_t> idx(n);
      for (size_t q = 0; q < nq; ++q) {
        scanners[q]->scan(stored.data(), n, dist.data());
        std::iota(idx.begin(), idx.end(), 0u);
        std::partial_sort(idx.begin(), idx.begin() + 10, idx.end(),
                          [&](uint32_t a, uint32_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
        for (size_t i = 0; i < 10; ++i)
          hits += static_cast<double>(std::count(gt + q * gt_k, gt + q * gt_k + 10, static_cast<int32_t>(idx[i])));
      }
      std::printf("%-20s %6zu %9.4f %10.3f %10.3f %9.1f\n", spec.c_str(), c->code_size(), hits / (10.0 * nq),
                  best * 1e9 / (static_cast<double>(nq) * n), best_topk * 1e9 / (static_cast<double>(nq) * n),
                  train_s);
      std::fflush(stdout);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
