#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "eval/eval.h"
#include "eval/report.h"
#include "read/npy.h"
#include "search/index.h"

namespace pith {
namespace {

std::vector<float> gaussian_rows(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(n * d);
  for (auto& v : x) v = g(rng);
  return x;
}

EvalSettings quick_settings() {
  EvalSettings s;
  s.threads = 2;
  s.progress = false;
  s.gaussian_train = 2048;
  s.gaussian_test = 512;
  s.mse_rows = 500;
  return s;
}

TEST(EvalRun, GaussianMseNeverBelowShannonBound) {
  const size_t d = 32;
  EvalData data = make_eval_data(gaussian_rows(1500, d, 1), 1500, d, gaussian_rows(20, d, 2), 20, Metric::L2, 10, 2);
  for (const char* codec : {"f16", "sq8", "sq4", "sq2", "rabitq", "rabitq3", "pq8x8", "pq16x4fs", "opq8,pq8x8",
                            "pca16,sq8", "trunc16,sq4"}) {
    auto r = evaluate_codec(data, codec, quick_settings(), {0});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_DOUBLE_EQ(r[0].shannon_mse, std::exp2(-2.0 * 8.0 * r[0].bytes_per_vector / d)) << codec;
    EXPECT_GE(r[0].gaussian_mse, r[0].shannon_mse) << codec;
    EXPECT_GE(r[0].gap_db, 0.0) << codec;
  }
}

// Rows on a 4-dimensional subspace of 16 dimensions: PCA to 4 dimensions with 8
// bits each loses (almost) nothing, the other 4-byte codecs lose a lot.
EvalData subspace_data(size_t n, size_t nq) {
  const size_t d = 16, r = 4;
  auto basis = gaussian_rows(r, d, 7);
  auto make = [&](size_t rows, uint64_t seed) {
    auto z = gaussian_rows(rows, r, seed);
    std::vector<float> x(rows * d, 0.0f);
    for (size_t i = 0; i < rows; ++i)
      for (size_t a = 0; a < r; ++a)
        for (size_t j = 0; j < d; ++j) x[i * d + j] += z[i * r + a] * basis[a * d + j];
    return x;
  };
  return make_eval_data(make(n, 8), n, d, make(nq, 9), nq, Metric::L2, 10, 2);
}

TEST(EvalRun, TunePicksTheKnownBestCodec) {
  EvalData data = subspace_data(3000, 100);
  TuneGoal goal;
  goal.budget = 4;
  auto t = run_tune(data, goal, quick_settings(), {"sq2", "trunc4,sq8", "pca4,sq8", "pq4x8"});
  EXPECT_EQ(t.best.codec, "pca4,sq8");
  EXPECT_GT(*t.best.recall10, 0.9);
  EXPECT_EQ(t.tried.size(), 4u);
  // For a target, the fewest bytes that reach it: pca4,sq8 at 4 bytes, not sq8 at 16.
  TuneGoal target;
  target.target = 0.9;
  EXPECT_EQ(run_tune(data, target, quick_settings(), {"sq8", "pca4,sq8", "sq2"}).best.codec, "pca4,sq8");
  // Nothing fits in 2 bytes: the error names the smallest codec tried.
  goal.budget = 2;
  try {
    choose(t.tried, goal);
    FAIL() << "a 2-byte budget was met";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nearest is"), std::string::npos) << e.what();
  }
}

CodecResult fake(const std::string& codec, size_t bytes, double recall, double qps) {
  CodecResult r;
  r.codec = codec;
  r.bytes_per_vector = bytes;
  r.recall10 = recall;
  r.qps = qps;
  return r;
}

TEST(EvalRun, ChooseHonoursBudgetAndTarget) {
  std::vector<CodecResult> c = {fake("a", 8, 0.5, 100), fake("b", 16, 0.8, 100), fake("c", 32, 0.9, 100),
                                fake("d", 16, 0.8, 200)};
  TuneGoal g;
  g.budget = 16;
  EXPECT_EQ(choose(c, g).codec, "d");  // same recall and bytes as b, faster
  g.budget.reset();
  g.target = 0.85;
  EXPECT_EQ(choose(c, g).codec, "c");
  g.target = 0.95;
  try {
    choose(c, g);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nearest is c"), std::string::npos) << e.what();
  }
}

TEST(EvalRun, RecallIsWhatTheIndexReturns) {
  EvalData data = subspace_data(2000, 50);
  auto r = evaluate_codec(data, "sq4", quick_settings(), {0})[0];
  IndexOptions opt;
  opt.codec = "sq4";
  opt.metric = Metric::L2;
  opt.progress = false;
  auto idx = VectorIndex::create(data.dim, opt);
  idx->train(data.base.data(), data.n);
  idx->add(data.base.data(), data.n, nullptr);
  SearchParams p;
  p.k = 10;
  std::vector<int64_t> ids(data.nq * 10);
  std::vector<float> dist(ids.size());
  idx->search(data.queries.data(), data.nq, p, ids.data(), dist.data());
  EXPECT_DOUBLE_EQ(*r.recall10, mean(recall_per_query(ids, 10, data.truth, data.truth_k, 10)));
}

std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted && ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      f.back() += '"';
      ++i;
    } else if (ch == '"') {
      quoted = !quoted;
    } else if (ch == ',' && !quoted) {
      f.emplace_back();
    } else {
      f.back() += ch;
    }
  }
  return f;
}

