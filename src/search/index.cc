#include "search/index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <span>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/parallel.h"
#include "common/progress.h"
#include "quantize/kmeans.h"
#include "quantize/half.h"
#include "search/index_format.h"
#include "search/topk.h"
#include "store/container.h"

namespace pith {
namespace {

namespace fmtx = index_format;

constexpr int kKmeansIters = 20;
constexpr size_t kMaxNlist = size_t{1} << 20;
// Codes scanned per block: small enough to stay in L2 while a group of queries
// passes over them.
constexpr size_t kBlockBytes = 256 * 1024;
constexpr size_t kMaxQueryGroup = 256;
constexpr size_t kEncodeRows = 4096;
// Queries offered to one thresholded scan (CodeScanner::scan_topk); pqMx4fs serves 8.
constexpr size_t kScanGroup = 8;

struct Spec {
  size_t nlist = 0;
  std::string codec;
};

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "ivfN,CODEC" or "CODEC".
Spec parse_spec(const std::string& s) {
  if (s.rfind("ivf", 0) != 0) return {0, s};
  size_t comma = s.find(',');
  std::string tok = s.substr(0, comma);
  std::string num = tok.substr(3);
  if (comma == std::string::npos || !all_digits(num) || num.size() > 7)
    fail_msg("codec '{}': '{}' must be ivfN followed by a codec, e.g. ivf256,pq32x8", s, tok);
  size_t nlist = std::stoul(num);
  if (nlist < 1 || nlist > kMaxNlist) fail_msg("codec '{}': {} lists, must be 1 to {}", s, nlist, kMaxNlist);
  return {nlist, s.substr(comma + 1)};
}

size_t refine_elem_size(const std::string& r) {
  if (r.empty()) return 0;
  if (r == "f16") return 2;
  if (r == "f32") return 4;
  fail_msg("refine '{}' is not known (valid: f16, f32)", r);
}

// COS vectors reach the codec normalised, where inner product is the right score.
Metric codec_metric(Metric m) { return m == Metric::COS ? Metric::IP : m; }

// A normalised copy for COS, otherwise the input as is. Zero vectors stay zero.
const float* prepare(const float* x, size_t n, size_t d, Metric m, std::vector<float>& buf) {
  if (m != Metric::COS) return x;
  buf.assign(x, x + n * d);
  for (size_t i = 0; i < n; ++i) {
    float* v = buf.data() + i * d;
    double s = 0;
    for (size_t j = 0; j < d; ++j) s += double(v[j]) * v[j];
    if (s > 0) {
      float inv = float(1.0 / std::sqrt(s));
      for (size_t j = 0; j < d; ++j) v[j] *= inv;
    }
  }
  return buf.data();
}

float exact_dist(const float* q, const float* x, size_t d, Metric m) {
  float s = 0;
  if (m == Metric::L2) {
    for (size_t j = 0; j < d; ++j) {
      float t = q[j] - x[j];
      s += t * t;
    }
    return s;
  }
  for (size_t j = 0; j < d; ++j) s += q[j] * x[j];
  return -s;
}

// One run of stored vectors: the whole collection, or one IVF list.
struct List {
  size_t n = 0;
  std::span<const uint8_t> codes, refine;        // in the codec's storage layout / refine rows
  std::vector<uint8_t> codes_own, refine_own;    // backing when not memory-mapped
  std::vector<int64_t> ids;                      // empty: ids are the positions (flat index only)
};

// Scores a run of codes (positions pos0, ...) for queries sc[0..nq) into top[0..nq):
// by the scanners' thresholded scan where they have one, else scan() and a filter.
void scan_into_topk(const CodeScanner* const* sc, size_t nq, const uint8_t* codes, size_t n, uint64_t pos0,
                    TopK* top, std::vector<float>& d) {
  ScanSink* sinks[kScanGroup];
  for (size_t i = 0; i < nq;) {
    size_t g = std::min(nq - i, kScanGroup);
    for (size_t j = 0; j < g; ++j) sinks[j] = &top[i + j];
    size_t done = sc[i]->scan_topk(sc + i, g, codes, n, pos0, sinks);
    if (done == 0) {
      sc[i]->scan(codes, n, d.data());
      top[i].add(d.data(), n, pos0);
      done = 1;
    }
    i += done;
  }
}

class Index final : public VectorIndex {
 public:
  Index(size_t dim, Metric metric, size_t nlist, std::unique_ptr<VectorCodec> codec, std::string refine,
        uint64_t seed, int threads, bool progress)
      : dim_(dim),
        metric_(metric),
        nlist_(nlist),
        codec_(std::move(codec)),
        refine_(std::move(refine)),
        refine_es_(refine_elem_size(refine_)),
        seed_(seed),
        threads_(threads),
        progress_(progress),
        lists_(nlist ? nlist : 1) {
    trained_ = nlist_ == 0 && !codec_->needs_training();
  }

