// Factory grammar, round trips and estimators of the transform/SQ/half/RaBitQ codecs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "quantize/codec.h"

using namespace pith;

namespace {
std::vector<float> gaussian(size_t n, size_t d, uint64_t seed, float offset = 0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n * d);
  for (size_t i = 0; i < v.size(); ++i) v[i] = nd(g) + offset * static_cast<float>(i % d % 3);
  return v;
}
// Codes in the codec's storage layout (blocks for RaBitQ), ready to scan.
std::vector<uint8_t> stored_codes(const VectorCodec& c, const float* x, size_t n) {
  std::vector<uint8_t> rows(n * c.code_size());
  c.encode(x, n, rows.data());
  const size_t bs = c.block_size();
  std::vector<uint8_t> stored((n + bs - 1) / bs * bs * c.code_size());
  c.pack(rows.data(), n, stored.data());
  return stored;
}
std::string error_of(const std::string& spec, size_t dim) {
  try {
    make_codec(spec, dim);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Metric, Names) {
  for (Metric m : {Metric::IP, Metric::COS, Metric::L2}) EXPECT_EQ(metric_from_name(metric_name(m)), m);
  EXPECT_THROW(metric_from_name("dot"), Error);
}

TEST(Factory, SpecsAndSizes) {
  struct Case {
    const char* spec;
    size_t dim, code_size;
    const char* canonical;
  } cases[] = {
      {"f16", 300, 600, "f16"},          {"bf16", 128, 256, "bf16"},
      {"sq8", 300, 300, "sq8"},          {"sq4", 300, 150, "sq4"},
      {"sq2", 301, 76, "sq2"},           {"rot,sq4", 128, 64, "rot,sq4"},
      {"pca128,sq8", 300, 128, "pca128,sq8"}, {"trunc256,f16", 300, 512, "trunc256,f16"},
      {"rabitq", 300, 48, "rabitq"},     {"rabitq1", 128, 24, "rabitq"},
      {"rabitq3", 300, 128, "rabitq3"},  {"rabitq8", 128, 136, "rabitq8"},
      {"pca192,rabitq2", 300, 56, "pca192,rabitq2"},
      {"rabitq2c256", 300, 90, "rabitq2c256"}, {"rabitq1c16", 128, 26, "rabitqc16"},
  };
  for (const auto& c : cases) {
    auto codec = make_codec(c.spec, c.dim);
    EXPECT_EQ(codec->spec(), c.canonical);
    EXPECT_EQ(codec->dim(), c.dim);
    EXPECT_EQ(codec->code_size(), c.code_size) << c.spec;
    EXPECT_EQ(codec->block_size(), std::string(c.canonical).find("rabitq") != std::string::npos ? 8u : 1u);
  }
}

// PQ and OPQ come from quantize/pq.h and transform/opq.h; the factory only parses.
TEST(Factory, ProductQuantizationTokens) {
  auto pq = make_codec("pq30", 300);
  EXPECT_EQ(pq->spec(), "pq30x8");
  EXPECT_EQ(pq->code_size(), 30u);
  auto fs = make_codec("opq30,pq30x4fs", 300);
  EXPECT_EQ(fs->spec(), "opq30,pq30x4fs");
  EXPECT_EQ(fs->code_size(), 15u);
  EXPECT_EQ(fs->block_size(), 32u);  // the chain exposes its quantizer's layout
  EXPECT_NE(error_of("pq48x8", 300).find("48 does not divide dimension 300"), std::string::npos);
  EXPECT_NE(error_of("pq32x4", 300).find("unknown token 'pq32x4'"), std::string::npos);
}

TEST(Factory, ErrorsNameTheProblem) {
  std::string e = error_of("rot,foo", 300);
  EXPECT_NE(e.find("unknown token 'foo'"), std::string::npos) << e;
  EXPECT_NE(e.find("rabitqN"), std::string::npos) << e;  // lists the valid tokens
  EXPECT_NE(error_of("pca512,sq8", 300).find("pca512: larger than dimension 300"), std::string::npos);
  EXPECT_NE(error_of("rot", 300).find("last token must be a quantizer"), std::string::npos);
  EXPECT_NE(error_of("sq8,rot", 300).find("must be the last token"), std::string::npos);
  EXPECT_NE(error_of("sq3", 300).find("2, 4 or 8"), std::string::npos);
  EXPECT_NE(error_of("rabitq9", 300).find("1 to 8"), std::string::npos);
  EXPECT_NE(error_of("rabitq2c0", 300).find("between 1 and 65536"), std::string::npos);
  EXPECT_NE(error_of("rabitq2c", 300).find("unknown token"), std::string::npos);
  EXPECT_NE(error_of("rabitqx", 300).find("unknown token"), std::string::npos);
  EXPECT_NE(error_of("rot,,sq8", 300).find("empty token"), std::string::npos);
  EXPECT_NE(error_of("", 300).find("empty token"), std::string::npos);
  EXPECT_NE(error_of("pcax,sq8", 300).find("unknown token 'pcax'"), std::string::npos);
  EXPECT_NE(error_of("sq8", 0).find("dimension is 0"), std::string::npos);
  for (const auto& [tok, help] : codec_tokens()) EXPECT_FALSE(help.empty()) << tok;
}

TEST(Codec, HalfRoundTripWithinRelativeBound) {
  const size_t d = 33, n = 40;
  auto x = gaussian(n, d, 1);
  for (auto [spec, rel] : {std::pair{"f16", 0x1.0p-11}, std::pair{"bf16", 0x1.0p-8}}) {
    auto c = make_codec(spec, d);
    std::vector<uint8_t> codes(n * c->code_size());
    std::vector<float> y(n * d);
    c->encode(x.data(), n, codes.data());
    c->decode(codes.data(), n, y.data());
    for (size_t i = 0; i < n * d; ++i) ASSERT_LE(std::fabs(y[i] - x[i]), rel * std::fabs(x[i]) + 1e-7) << spec;
  }
}

// decode of code 0 and of the largest code give each dimension's range; inside
// it the error is at most half a step, outside the value is clipped to the range.
TEST(Codec, SqRoundTripWithinHalfStep) {
  const size_t d = 37, n = 3000;
  auto x = gaussian(n, d, 2, 1.5f);
  for (int bits : {2, 4, 8}) {
    auto c = make_codec("sq" + std::to_string(bits), d);
    c->train(x.data(), n, Metric::L2, 1);
    const size_t cs = c->code_size();
    std::vector<uint8_t> lo_code(cs, 0), hi_code(cs, 0xFF), codes(n * cs);
    std::vector<float> lo(d), hi(d), y(n * d);
    c->decode(lo_code.data(), 1, lo.data());
    c->decode(hi_code.data(), 1, hi.data());
    c->encode(x.data(), n, codes.data());
    c->decode(codes.data(), n, y.data());
    size_t inside = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d; ++j) {
        float v = x[i * d + j], half = (hi[j] - lo[j]) / static_cast<float>((1 << bits) - 1) / 2;
        if (v < lo[j]) ASSERT_EQ(y[i * d + j], lo[j]);
        else if (v > hi[j]) ASSERT_NEAR(y[i * d + j], hi[j], 1e-5f);
        else {
          ++inside;
          ASSERT_LE(std::fabs(y[i * d + j] - v), half * 1.0001f + 1e-6f) << bits;
        }
      }
    EXPECT_GT(inside, n * d * 9 / 10);  // clipping only trims the tails
  }
}

