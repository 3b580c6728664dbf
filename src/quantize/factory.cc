// The factory grammar: zero or more transforms, then exactly one quantizer,
// comma-separated ("rot,sq8", "pca128,rabitq2", "opq32,pq32x8").
#include <algorithm>
#include <charconv>
#include <optional>

#include "common/error.h"
#include "quantize/codec.h"
#include "quantize/pq.h"
#include "quantize/rabitq.h"
#include "quantize/scalar.h"
#include "transform/opq.h"
#include "transform/transforms.h"

namespace pith {

namespace {

class ChainScanner final : public CodeScanner {
 public:
  ChainScanner(std::vector<float> q, const VectorCodec& inner, Metric metric)
      : q_(std::move(q)), inner_(inner.scanner(q_.data(), metric)) {}
  void scan(const uint8_t* codes, size_t n, float* dist) const override { inner_->scan(codes, n, dist); }

 private:
  std::vector<float> q_;  // the transformed query, kept alive for the inner scanner
  std::unique_ptr<CodeScanner> inner_;
};

// Transforms applied in order, then the quantizer on the last transform's output.
class ChainCodec final : public VectorCodec {
 public:
  ChainCodec(std::vector<std::unique_ptr<Transform>> t, std::unique_ptr<VectorCodec> q)
      : t_(std::move(t)), q_(std::move(q)) {}

  std::string spec() const override {
    std::string s;
    for (const auto& t : t_) s += t->spec() + ",";
    return s + q_->spec();
  }
  size_t dim() const override { return t_.front()->dim_in(); }
  size_t code_size() const override { return q_->code_size(); }
  bool needs_training() const override {
    return q_->needs_training() || std::any_of(t_.begin(), t_.end(), [](const auto& t) { return t->needs_training(); });
  }
  void train(const float* x, size_t n, Metric metric, uint64_t seed) override {
    std::vector<float> cur, next;
    const float* p = x;
    for (size_t i = 0; i < t_.size(); ++i) {
      // distinct seeds: "rot,rabitq" must not use the same rotation twice
      t_[i]->train(p, n, seed + 1 + i);
      next.resize(n * t_[i]->dim_out());
      t_[i]->apply(p, n, next.data());
      cur.swap(next);
      p = cur.data();
    }
    q_->train(p, n, metric, seed);
  }
  void encode(const float* x, size_t n, uint8_t* codes) const override {
    std::vector<float> buf;
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      size_t m = std::min(kBlock, n - i0);
      q_->encode(forward(x + i0 * dim(), m, buf), m, codes + i0 * code_size());
    }
  }
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    std::vector<float> a, b;
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      size_t m = std::min(kBlock, n - i0);
      a.resize(m * q_->dim());
      q_->decode(codes + i0 * code_size(), m, a.data());
      for (size_t i = t_.size(); i-- > 0;) {
        b.resize(m * t_[i]->dim_in());
        t_[i]->reverse(a.data(), m, b.data());
        a.swap(b);
      }
      std::copy(a.begin(), a.end(), x + i0 * dim());
    }
  }
  size_t block_size() const override { return q_->block_size(); }
  void pack(const uint8_t* row_codes, size_t n, uint8_t* stored) const override { q_->pack(row_codes, n, stored); }
  void unpack(const uint8_t* stored, size_t first, size_t n, uint8_t* row_codes) const override {
    q_->unpack(stored, first, n, row_codes);
  }
  std::unique_ptr<CodeScanner> scanner(const float* query, Metric metric) const override {
    std::vector<float> buf;
    const float* q = forward(query, 1, buf);
    return std::make_unique<ChainScanner>(std::vector<float>(q, q + q_->dim()), *q_, metric);
  }
  void save(ByteWriter& w) const override {
    for (const auto& t : t_) t->save(w);
    q_->save(w);
  }
  void load(ByteReader& r) override {
    for (auto& t : t_) t->load(r);
    q_->load(r);
  }

 private:
  static constexpr size_t kBlock = 4096;

  // Runs n vectors through all transforms; the result lives in buf.
  const float* forward(const float* x, size_t n, std::vector<float>& buf) const {
    std::vector<float> tmp;
    const float* p = x;
    for (const auto& t : t_) {
      tmp.resize(n * t->dim_out());
      t->apply(p, n, tmp.data());
      buf.swap(tmp);
      p = buf.data();
    }
    return p;
  }

  std::vector<std::unique_ptr<Transform>> t_;
  std::unique_ptr<VectorCodec> q_;
};

// "pca128" with prefix "pca" -> 128; nullopt when the rest is not a plain number.
std::optional<size_t> number_after(std::string_view tok, std::string_view prefix) {
  if (!tok.starts_with(prefix) || tok.size() == prefix.size()) return std::nullopt;
  size_t v = 0;
  auto rest = tok.substr(prefix.size());
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (ec != std::errc() || p != rest.data() + rest.size()) return std::nullopt;
  return v;
}

std::string valid_tokens() {
  std::string s;
  for (const auto& [tok, help] : codec_tokens()) s += (s.empty() ? "" : ", ") + tok;
  return s;
}