  void train(const float* x, size_t n) override;
  void add(const float* x, size_t n, const int64_t* ids) override;
  void search(const float* q, size_t nq, const SearchParams& p, int64_t* ids, float* dist) const override;
  void reconstruct(int64_t id, float* out) const override;

  size_t dim() const override { return dim_; }
  size_t size() const override { return count_; }
  Metric metric() const override { return metric_; }
  std::string codec_spec() const override {
    return (nlist_ ? "ivf" + std::to_string(nlist_) + "," : std::string()) + codec_->spec();
  }
  size_t bytes_per_vector() const override { return codec_->code_size(); }
  const VectorCodec& codec() const override { return *codec_; }
  void save(const std::string& path, bool force) const override;

  static std::unique_ptr<VectorIndex> open(const std::string& path);

 private:
  size_t stored_bytes(size_t n) const {
    size_t bs = codec_->block_size();
    return (n + bs - 1) / bs * bs * codec_->code_size();
  }
  void append(List& l, const uint8_t* rows, const uint8_t* refine, size_t m, const int64_t* ids);
  std::vector<uint64_t> list_starts() const;
  void search_flat(const float* q, size_t nq, size_t kk, int threads, std::vector<std::vector<Candidate>>& out) const;
  void search_ivf(const float* q, size_t nq, size_t kk, size_t nprobe, int threads,
                  std::vector<std::vector<Candidate>>& out) const;
  void rerank(const float* q, std::vector<Candidate>& cands, const std::vector<uint64_t>& starts) const;
  std::pair<size_t, size_t> locate(uint64_t pos, const std::vector<uint64_t>& starts) const;