// The scanner's distance equals the exact distance to the decoded vector for the
// codecs that scan the reconstruction (f16, bf16, sq), for both metrics.
TEST(Codec, ScannerMatchesDecodedDistance) {
  const size_t d = 45, n = 200;
  auto x = gaussian(n, d, 3, 0.5f);
  auto q = gaussian(1, d, 4);
  for (const char* spec : {"f16", "bf16", "sq8", "sq4", "sq2", "rot,sq4"})
    for (Metric m : {Metric::L2, Metric::IP}) {
      auto c = make_codec(spec, d);
      c->train(x.data(), n, m, 9);
      std::vector<uint8_t> codes(n * c->code_size());
      c->encode(x.data(), n, codes.data());
      std::vector<float> dist(n);
      c->scanner(q.data(), m)->scan(codes.data(), n, dist.data());
      // a rotation keeps distances, so "rot,sq4" compares in input space too
      std::vector<float> y(n * d);
      c->decode(codes.data(), n, y.data());
      for (size_t i = 0; i < n; ++i) {
        double s = 0;
        for (size_t j = 0; j < d; ++j)
          s += m == Metric::L2 ? (q[j] - y[i * d + j]) * (q[j] - y[i * d + j]) : -q[j] * y[i * d + j];
        ASSERT_NEAR(dist[i], s, 2e-3 * (1 + std::fabs(s))) << spec << " " << metric_name(m) << " " << i;
      }
    }
}