std::unique_ptr<Transform> parse_transform(std::string_view tok, size_t dim) {
  if (tok == "rot") return make_rotation(dim);
  if (auto n = number_after(tok, "pca")) return make_pca(dim, *n);
  if (auto n = number_after(tok, "trunc")) return make_trunc(dim, *n);
  if (auto m = number_after(tok, "opq")) return make_opq(dim, *m);
  return nullptr;
}

std::unique_ptr<VectorCodec> parse_quantizer(std::string_view tok, size_t dim) {
  if (tok == "f16" || tok == "bf16") return make_half(dim, tok == "bf16");
  if (auto b = number_after(tok, "sq")) return make_sq(dim, static_cast<int>(std::min<size_t>(*b, 64)));
  if (tok.starts_with("rabitq")) {  // rabitq[N][cK]
    std::string_view rest = tok.substr(6);
    size_t bits = 1, centres = 1;
    const char* p = rest.data();
    const char* end = p + rest.size();
    if (p != end && *p != 'c') p = std::from_chars(p, end, bits).ptr;
    if (p != end && *p == 'c') {
      auto [q, ec] = std::from_chars(p + 1, end, centres);
      p = ec == std::errc() ? q : nullptr;
    }
    if (p == end) return make_rabitq(dim, static_cast<int>(std::min<size_t>(bits, 64)), centres);
  }
  if (tok.starts_with("pq")) {
    std::string_view rest = tok.substr(2);
    int nbits = 8;
    bool fastscan = false;
    if (rest.ends_with("x4fs")) {
      nbits = 4;
      fastscan = true;
      rest.remove_suffix(4);
    } else if (rest.ends_with("x8")) {
      rest.remove_suffix(2);
    }
    size_t m = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), m);
    if (ec == std::errc() && p == rest.data() + rest.size() && !rest.empty()) return make_pq(dim, m, nbits, fastscan);
  }
  return nullptr;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> codec_tokens() {
  return {
      {"rot", "transform: random orthogonal rotation (seeded)"},
      {"pcaN", "transform: project on the N leading principal components"},
      {"truncN", "transform: keep the first N dimensions (Matryoshka embeddings)"},
      {"opqM", "transform: OPQ rotation trained for an M-subspace PQ"},
      {"f16", "quantizer: IEEE half precision, 2 bytes per dimension"},
      {"bf16", "quantizer: bfloat16, 2 bytes per dimension"},
      {"sq8", "quantizer: 8-bit scalar quantization, trained range per dimension"},
      {"sq4", "quantizer: 4-bit scalar quantization"},
      {"sq2", "quantizer: 2-bit scalar quantization"},
      {"rabitq", "quantizer: RaBitQ, 1 bit per dimension + 8 bytes"},
      {"rabitqN", "quantizer: extended RaBitQ, N = 2..8 bits per dimension + 8 bytes"},
      {"rabitq[N]cK", "quantizer: RaBitQ around the nearest of K k-means centres (+2 bytes)"},
      {"pqMx8", "quantizer: product quantization, M sub-vectors of 8 bits (also pqM)"},
      {"pqMx4fs", "quantizer: product quantization, M sub-vectors of 4 bits, fast scan"},
  };
}

std::unique_ptr<VectorCodec> make_codec(const std::string& spec, size_t dim) {
  if (dim == 0) fail_msg("codec '{}': vector dimension is 0", spec);
  std::vector<std::string_view> toks;
  for (size_t a = 0;;) {
    size_t b = spec.find(',', a);
    toks.push_back(std::string_view(spec).substr(a, b == std::string::npos ? std::string::npos : b - a));
    if (b == std::string::npos) break;
    a = b + 1;
  }
  std::vector<std::unique_ptr<Transform>> transforms;
  size_t d = dim;
  for (size_t i = 0; i < toks.size(); ++i) {
    const bool last = i + 1 == toks.size();
    if (toks[i].empty()) fail_msg("codec '{}': empty token; valid tokens: {}", spec, valid_tokens());
    if (auto t = parse_transform(toks[i], d)) {
      if (last) fail_msg("codec '{}' ends with the transform '{}': the last token must be a quantizer", spec, toks[i]);
      d = t->dim_out();
      transforms.push_back(std::move(t));
      continue;
    }
    if (auto q = parse_quantizer(toks[i], d)) {
      if (!last) fail_msg("codec '{}': the quantizer '{}' must be the last token", spec, toks[i]);
      if (transforms.empty()) return q;
      return std::make_unique<ChainCodec>(std::move(transforms), std::move(q));
    }
    fail_msg("codec '{}': unknown token '{}'; valid tokens: {}", spec, toks[i], valid_tokens());
  }
  fail_msg("codec '{}' has no quantizer", spec);  // unreachable: the loop returns or throws
}

std::unique_ptr<VectorCodec> load_codec(const std::string& spec, size_t dim, ByteReader& r) {
  auto c = make_codec(spec, dim);
  c->load(r);
  return c;
}

}  // namespace pith