  size_t dim_;
  Metric metric_;
  size_t nlist_;
  std::unique_ptr<VectorCodec> codec_;
  std::string refine_;
  size_t refine_es_;
  uint64_t seed_;
  int threads_;
  bool progress_;
  bool trained_ = false;
  size_t count_ = 0;
  std::vector<float> centroids_;  // nlist × dim
  std::vector<List> lists_;       // one for a flat index
  std::shared_ptr<ContainerReader> file_;  // keeps memory-mapped lists valid
};

void Index::train(const float* x, size_t n) {
  if (n == 0) fail_msg("cannot train on an empty collection");
  if (count_ > 0) fail_msg("the index already holds {} vectors; train it before adding", count_);
  std::vector<float> buf;
  const float* xs = prepare(x, n, dim_, metric_, buf);
  if (nlist_) {
    if (n < nlist_) fail_msg("ivf{}: {} training vectors, need at least one per list", nlist_, n);
    Progress pr("training ivf", 1, progress_);
    centroids_ = kmeans(xs, n, dim_, nlist_, kKmeansIters, seed_, threads_);
    pr.add(1);
  }
  if (codec_->needs_training()) {
    Progress pr("training " + codec_->spec(), 1, progress_);
    codec_->train(xs, n, codec_metric(metric_), seed_);
    pr.add(1);
  }
  trained_ = true;
}

void Index::append(List& l, const uint8_t* rows, const uint8_t* refine, size_t m, const int64_t* ids) {
  const size_t bs = codec_->block_size(), cs = codec_->code_size();
  if (l.codes.data() != l.codes_own.data() || l.codes.size() != l.codes_own.size())
    l.codes_own.assign(l.codes.begin(), l.codes.end());
  if (refine_es_ && (l.refine.data() != l.refine_own.data() || l.refine.size() != l.refine_own.size()))
    l.refine_own.assign(l.refine.begin(), l.refine.end());

  // A partly filled last block is unpacked and packed again with the new rows.
  size_t full = l.n / bs * bs, partial = l.n - full;
  std::vector<uint8_t> tail((partial + m) * cs);
  if (partial) codec_->unpack(l.codes_own.data(), full, partial, tail.data());
  std::memcpy(tail.data() + partial * cs, rows, m * cs);
  l.codes_own.resize(full * cs);
  l.codes_own.resize(stored_bytes(l.n + m), 0);
  codec_->pack(tail.data(), partial + m, l.codes_own.data() + full * cs);
  l.codes = l.codes_own;

  if (refine_es_) {
    l.refine_own.insert(l.refine_own.end(), refine, refine + m * dim_ * refine_es_);
    l.refine = l.refine_own;
  }
  if (ids) {
    if (l.ids.empty() && l.n > 0) {  // identity so far: write it out
      l.ids.resize(l.n);
      std::iota(l.ids.begin(), l.ids.end(), int64_t{0});
    }
    l.ids.insert(l.ids.end(), ids, ids + m);
  }
  l.n += m;
}

void Index::add(const float* x, size_t n, const int64_t* ids) {
  if (!trained_) fail_msg("the index is not trained ({} needs training)", codec_spec());
  if (n == 0) return;
  for (size_t i = 0; i < n * dim_; ++i)
    if (!std::isfinite(x[i])) fail_msg("vector {} has a NaN or infinite component", i / dim_);
  std::vector<float> buf;
  const float* xs = prepare(x, n, dim_, metric_, buf);
  const size_t cs = codec_->code_size();

  Progress pr("encoding", n, progress_);
  std::vector<uint8_t> codes(n * cs);
  std::vector<uint8_t> refine(n * dim_ * refine_es_);
  size_t blocks = (n + kEncodeRows - 1) / kEncodeRows;
  parallel_for(blocks, threads_, [&](size_t b) {
    size_t i0 = b * kEncodeRows, m = std::min(kEncodeRows, n - i0);
    codec_->encode(xs + i0 * dim_, m, codes.data() + i0 * cs);
    if (refine_es_ == 4) {
      std::memcpy(refine.data() + i0 * dim_ * 4, xs + i0 * dim_, m * dim_ * 4);
    } else if (refine_es_ == 2) {
      auto* h = reinterpret_cast<uint16_t*>(refine.data()) + i0 * dim_;
      for (size_t j = 0; j < m * dim_; ++j) h[j] = float_to_f16(xs[i0 * dim_ + j]);
    }
    pr.add(m);
  });

  // Ids continue the row numbers unless given; an IVF index always stores them.
  std::vector<int64_t> id_buf;
  if (!ids && (nlist_ || !lists_[0].ids.empty())) {
    id_buf.resize(n);
    std::iota(id_buf.begin(), id_buf.end(), int64_t(count_));
    ids = id_buf.data();
  }

  if (!nlist_) {
    append(lists_[0], codes.data(), refine.data(), n, ids);
  } else {
    std::vector<uint32_t> assign(n);
    assign_nearest(xs, n, centroids_.data(), nlist_, dim_, assign.data(), threads_);
    // Group the rows by list (stable, so each list keeps the input order).
    std::vector<size_t> start(nlist_ + 1, 0);
    for (uint32_t a : assign) ++start[a + 1];
    for (size_t l = 0; l < nlist_; ++l) start[l + 1] += start[l];
    std::vector<size_t> order(n), fill(start.begin(), start.end() - 1);
    for (size_t i = 0; i < n; ++i) order[fill[assign[i]]++] = i;
    const size_t rs = dim_ * refine_es_;
    parallel_for(nlist_, threads_, [&](size_t l) {
      size_t m = start[l + 1] - start[l];
      if (m == 0) return;
      std::vector<uint8_t> c(m * cs), r(m * rs);
      std::vector<int64_t> li(m);
      for (size_t j = 0; j < m; ++j) {
        size_t i = order[start[l] + j];
        std::memcpy(c.data() + j * cs, codes.data() + i * cs, cs);
        if (rs) std::memcpy(r.data() + j * rs, refine.data() + i * rs, rs);
        li[j] = ids[i];
      }
      append(lists_[l], c.data(), r.data(), m, li.data());
    });
  }
  count_ += n;
}

std::vector<uint64_t> Index::list_starts() const {
  std::vector<uint64_t> s(lists_.size() + 1, 0);
  for (size_t l = 0; l < lists_.size(); ++l) s[l + 1] = s[l] + lists_[l].n;
  return s;
}

std::pair<size_t, size_t> Index::locate(uint64_t pos, const std::vector<uint64_t>& starts) const {
  size_t l = size_t(std::upper_bound(starts.begin(), starts.end(), pos) - starts.begin()) - 1;
  return {l, size_t(pos - starts[l])};
}

void Index::search_flat(const float* q, size_t nq, size_t kk, int threads,
                        std::vector<std::vector<Candidate>>& out) const {
  const List& l = lists_[0];
  const size_t bs = codec_->block_size(), cs = codec_->code_size(), n = l.n;
  const size_t block = std::max<size_t>(1, kBlockBytes / (cs * bs)) * bs;
  const size_t nblocks = (n + block - 1) / block;
  const size_t t = size_t(resolve_threads(threads));
  // Many queries: threads take groups of queries over the whole collection. Few
  // queries: the collection is also cut into segments, merged afterwards.
  const size_t nseg = (t == 1 || nq >= 2 * t) ? 1 : std::min(t, nblocks);
  const size_t group = std::clamp<size_t>((nq + t - 1) / t, 1, kMaxQueryGroup);
  const size_t ngroups = (nq + group - 1) / group;
  const size_t seg_blocks = (nblocks + nseg - 1) / nseg;

  std::vector<std::vector<Candidate>> part(nq * nseg);
  parallel_for(ngroups * nseg, threads, [&](size_t task) {
    size_t g = task / nseg, s = task % nseg;
    size_t q0 = g * group, gq = std::min(group, nq - q0);
    std::vector<std::unique_ptr<CodeScanner>> sc(gq);
    std::vector<const CodeScanner*> scp(gq);
    std::vector<TopK> top(gq, TopK(kk));
    for (size_t i = 0; i < gq; ++i) {
      sc[i] = codec_->scanner(q + (q0 + i) * dim_, codec_metric(metric_));
      scp[i] = sc[i].get();
    }
    std::vector<float> d(block);
    size_t b_end = std::min(nblocks, (s + 1) * seg_blocks);
    for (size_t b = s * seg_blocks; b < b_end; ++b) {
      size_t p0 = b * block, m = std::min(block, n - p0);
      scan_into_topk(scp.data(), gq, l.codes.data() + p0 * cs, m, p0, top.data(), d);
    }
    for (size_t i = 0; i < gq; ++i) part[(q0 + i) * nseg + s] = top[i].take_sorted();
  });
  for (size_t i = 0; i < nq; ++i) {
    if (nseg == 1) {
      out[i] = std::move(part[i]);
      continue;
    }
    std::vector<Candidate> all;
    for (size_t s = 0; s < nseg; ++s) all.insert(all.end(), part[i * nseg + s].begin(), part[i * nseg + s].end());
    size_t keep = std::min(kk, all.size());
    std::partial_sort(all.begin(), all.begin() + keep, all.end());
    all.resize(keep);
    out[i] = std::move(all);
  }
}

void Index::search_ivf(const float* q, size_t nq, size_t kk, size_t nprobe, int threads,
                       std::vector<std::vector<Candidate>>& out) const {
  const size_t bs = codec_->block_size(), cs = codec_->code_size();
  const size_t block = std::max<size_t>(1, kBlockBytes / (cs * bs)) * bs;
  nprobe = std::clamp<size_t>(nprobe, 1, nlist_);
  // Lists are chosen by squared L2 to the centroids, as vectors were assigned:
  // |c|^2 - 2 q.c orders them (|q|^2 is the same for every list).
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> C(centroids_.data(), Eigen::Index(nlist_), Eigen::Index(dim_));
  Eigen::VectorXf cnorm = C.rowwise().squaredNorm();
  const std::vector<uint64_t> starts = list_starts();
  parallel_for(nq, threads, [&](size_t i) {
    Eigen::Map<const Eigen::VectorXf> qv(q + i * dim_, Eigen::Index(dim_));
    Eigen::VectorXf cd = cnorm - 2.0f * (C * qv);
    std::vector<uint32_t> lists(nlist_);
    std::iota(lists.begin(), lists.end(), 0u);
    std::partial_sort(lists.begin(), lists.begin() + nprobe, lists.end(),
                      [&](uint32_t a, uint32_t b) { return cd[a] < cd[b] || (cd[a] == cd[b] && a < b); });
    auto sc = codec_->scanner(q + i * dim_, codec_metric(metric_));
    const CodeScanner* scp = sc.get();
    TopK top(kk);
    std::vector<float> d(block);
    for (size_t j = 0; j < nprobe; ++j) {
      const List& l = lists_[lists[j]];
      for (size_t p0 = 0; p0 < l.n; p0 += block)
        scan_into_topk(&scp, 1, l.codes.data() + p0 * cs, std::min(block, l.n - p0), starts[lists[j]] + p0, &top, d);
    }
    out[i] = top.take_sorted();
  });
}

void Index::rerank(const float* q, std::vector<Candidate>& cands, const std::vector<uint64_t>& starts) const {
  std::vector<float> x(dim_);
  for (auto& c : cands) {
    auto [li, j] = locate(c.pos, starts);
    const uint8_t* r = lists_[li].refine.data() + j * dim_ * refine_es_;
    if (refine_es_ == 4) {
      std::memcpy(x.data(), r, dim_ * 4);
    } else {
      for (size_t t = 0; t < dim_; ++t) {
        uint16_t h;
        std::memcpy(&h, r + 2 * t, 2);
        x[t] = f16_to_float(h);
      }
    }
    c.dist = exact_dist(q, x.data(), dim_, metric_);
  }
  std::sort(cands.begin(), cands.end());
}

void Index::search(const float* q, size_t nq, const SearchParams& p, int64_t* ids, float* dist) const {
  if (p.k == 0) fail_msg("k must be at least 1");
  if (p.rerank && !refine_es_)
    fail_msg("re-ranking needs a refine copy; this index was built without one (index --refine f16|f32)");
  if (nq == 0) return;
  std::vector<float> buf;
  const float* qs = prepare(q, nq, dim_, metric_, buf);
  const size_t kk = std::max(p.k, p.rerank);
  std::vector<std::vector<Candidate>> res(nq);
  if (count_ > 0) {
    if (nlist_)
      search_ivf(qs, nq, kk, p.nprobe, p.threads, res);
    else
      search_flat(qs, nq, kk, p.threads, res);
  }
  const std::vector<uint64_t> starts = list_starts();
  const float missing = metric_ == Metric::L2 ? std::numeric_limits<float>::infinity()
                                              : -std::numeric_limits<float>::infinity();
  parallel_for(nq, p.threads, [&](size_t i) {
    auto& c = res[i];
    if (p.rerank) rerank(qs + i * dim_, c, starts);
    for (size_t j = 0; j < p.k; ++j) {
      if (j >= c.size()) {
        ids[i * p.k + j] = -1;
        dist[i * p.k + j] = missing;
        continue;
      }
      auto [li, pos] = locate(c[j].pos, starts);
      ids[i * p.k + j] = lists_[li].ids.empty() ? int64_t(pos) : lists_[li].ids[pos];
      dist[i * p.k + j] = metric_ == Metric::L2 ? c[j].dist : -c[j].dist;
    }
  });
}

void Index::reconstruct(int64_t id, float* out) const {
  for (const List& l : lists_) {
    size_t j = l.n;
    if (l.ids.empty()) {
      if (id >= 0 && uint64_t(id) < l.n) j = size_t(id);
    } else {
      j = size_t(std::find(l.ids.begin(), l.ids.end(), id) - l.ids.begin());
    }
    if (j < l.n) {
      std::vector<uint8_t> row(codec_->code_size());
      codec_->unpack(l.codes.data(), j, 1, row.data());
      codec_->decode(row.data(), 1, out);
      return;
    }
  }
  fail_msg("id {} is not in the index", id);
}

void write_section(ContainerWriter& w, uint16_t kind, const std::string& name, std::span<const uint8_t> raw) {
  w.begin_section(kind, kSectionRequired, name, {});
  if (!raw.empty()) w.add_stored(raw);
  w.end_section(xxh64(raw));
}

template <typename T>
std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

void Index::save(const std::string& path, bool force) const {
  if (!trained_) fail_msg("{}: the index is not trained", path);
  nlohmann::json h = {
      {"version", fmtx::kVersion},
      {"codec", codec_spec()},
      {"metric", metric_name(metric_)},
      {"dim", dim_},
      {"count", count_},
      {"code_size", codec_->code_size()},
      {"block_size", codec_->block_size()},
      {"bytes_per_vector", bytes_per_vector()},
      {"refine", refine_},
      {"ivf_nlist", nlist_},
  };
  ContainerWriter w(path, force);
  std::string hs = h.dump(1);
  write_section(w, fmtx::kHeader, "vector_index", {reinterpret_cast<const uint8_t*>(hs.data()), hs.size()});
  ByteWriter cw;
  codec_->save(cw);
  write_section(w, fmtx::kCodecParams, "codec", cw.buf());

  auto concat = [&](auto member) {
    std::vector<uint8_t> all;
    for (const List& l : lists_) {
      std::span<const uint8_t> s = l.*member;
      all.insert(all.end(), s.begin(), s.end());
    }
    return all;
  };
  if (lists_.size() == 1) {
    write_section(w, fmtx::kCodes, "codes", lists_[0].codes);
  } else {
    write_section(w, fmtx::kCodes, "codes", concat(&List::codes));
  }
  bool has_ids = std::any_of(lists_.begin(), lists_.end(), [](const List& l) { return !l.ids.empty(); });
  if (has_ids) {
    std::vector<int64_t> all;
    for (const List& l : lists_) all.insert(all.end(), l.ids.begin(), l.ids.end());
    write_section(w, fmtx::kIds, "ids", as_bytes(all));
  }
  if (refine_es_) {
    if (lists_.size() == 1)
      write_section(w, fmtx::kRefine, "refine", lists_[0].refine);
    else
      write_section(w, fmtx::kRefine, "refine", concat(&List::refine));
  }
  if (nlist_) {
    ByteWriter iw;
    iw.bytes(centroids_.data(), centroids_.size() * sizeof(float));
    for (const List& l : lists_) iw.u64(l.n);
    write_section(w, fmtx::kIvf, "ivf", iw.buf());
  }
  w.finish();
}

std::unique_ptr<VectorIndex> Index::open(const std::string& path) {
  auto file = std::make_shared<ContainerReader>(path);
  const ContainerReader& r = *file;
  nlohmann::json h = fmtx::read_header(r);
  std::string metric = h["metric"];
  if (metric != "ip" && metric != "cos" && metric != "l2") fail(path, "vector index header: unknown metric '{}'", metric);
  uint64_t dim = h["dim"], count = h["count"];
  if (dim < 1 || dim > (1u << 20)) fail(path, "vector index header: dimension {} out of range", dim);
  // Every vector takes at least one byte of the file, which bounds all size products below.
  if (count > r.file_size()) fail(path, "vector index header: count {} exceeds the file size", count);
  std::string refine = h["refine"];
  Spec spec;
  std::unique_ptr<VectorCodec> codec;
  size_t refine_es;
  try {
    spec = parse_spec(h["codec"]);
    refine_es = refine_elem_size(refine);
    const SectionInfo* cp = fmtx::find_kind(r, fmtx::kCodecParams);
    if (!cp) fail(path, "vector index has no codec parameters (section kind {})", int(fmtx::kCodecParams));
    if (cp->raw_size > r.file_size()) fail(path, "codec parameters claim {} bytes, more than the file", cp->raw_size);
    std::vector<uint8_t> params = r.read_section(*cp, 1);
    ByteReader br(params, path + ": codec parameters");
    codec = load_codec(spec.codec, dim, br);
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.rfind(path, 0) == 0) throw;
    fail(path, "{}", m);
  }
  if (spec.nlist != h["ivf_nlist"].get<uint64_t>()) fail(path, "vector index header: ivf_nlist disagrees with the codec");
  if (codec->code_size() != h["code_size"].get<uint64_t>())
    fail(path, "vector index header: code_size {} but codec {} has {}", h["code_size"].get<uint64_t>(), codec->spec(),
         codec->code_size());