// RaBitQ's reconstruction r̂ = alpha·R⁻¹ȳ has ⟨r̂, r⟩ = |r|² and |r̂| = |r|/cos,
// so its error is |r|·tan (exactly so when no padding to a multiple of 64
// dimensions is involved); more bits give a larger cosine.
TEST(Codec, RabitqReconstructionCosine) {
  const size_t d = 128, n = 400;
  auto x = gaussian(n, d, 5, 2.f);
  std::vector<double> mean(d, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) mean[j] += x[i * d + j] / n;
  const double min_cos[] = {0, 0.78, 0.92, 0.975, 0.99, 0.997, 0.999, 0.9997, 0.9999};
  for (int bits = 1; bits <= 8; ++bits) {
    auto c = make_codec("rabitq" + std::to_string(bits), d);
    c->train(x.data(), n, Metric::L2, 3);
    std::vector<uint8_t> codes(n * c->code_size());
    std::vector<float> y(n * d);
    c->encode(x.data(), n, codes.data());
    c->decode(codes.data(), n, y.data());
    double cos_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      double r2 = 0, e2 = 0, p2 = 0;
      for (size_t j = 0; j < d; ++j) {
        r2 += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
        e2 += (x[i * d + j] - y[i * d + j]) * (x[i * d + j] - y[i * d + j]);
        p2 += (y[i * d + j] - mean[j]) * (y[i * d + j] - mean[j]);
      }
      double cs = std::sqrt(r2 / p2);  // |x̂ − c| = |r|/cos
      ASSERT_NEAR(e2, p2 - r2, 2e-3 * r2) << bits;
      cos_sum += cs;
    }
    EXPECT_GT(cos_sum / n, min_cos[bits]) << bits;
  }
}