TEST(EvalRun, ReportParsesAsJsonAndCsv) {
  EvalData data = subspace_data(1000, 30);
  EvalRun run;
  run.budgets = {4, 8};
  run.codecs = {"pq4x8", "pca4,sq8", "sq4"};
  EvalReport rep = run_eval(data, run, quick_settings());
  ASSERT_EQ(rep.results.size(), 3u);

  auto j = nlohmann::json::parse(report_json(rep).dump());
  ASSERT_EQ(j["results"].size(), 3u);
  for (const auto& r : j["results"])
    for (const char* key : {"codec", "bytes_per_vector", "recall@1", "recall@10", "recall@100", "mse",
                            "gaussian_mse", "shannon_mse", "gap_db", "waterfill_mse", "qps"})
      EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_TRUE(j["results"][0]["recall@100"].is_null());  // k = 10 here
  EXPECT_EQ(j["results"][0]["codec"], "pq4x8");
  ASSERT_FALSE(j["comparisons"].empty());
  EXPECT_EQ(j["comparisons"][0]["budget"], 4);

  std::istringstream csv(report_csv(rep));
  std::string line;
  std::getline(csv, line);
  auto header = csv_fields(line);
  EXPECT_EQ(header[0], "codec");
  EXPECT_NE(std::find(header.begin(), header.end(), "recall@10"), header.end());
  size_t rows = 0;
  while (std::getline(csv, line)) {
    auto f = csv_fields(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    EXPECT_EQ(f[0], rep.results[rows].codec);  // "pca4,sq8" survives quoting
    ++rows;
  }
  EXPECT_EQ(rows, 3u);
}

TEST(EvalRun, DefaultCodecsFitTheirBudgets) {
  for (size_t d : {128, 300}) {
    auto plan = default_codecs(d, {8, 16, 32, 64, 128});
    std::set<size_t> budgets;
    for (const auto& [b, spec] : plan) {
      size_t bytes = make_codec(spec, d)->code_size();
      EXPECT_LE(bytes, b) << spec;
      budgets.insert(b);
    }
    EXPECT_EQ(budgets.size(), 5u) << "every budget has a codec at d = " << d;
  }
  // The words300 frontier at 32 and 64 B (bench/bench_vectors.py) is on the list.
  auto plan = default_codecs(300, {32, 64});
  auto has = [&](size_t b, const std::string& spec) {
    return std::find(plan.begin(), plan.end(), std::pair<size_t, std::string>{b, spec}) != plan.end();
  };
  EXPECT_TRUE(has(32, "pca64,rabitq3"));
  EXPECT_TRUE(has(64, "pca128,rabitq3c256"));
}

std::string write_rows(const std::string& name, const std::vector<float>& x, size_t n, size_t d) {
  auto p = (std::filesystem::temp_directory_path() / name).string();
  uint64_t shape[2] = {n, d};
  write_npy(p, DType::F32, shape, {reinterpret_cast<const uint8_t*>(x.data()), x.size() * 4}, true);
  return p;
}

TEST(EvalRun, BadInputsAreNamed) {
  EvalInput in;
  in.vectors = write_rows("pith_eval_base.npy", gaussian_rows(240, 8, 1), 240, 8);
  in.queries = write_rows("pith_eval_q7.npy", gaussian_rows(5, 7, 2), 5, 7);
  in.use_cache = false;
  try {
    load_eval_data(in);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("queries have 7 dimensions"), std::string::npos) << e.what();
  }
  // Held-out queries: a tenth of the collection at most; ids stay the file's rows.
  in.queries.clear();
  in.holdout = 1000;
  EvalData d = load_eval_data(in);
  EXPECT_EQ(d.nq, 24u);
  EXPECT_EQ(d.n, 216u);
  EXPECT_NE(d.notes[0].find("held out"), std::string::npos);
  // Too few rows to train 256 PQ centroids: the message says how many are needed.
  try {
    evaluate_codec(d, "pq2x8", quick_settings(), {0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
}

TEST(EvalRun, PlotNeedsPythonAndWritesAnImage) {
  EvalData data = subspace_data(600, 20);
  EvalRun run;
  run.budgets = {4, 8};
  run.codecs = {"pca4,sq8", "sq4"};
  EvalReport rep = run_eval(data, run, quick_settings());
  auto png = (std::filesystem::temp_directory_path() / "pith_eval_plot.png").string();
  std::filesystem::remove(png);
  ::setenv("PITH_PYTHON", "/nonexistent/python3", 1);
  try {
    write_plot(rep, png, true);
    FAIL() << "a missing python3 went unnoticed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("python3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(png));
  ::unsetenv("PITH_PYTHON");
  try {
    write_plot(rep, png, true);
  } catch (const Error& e) {
    GTEST_SKIP() << "no python3 with matplotlib here: " << e.what();
  }
  auto bytes = read_file(png);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(std::string(bytes.begin() + 1, bytes.begin() + 4), "PNG");
  EXPECT_THROW(write_plot(rep, png, false), Error);  // exists, no force
}

std::string run_cli(const std::string& args, int& status) {
  std::string out;
  FILE* p = ::popen((std::string(PITH_CLI) + " -q " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, got);
  status = ::pclose(p);
  return out;
}

TEST(EvalCli, JsonAndCsvOnStdoutAndTuneJson) {
  auto base = write_rows("pith_eval_cli.npy", gaussian_rows(600, 16, 4), 600, 16);
  int status = 0;
  auto j = nlohmann::json::parse(
      run_cli("eval " + base + " --no-cache --budgets 4,8 --codecs 'sq2 pca8,sq4' --holdout 40 --json", status));
  ASSERT_EQ(status, 0);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["codec"], "pca8,sq4");
  EXPECT_EQ(j["dataset"]["queries"], 40);
  EXPECT_EQ(j["dataset"]["vectors"], 560);
  auto csv = run_cli("eval " + base + " --no-cache --budgets 4,8 --codecs 'sq2' --holdout 40 --csv", status);
  ASSERT_EQ(status, 0);
  EXPECT_EQ(csv.substr(0, 6), "codec,");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  auto t = nlohmann::json::parse(
      run_cli("tune " + base + " --no-cache --metric recall@10 --budget 8 --codecs 'sq2;sq4' --holdout 40 --json", status));
  ASSERT_EQ(status, 0);
  EXPECT_EQ(t["codec"], "sq4");
  EXPECT_EQ(t["objective"], "recall@10");
  EXPECT_EQ(t["tried"].size(), 2u);
  auto err = run_cli("tune " + base + " --no-cache --budget 8 --target recall@10=0.9", status);
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("exactly one of --budget"), std::string::npos) << err;
}

}  // namespace
}  // namespace pith