  auto idx = std::make_unique<Index>(dim, metric_from_name(metric), spec.nlist, std::move(codec), refine, 0, 0, false);
  idx->file_ = file;
  idx->trained_ = true;
  idx->count_ = count;
  const size_t nl = idx->lists_.size();

  if (spec.nlist) {
    const SectionInfo* s = fmtx::find_kind(r, fmtx::kIvf);
    if (!s) fail(path, "IVF index has no list section (kind {})", int(fmtx::kIvf));
    uint64_t want = uint64_t(nl) * dim * 4 + uint64_t(nl) * 8;
    if (s->raw_size != want) fail(path, "IVF section holds {} bytes, expected {}", s->raw_size, want);
    std::vector<uint8_t> b = r.read_section(*s, 1);
    idx->centroids_.resize(nl * dim);
    std::memcpy(idx->centroids_.data(), b.data(), nl * dim * 4);
    ByteReader br(std::span<const uint8_t>(b).subspan(nl * dim * 4), path + ": IVF list sizes");
    uint64_t total = 0;
    for (auto& l : idx->lists_) {
      l.n = br.u64("list size");
      if (l.n > count) fail(path, "IVF list of {} vectors in an index of {}", l.n, count);
      total += l.n;
    }
    if (total != count) fail(path, "IVF lists hold {} vectors, header says {}", total, count);
  } else {
    idx->lists_[0].n = count;
  }