// Over random rotations (seeds) the estimated inner product averages to the true one.
TEST(Codec, RabitqEstimatorIsUnbiased) {
  const size_t d = 64, n = 8, seeds = 400;
  auto train = gaussian(200, d, 6, 1.f);
  auto x = gaussian(n, d, 7, 1.f);
  auto q = gaussian(1, d, 8);
  std::vector<double> truth(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) truth[i] += x[i * d + j] * q[j];
  for (int bits : {1, 2, 4}) {
    std::vector<double> sum(n, 0.0), sum2(n, 0.0);
    for (size_t s = 0; s < seeds; ++s) {
      auto c = make_codec("rabitq" + std::to_string(bits), d);
      c->train(train.data(), 200, Metric::IP, 100 + s);
      auto codes = stored_codes(*c, x.data(), n);
      std::vector<float> dist(n);
      c->scanner(q.data(), Metric::IP)->scan(codes.data(), n, dist.data());
      for (size_t i = 0; i < n; ++i) {
        double e = -dist[i] - truth[i];
        sum[i] += e;
        sum2[i] += e * e;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      double mean = sum[i] / seeds, sd = std::sqrt(sum2[i] / seeds - mean * mean);
      EXPECT_LT(std::fabs(mean), 4 * sd / std::sqrt(double(seeds)) + 1e-3) << bits << " " << i;
    }
  }
}

// RaBitQ's bound: |est − ⟨o,q⟩| ≤ sqrt(1 − cos²)/cos · ε0/sqrt(D − 1) for unit o, q
// with high probability: the error is close to normal, so ε0 = 3 would hold for
// 99.7% of the vectors; the quantized query adds a little. Checked with L2 distances.
TEST(Codec, RabitqErrorBoundHolds) {
  const size_t d = 128, n = 2000;
  auto x = gaussian(n, d, 9, 1.f);
  auto q = gaussian(1, d, 10, 1.f);
  std::vector<double> mean(d, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) mean[j] += x[i * d + j] / n;
  for (int bits : {1, 3}) {
    auto c = make_codec("rabitq" + std::to_string(bits), d);
    c->train(x.data(), n, Metric::L2, 11);
    std::vector<uint8_t> codes(n * c->code_size());
    std::vector<float> dist(n), y(n * d);
    c->encode(x.data(), n, codes.data());
    c->decode(codes.data(), n, y.data());
    c->scanner(q.data(), Metric::L2)->scan(stored_codes(*c, x.data(), n).data(), n, dist.data());
    double qn = 0;
    for (size_t j = 0; j < d; ++j) qn += (q[j] - mean[j]) * (q[j] - mean[j]);
    qn = std::sqrt(qn);
    size_t violations = 0;
    for (size_t i = 0; i < n; ++i) {
      double r2 = 0, p2 = 0, d2 = 0;
      for (size_t j = 0; j < d; ++j) {
        r2 += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
        p2 += (y[i * d + j] - mean[j]) * (y[i * d + j] - mean[j]);
        d2 += (x[i * d + j] - q[j]) * (x[i * d + j] - q[j]);
      }
      double cs = std::sqrt(r2 / p2);
      // dist = |r|² + |q'|² − 2|r||q'|·est
      double bound = std::sqrt(1 - cs * cs) / cs * 3 / std::sqrt(double(d - 1));
      double err = std::fabs(dist[i] - d2) / (2 * std::sqrt(r2) * qn);
      violations += err > bound;
    }
    EXPECT_LT(violations, n / 50) << bits;
  }
}

TEST(Codec, SaveLoadRoundTrip) {
  const size_t d = 40, n = 300;
  auto x = gaussian(n, d, 12, 1.f);
  auto q = gaussian(1, d, 13);
  for (const char* spec : {"f16", "sq4", "rot,sq8", "pca16,rabitq2", "trunc32,rabitq", "rabitq5", "rabitq3c8"}) {
    const bool depends_on_dim = !std::string(spec).starts_with("trunc");
    auto c = make_codec(spec, d);
    c->train(x.data(), n, Metric::L2, 5);
    ByteWriter w;
    c->save(w);
    ByteReader r(w.buf(), "codec.bin");
    auto c2 = load_codec(spec, d, r);
    EXPECT_TRUE(r.done());
    std::vector<uint8_t> a(n * c->code_size()), b(n * c->code_size());
    c->encode(x.data(), n, a.data());
    c2->encode(x.data(), n, b.data());
    EXPECT_EQ(a, b) << spec;
    std::vector<float> da(n), db(n);
    auto stored = stored_codes(*c, x.data(), n);
    c->scanner(q.data(), Metric::L2)->scan(stored.data(), n, da.data());
    c2->scanner(q.data(), Metric::L2)->scan(stored.data(), n, db.data());
    EXPECT_EQ(da, db) << spec;
    if (w.size() > 0) {
      ByteReader cut(std::span<const uint8_t>(w.buf().data(), w.size() - 1), "codec.bin");
      try {
        load_codec(spec, d, cut);
        ADD_FAILURE() << spec << ": truncated parameters loaded";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("codec.bin"), std::string::npos);
      }
    }
    if (depends_on_dim && w.size() > 0) {
      ByteReader other(w.buf(), "codec.bin");
      EXPECT_THROW(load_codec(spec, d + 64, other), Error) << spec;
    }
  }
}

