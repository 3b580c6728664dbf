// pith eval | tune: the rate–quality frontier of every codec on the user's vectors.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/file.h"
#include "eval/eval.h"
#include "eval/report.h"
#include "read/vectors.h"
#include "search/index.h"

namespace pith::cli {
namespace {

struct CommonArgs {
  std::string vectors, queries, gt, qrels, gt_cache, metric = "l2", refine;
  std::vector<std::string> codecs;
  size_t holdout = 1000;
  uint64_t seed = 1234;
  int threads = 0;
  bool strict = false, no_cache = false, json = false, force = false;
};

struct EvalArgs : CommonArgs {
  std::vector<size_t> budgets = {8, 16, 32, 64, 128};
  size_t rerank = 0;
  bool csv = false;
  std::string plot, save;
};

struct TuneArgs : CommonArgs {
  std::string objective, target, out;
  std::optional<size_t> budget;
};

void info(const std::string& s) {
  if (!globals().quiet) std::fprintf(stderr, "%s\n", s.c_str());
}

// Codec strings contain commas ("opq32,pq32x8") but never blanks, so a list of
// them is separated by blanks (one argument or several) or semicolons.
std::vector<std::string> split_codecs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::string cur;
    for (char ch : a + ";") {
      if (ch == ';' || ch == ' ' || ch == '\t') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
  }
  return out;
}

EvalInput input_of(const CommonArgs& a, Metric metric) {
  EvalInput in;
  in.vectors = a.vectors;
  in.queries = a.queries;
  in.truth = a.gt;
  in.qrels = a.qrels;
  in.truth_cache = a.gt_cache;
  in.use_cache = !a.no_cache;
  in.strict = a.strict;
  in.metric = metric;
  in.holdout = a.holdout;
  in.seed = a.seed;
  in.threads = a.threads;
  return in;
}

EvalSettings settings_of(const CommonArgs& a) {
  EvalSettings s;
  s.seed = a.seed;
  s.threads = a.threads;
  s.refine = a.refine;
  s.progress = !globals().quiet;
  s.verbose = globals().verbose > 0 && !globals().quiet;
  return s;
}

void run_eval_command(const EvalArgs& a) {
  if (a.json && a.csv) fail_msg("eval: choose one of --json and --csv");
  if (a.rerank && a.refine.empty()) fail_msg("eval: --rerank needs --refine f16|f32 (the copy it re-scores with)");
  if (a.budgets.empty()) fail_msg("eval: --budgets is empty");
  for (size_t b : a.budgets)
    if (b == 0) fail_msg("eval: a budget of 0 bytes per vector holds no codec");
  for (const auto& f : {a.plot, a.save})
    if (!f.empty() && !a.force && file_exists(f)) fail(f, "exists (use -f to overwrite)");
  if (!a.save.empty() && !a.save.ends_with(".json") && !a.save.ends_with(".csv"))
    fail(a.save, "--save writes .json or .csv; the name says neither");
  EvalData data = load_eval_data(input_of(a, metric_from_name(a.metric)));
  EvalRun run;
  run.budgets = a.budgets;
  run.codecs = split_codecs(a.codecs);
  run.rerank = a.rerank;
  EvalReport rep = run_eval(data, run, settings_of(a));
  if (a.json)
    std::printf("%s\n", report_json(rep).dump(2).c_str());
  else if (a.csv)
    std::printf("%s", report_csv(rep).c_str());
  else
    std::printf("%s", report_table(rep).c_str());
  if (!a.save.empty()) {
    std::string text = a.save.ends_with(".csv") ? report_csv(rep) : report_json(rep).dump(2) + "\n";
    OutputFile out(a.save, a.force);
    out.write(text.data(), text.size());
    out.commit();
  }
  if (!a.plot.empty()) {
    write_plot(rep, a.plot, a.force);
    info("plot written to " + a.plot);
  }
}

void run_tune_command(TuneArgs a) {
  // `--metric` names the distance in eval; tune also takes the objective there.
  if (a.metric != "ip" && a.metric != "cos" && a.metric != "l2") {
    if (!a.objective.empty() && a.objective != a.metric)
      fail_msg("tune: --metric {} and --objective {} disagree", a.metric, a.objective);
    a.objective = a.metric;
    a.metric = "l2";
  }
  TuneGoal goal;
  if (!a.objective.empty()) goal.objective = a.objective;
  if (!a.target.empty()) {
    size_t eq = a.target.find('=');
    if (eq == std::string::npos) fail_msg("tune: --target must look like recall@10=0.95, got '{}'", a.target);
    std::string obj = a.target.substr(0, eq), val = a.target.substr(eq + 1);
    if (!a.objective.empty() && obj != goal.objective)
      fail_msg("tune: --target names {}, the objective is {}", obj, goal.objective);
    goal.objective = obj;
    try {
      size_t used = 0;
      goal.target = std::stod(val, &used);
      if (used != val.size()) throw std::invalid_argument(val);
    } catch (const std::exception&) {
      fail_msg("tune: --target value '{}' is not a number", val);
    }
  }
  goal.budget = a.budget;
  if (goal.budget.has_value() == goal.target.has_value())
    fail_msg("tune: give exactly one of --budget BYTES and --target OBJECTIVE=VALUE");
  {
    CodecResult probe;
    objective_value(probe, goal.objective);  // rejects unknown objectives before any work
  }
  if (!a.out.empty() && !a.force && file_exists(a.out)) fail(a.out, "exists (use -f to overwrite)");
  Metric metric = metric_from_name(a.metric);
  EvalData data = load_eval_data(input_of(a, metric));
  if ((goal.objective == "ndcg@10" || goal.objective == "mrr@10") && !data.qrels)
    fail_msg("tune: the objective {} needs --qrels", goal.objective);
  TuneResult t = run_tune(data, goal, settings_of(a), split_codecs(a.codecs));
  if (a.json) {
    nlohmann::json j = result_json(t.best);
    j["objective"] = goal.objective;
    j["tried"] = nlohmann::json::array();
    for (const auto& r : t.tried) j["tried"].push_back(result_json(r));
    j["notes"] = data.notes;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& n : data.notes) info(n);
    info(fmt::format("tried {} configurations", t.tried.size()));
    std::printf("%s", result_table(t.best).c_str());
  }
  if (!a.out.empty()) {
    // The winner is rebuilt on the whole collection, held-out queries included.
    VectorSet v = load_vectors(a.vectors);
    IndexOptions opt;
    opt.codec = t.best.codec;
    opt.metric = metric;
    opt.refine = t.best.rerank ? t.best.refine : "";
    opt.seed = a.seed;
    opt.threads = a.threads;
    opt.progress = !globals().quiet;
    auto idx = VectorIndex::create(v.dim, opt);
    idx->train(v.data.data(), v.n);
    idx->add(v.data.data(), v.n, nullptr);
    idx->save(a.out, a.force);
    info(fmt::format("{}: {} vectors, codec {}{}", a.out, idx->size(), idx->codec_spec(),
                     t.best.rerank ? fmt::format(" (search with --rerank {})", t.best.rerank) : ""));
  }
}