  // Codes and the refine copy are used in place when stored uncompressed.
  auto bind = [&](uint16_t kind, const char* what, uint64_t want, auto per_list_bytes, auto span_of, auto own_of) {
    const SectionInfo* s = fmtx::find_kind(r, kind);
    if (!s) {
      if (want == 0) return;
      fail(path, "vector index has no {} section (kind {})", what, kind);
    }
    if (s->raw_size != want) fail(path, "{} section holds {} bytes, expected {}", what, s->raw_size, want);
    std::span<const uint8_t> all = r.mapped(*s);
    if (all.size() != want) {
      auto& own = own_of(idx->lists_[0]);
      own = r.read_section(*s, 0);
      all = own;
      if (nl > 1) {  // per-list copies so each list owns its bytes
        auto data = std::move(own);
        size_t off = 0;
        for (auto& l : idx->lists_) {
          size_t b = per_list_bytes(l.n);
          own_of(l).assign(data.begin() + off, data.begin() + off + b);
          span_of(l) = own_of(l);
          off += b;
        }
        return;
      }
    }
    size_t off = 0;
    for (auto& l : idx->lists_) {
      size_t b = per_list_bytes(l.n);
      span_of(l) = all.subspan(off, b);
      off += b;
    }
  };
  auto code_bytes = [&](size_t n) { return idx->stored_bytes(n); };
  uint64_t codes_want = 0;
  for (auto& l : idx->lists_) codes_want += code_bytes(l.n);
  bind(fmtx::kCodes, "codes", codes_want, code_bytes, [](List& l) -> std::span<const uint8_t>& { return l.codes; },
       [](List& l) -> std::vector<uint8_t>& { return l.codes_own; });
  if (refine_es) {
    auto rb = [&](size_t n) { return n * dim * refine_es; };
    bind(fmtx::kRefine, "refine", count * dim * refine_es, rb,
         [](List& l) -> std::span<const uint8_t>& { return l.refine; },
         [](List& l) -> std::vector<uint8_t>& { return l.refine_own; });
  }

  const SectionInfo* is = fmtx::find_kind(r, fmtx::kIds);
  if (is) {
    if (is->raw_size != count * 8) fail(path, "ids section holds {} bytes, expected {}", is->raw_size, count * 8);
    std::vector<uint8_t> b = r.read_section(*is, 0);
    size_t off = 0;
    for (auto& l : idx->lists_) {
      l.ids.resize(l.n);
      std::memcpy(l.ids.data(), b.data() + off, l.n * 8);
      off += l.n * 8;
    }
  } else if (spec.nlist && count > 0) {
    fail(path, "IVF index has no ids section (kind {})", int(fmtx::kIds));
  }
  return idx;
}

}  // namespace

std::unique_ptr<VectorIndex> VectorIndex::create(size_t dim, const IndexOptions& opt) {
  if (dim == 0) fail_msg("vectors of dimension 0");
  Spec spec = parse_spec(opt.codec);
  auto codec = make_codec(spec.codec, dim);
  return std::make_unique<Index>(dim, opt.metric, spec.nlist, std::move(codec), opt.refine, opt.seed, opt.threads,
                                 opt.progress);
}

std::unique_ptr<VectorIndex> VectorIndex::open(const std::string& path) { return Index::open(path); }

}  // namespace pith