// Centres from k-means shrink the residuals, so the same bits estimate better;
// a code with a corrupt centre number is never nearest.
TEST(Codec, RabitqCentresImproveEstimates) {
  const size_t d = 64, n = 2000, k = 16;
  // clustered data: 16 well separated blobs
  auto centres = gaussian(k, d, 20);
  auto x = gaussian(n, d, 21);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) x[i * d + j] = 0.3f * x[i * d + j] + 3 * centres[(i % k) * d + j];
  auto q = gaussian(1, d, 22);  // a query among the data: near one blob
  for (size_t j = 0; j < d; ++j) q[j] = 0.3f * q[j] + x[5 * d + j];
  std::vector<double> err(2, 0.0);
  for (int v = 0; v < 2; ++v) {
    auto c = make_codec(v ? "rabitq2c16" : "rabitq2", d);
    c->train(x.data(), n, Metric::L2, 4);
    EXPECT_THROW(c->scanner(q.data(), Metric::IP), Error);
    auto codes = stored_codes(*c, x.data(), n);
    std::vector<float> dist(n);
    c->scanner(q.data(), Metric::L2)->scan(codes.data(), n, dist.data());
    for (size_t i = 0; i < n; ++i) {
      double t = 0;
      for (size_t j = 0; j < d; ++j) t += (x[i * d + j] - q[j]) * (x[i * d + j] - q[j]);
      err[v] += std::fabs(dist[i] - t) / n;
    }
    if (v) {
      std::vector<uint8_t> row(c->code_size());
      c->encode(x.data(), 1, row.data());
      row.back() = 0xFF;  // centre number -> 65280+
      std::vector<uint8_t> block(c->block_size() * c->code_size());
      c->pack(row.data(), 1, block.data());
      c->scanner(q.data(), Metric::L2)->scan(block.data(), 1, dist.data());
      EXPECT_EQ(dist[0], INFINITY);
      std::vector<float> y(d);
      EXPECT_THROW(c->decode(row.data(), 1, y.data()), Error);
    }
  }
  EXPECT_LT(err[1], err[0] / 3);
}

// RaBitQ stores blocks of 8 vectors: pack/unpack are inverse for any range, and
// a scan of a partial block writes exactly n distances equal to the full scan's.
TEST(Codec, RabitqBlocksPackUnpackAndPartialScan) {
  const size_t d = 70, n = 21;
  auto x = gaussian(n, d, 30, 1.f);
  auto q = gaussian(1, d, 31);
  auto c = make_codec("rabitq2c4", d);
  c->train(x.data(), n, Metric::L2, 2);
  ASSERT_EQ(c->block_size(), 8u);
  const size_t cs = c->code_size();
  std::vector<uint8_t> rows(n * cs);
  c->encode(x.data(), n, rows.data());
  auto stored = stored_codes(*c, x.data(), n);
  EXPECT_EQ(stored.size(), 24 * cs);
  std::vector<uint8_t> back(9 * cs);
  c->unpack(stored.data(), 5, 9, back.data());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), rows.begin() + 5 * cs));
  auto sc = c->scanner(q.data(), Metric::L2);
  std::vector<float> all(n), part(14, -1.f);
  sc->scan(stored.data(), n, all.data());
  sc->scan(stored.data() + 8 * cs, 13, part.data());  // from block 1, 13 of its 16 slots
  for (size_t i = 0; i < 13; ++i) EXPECT_EQ(part[i], all[8 + i]);
  EXPECT_EQ(part[13], -1.f);
}
