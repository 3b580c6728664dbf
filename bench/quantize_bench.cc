// Recall@10 and single-thread scan speed of codecs on a dataset of
// ../shared/data (words300: inner product, sift128: L2):
//   quantize_bench DATA_DIR/words300 ip "rabitq,rabitq2,pca192,rabitq2" [nq]
// Codecs are separated by ';' when a chain contains commas ("rot,sq4;sq8").
// Trains on the whole base set, scans every code for each query (one thread),
// keeps the top 10, and prints codec, bytes/vector, recall@10, ns per vector per
// query (scan + top-k, and the scan alone; measured in thread CPU time so that other processes on a
// busy machine do not count) and the encode time.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <queue>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "quantize/codec.h"
#include "read/npy.h"
#include "read/vectors.h"

using namespace pith;

namespace {
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DATASET_DIR ip|l2 'SPEC;SPEC;...' [nq]\n", argv[0]);
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
    const size_t n = base.n, d = base.dim;
    std::printf("%-22s %6s %9s %10s %8s %9s\n", "codec", "bytes", "recall@10", "ns/vec/q", "scan_ns", "encode_s");
    std::stringstream specs(argv[3]);
    for (std::string spec; std::getline(specs, spec, ';');) {
      auto c = make_codec(spec, d);
      auto t0 = std::chrono::steady_clock::now();
      c->train(base.data.data(), n, metric, 1234);
      std::vector<uint8_t> rows(n * c->code_size());
      c->encode(base.data.data(), n, rows.data());
      const size_t bs = c->block_size();
      std::vector<uint8_t> codes((n + bs - 1) / bs * bs * c->code_size());
      c->pack(rows.data(), n, codes.data());
      double enc = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::vector<float> dist(n);
      double scan_s = 0, total_s = 0, hits = 0;
      for (size_t qi = 0; qi < nq; ++qi) {
        const double s0 = cpu_seconds();
        auto sc = c->scanner(queries.row(qi), metric);
        sc->scan(codes.data(), n, dist.data());
        scan_s += cpu_seconds() - s0;
        std::priority_queue<std::pair<float, uint32_t>> top;  // the 10 nearest, worst on top
        for (uint32_t i = 0; i < n; ++i) {
          if (top.size() < 10) top.emplace(dist[i], i);
          else if (dist[i] < top.top().first) {
            top.pop();
            top.emplace(dist[i], i);
          }
        }
        total_s += cpu_seconds() - s0;
        const int32_t* g = gt + qi * gt_k;
        for (; !top.empty(); top.pop()) hits += std::count(g, g + 10, static_cast<int32_t>(top.top().second));
      }
      const double per = 1e9 / (static_cast<double>(nq) * n);
      std::printf("%-22s %6zu %9.4f %10.2f %8.2f %9.2f\n", c->spec().c_str(), c->code_size(), hits / (10.0 * nq),
                  total_s * per, scan_s * per, enc);
      std::fflush(stdout);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