void add_common(CLI::App* c, CommonArgs& a) {
  c->add_option("vectors", a.vectors, "collection: .npy (float32/float16/uint8/int8 [n, dim]), .fvecs, .bvecs")
      ->required();
  c->add_option("--queries", a.queries, "query vectors (default: hold out --holdout random rows as queries)");
  c->add_option("--gt", a.gt, "true neighbours of the queries: .npy int32/int64 [nq, k] of row numbers");
  c->add_option("--qrels", a.qrels, "relevance judgments: 'qid 0 docid rel' or 'qid docid rel' lines (row numbers)");
  c->add_flag("--strict", a.strict, "fail on qrels naming unknown queries or rows (default: count and ignore)");
  c->add_option("--codecs", a.codecs, "codecs to evaluate instead of the default list (space or ; separated)");
  c->add_option("--refine", a.refine, "keep a f16|f32 copy for re-ranking (its bytes are reported)")
      ->check(CLI::IsMember({"f16", "f32"}));
  c->add_option("--holdout", a.holdout, "queries held out of the collection when --queries is absent (at most n/10)");
  c->add_option("--gt-cache", a.gt_cache, "ground-truth cache file (default: VECTORS.gt-<hash>.npy)");
  c->add_flag("--no-cache", a.no_cache, "neither read nor write the ground-truth cache");
  c->add_option("--seed", a.seed, "random seed (training, held-out queries, samples)");
  c->add_option("-T,--threads", a.threads, "threads for building and ground truth (queries are timed on one)");
  c->add_flag("--json", a.json, "print JSON instead of a table");
  c->add_flag("-f,--force", a.force, "overwrite output files");
}

}  // namespace

void register_eval_commands(CLI::App& app) {
  auto ea = std::make_shared<EvalArgs>();
  auto* ec = app.add_subcommand("eval", "recall, distortion and speed of every codec at every budget");
  add_common(ec, *ea);
  ec->add_option("--metric", ea->metric, "distance: ip | cos | l2")->check(CLI::IsMember({"ip", "cos", "l2"}));
  ec->add_option("--budgets", ea->budgets, "bytes per vector, comma-separated")->delimiter(',');
  ec->add_option("--rerank", ea->rerank, "re-score this many candidates with the --refine copy");
  ec->add_flag("--csv", ea->csv, "print CSV instead of a table");
  ec->add_option("--save", ea->save, "also write the report to FILE.json or FILE.csv");
  ec->add_option("--plot", ea->plot, "draw recall and distortion frontiers (.png, .svg, .pdf; needs matplotlib)");
  ec->callback([ea] { run_eval_command(*ea); });

  auto ta = std::make_shared<TuneArgs>();
  auto* tc = app.add_subcommand("tune", "the best codec for a budget or a quality target");
  add_common(tc, *ta);
  tc->add_option("--metric", ta->metric,
                 "distance ip | cos | l2, or the objective (recall@10...) when it is not a distance");
  tc->add_option("--objective", ta->objective, "recall@1 | recall@10 (default) | recall@100 | ndcg@10 | mrr@10");
  tc->add_option("--budget", ta->budget, "bytes per vector for the codes (the refine copy is reported apart)");
  tc->add_option("--target", ta->target, "fewest bytes reaching OBJECTIVE=VALUE, e.g. recall@10=0.95");
  tc->add_option("-o,--output", ta->out, "build the chosen index on the whole collection (.pith)");
  tc->callback([ta] { run_tune_command(*ta); });
}

}  // namespace pith::cli
