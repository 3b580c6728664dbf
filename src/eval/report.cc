#include "eval/report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/file.h"
#include "eval/ratedist.h"

namespace pith {

namespace {

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

// The columns shared by JSON and CSV, in CSV order.
const char* const kColumns[] = {"codec", "budget", "bytes_per_vector", "compression", "bits_per_dim", "refine",
                                "refine_bytes_per_vector", "rerank", "recall@1", "recall@10", "recall@100",
                                "ndcg@10", "mrr@10", "mse", "ip_error", "gaussian_mse", "shannon_mse", "gap_db",
                                "waterfill_mse", "waterfill_gap_db", "build_s", "qps"};

std::string fmt_opt(const std::optional<double>& v, int width) {
  return v ? fmt::format("{:>{}.4f}", *v, width) : fmt::format("{:>{}}", "-", width);
}

std::string csv_field(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  return v.dump();
}

}  // namespace

nlohmann::json result_json(const CodecResult& r) {
  return {{"codec", r.codec},
          {"budget", r.budget},
          {"bytes_per_vector", r.bytes_per_vector},
          {"compression", r.compression},
          {"bits_per_dim", r.bits_per_dim},
          {"refine", r.refine.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.refine)},
          {"refine_bytes_per_vector", r.refine_bytes},
          {"rerank", r.rerank},
          {"recall@1", opt(r.recall1)},
          {"recall@10", opt(r.recall10)},
          {"recall@100", opt(r.recall100)},
          {"ndcg@10", opt(r.ndcg10)},
          {"mrr@10", opt(r.mrr10)},
          {"mse", r.mse},
          {"ip_error", r.ip_error},
          {"gaussian_mse", r.gaussian_mse},
          {"shannon_mse", r.shannon_mse},
          {"gap_db", r.gap_db},
          {"waterfill_mse", r.waterfill_mse},
          {"waterfill_gap_db", r.waterfill_gap_db},
          {"build_s", r.build_s},
          {"qps", r.qps}};
}

nlohmann::json report_json(const EvalReport& rep) {
  nlohmann::json j;
  j["dataset"] = {{"dim", rep.dim}, {"vectors", rep.n}, {"queries", rep.nq}, {"metric", metric_name(rep.metric)}};
  j["mse_unit"] = "mean squared error per dimension";
  j["budgets"] = rep.budgets;
  j["results"] = nlohmann::json::array();
  for (const auto& r : rep.results) j["results"].push_back(result_json(r));
  j["comparisons"] = nlohmann::json::array();
  for (const auto& c : rep.comparisons)
    j["comparisons"].push_back({{"budget", c.budget},
                                {"best", c.best},
                                {"second", c.second},
                                {"best_recall@10", c.best_recall10},
                                {"second_recall@10", c.second_recall10},
                                {"p_value", c.p_value}});
  j["notes"] = rep.notes;
  j["eigenvalues"] = rep.eigenvalues;
  return j;
}

std::string report_csv(const EvalReport& rep) {
  std::string out;
  for (const char* c : kColumns) out += (out.empty() ? "" : ",") + std::string(c);
  out += '\n';
  for (const auto& r : rep.results) {
    auto j = result_json(r);
    std::string line;
    for (const char* c : kColumns) line += (line.empty() ? "" : ",") + csv_field(j[c]);
    out += line + '\n';
  }
  return out;
}

std::string report_table(const EvalReport& rep) {
  bool ranked = std::any_of(rep.results.begin(), rep.results.end(), [](const auto& r) { return r.ndcg10.has_value(); });
  std::string s = fmt::format("{} vectors of {} dimensions, {} queries, metric {}\n", rep.n, rep.dim, rep.nq,
                              metric_name(rep.metric));
  for (const auto& n : rep.notes) s += "  " + n + "\n";
  s += "\n";
  s += fmt::format("{:>6} {:<24} {:>6} {:>6} {:>7} {:>7} {:>7}", "budget", "codec", "B/vec", "ratio", "R@1", "R@10",
                   "R@100");
  if (ranked) s += fmt::format(" {:>7} {:>7}", "nDCG@10", "MRR@10");
  s += fmt::format(" {:>10} {:>8} {:>8} {:>8} {:>9}\n", "MSE/dim", "gap dB", "vs WF dB", "build s", "QPS");
  for (const auto& r : rep.results) {
    std::string codec = r.codec + (r.rerank ? fmt::format(" +rr{}", r.rerank) : "");
    s += fmt::format("{:>6} {:<24} {:>6} {:>6.1f} {} {} {}", r.budget ? std::to_string(r.budget) : "-", codec,
                     r.bytes_per_vector, r.compression, fmt_opt(r.recall1, 7), fmt_opt(r.recall10, 7),
                     fmt_opt(r.recall100, 7));
    if (ranked) s += fmt::format(" {} {}", fmt_opt(r.ndcg10, 7), fmt_opt(r.mrr10, 7));
    s += fmt::format(" {:>10.3e} {:>8.2f} {:>8.2f} {:>8.2f} {:>9.0f}\n", r.mse, r.gap_db, r.waterfill_gap_db,
                     r.build_s, r.qps);
  }
  s += "\nMSE/dim: mean squared reconstruction error per dimension on collection rows.\n"
       "gap dB: the codec's MSE on standard Gaussian data above Shannon's bound 2^(-2R), R = bits per dimension\n"
       "  (no codec can go below 0 dB; the gap is the share of the format's bits that are wasted).\n"
       "vs WF dB: MSE on the collection against reverse water-filling over its covariance eigenvalues (the\n"
       "  Gaussian of the same covariance, an upper bound on the best achievable; < 0 dB: the codec beats it).\n";
  if (!rep.comparisons.empty()) {
    s += "\nBest vs second best recall@10 per budget (paired permutation test over queries):\n";
    for (const auto& c : rep.comparisons)
      s += fmt::format("  {:>4} B: {} {:.4f} vs {} {:.4f}, p = {:.4f}{}\n", c.budget, c.best, c.best_recall10,
                       c.second, c.second_recall10, c.p_value, c.p_value < 0.05 ? "" : " (not significant)");
  }
  return s;
}

std::string result_table(const CodecResult& r) {
  std::string s = fmt::format("codec            {}\n", r.codec);
  s += fmt::format("bytes per vector {} ({:.1f}x smaller than float32)\n", r.bytes_per_vector, r.compression);
  if (!r.refine.empty())
    s += fmt::format("re-ranking       {} candidates from a {} copy: {} more bytes per vector\n", r.rerank, r.refine,
                     r.refine_bytes);
  s += fmt::format("recall@1/10/100  {} {} {}\n", fmt_opt(r.recall1, 0), fmt_opt(r.recall10, 0),
                   fmt_opt(r.recall100, 0));
  if (r.ndcg10) s += fmt::format("nDCG@10, MRR@10  {:.4f} {:.4f}\n", *r.ndcg10, *r.mrr10);
  s += fmt::format("MSE per dim      {:.4e} (water-filling {:.4e}, {:+.2f} dB)\n", r.mse, r.waterfill_mse,
                   r.waterfill_gap_db);
  s += fmt::format("Gaussian gap     {:.2f} dB above Shannon's bound\n", r.gap_db);
  s += fmt::format("build            {:.2f} s\nqueries/s        {:.0f} (one thread)\n", r.build_s, r.qps);
  return s;
}

namespace {

// Embedded so that the binary needs no installed data files.
constexpr const char* kPlotScript = R"PY(
import json, sys
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
except ImportError:
    sys.stderr.write("matplotlib is not installed (Debian: apt-get install python3-matplotlib)\n")
    sys.exit(3)

data = json.load(open(sys.argv[1]))
out = sys.argv[2]
res = data["results"]
families = {}
for r in res:
    fam = r["codec"].split(",")[-1].rstrip("0123456789xfs") or r["codec"]
    if "," in r["codec"]:
        fam = r["codec"].split(",")[0].rstrip("0123456789") + "+" + fam
    families.setdefault(fam, []).append(r)

fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 6.2))
markers = "osD^v<>phX*P"
for i, (fam, rs) in enumerate(sorted(families.items())):
    m = markers[i % len(markers)]
    pts = [(r["bytes_per_vector"], r["recall@10"]) for r in rs if r["recall@10"] is not None]
    if pts:
        a1.scatter(*zip(*pts), marker=m, s=40, label=fam, zorder=3)
    a2.scatter([r["bits_per_dim"] for r in rs], [r["mse"] for r in rs], marker=m, s=40, label=fam + " (data)", zorder=3)
    a2.scatter([r["bits_per_dim"] for r in rs], [r["gaussian_mse"] for r in rs], marker=m, s=40,
               facecolors="none", edgecolors="gray", zorder=2)

top = {}
for r in res:
    if r["recall@10"] is not None and (r["bytes_per_vector"] not in top or r["recall@10"] > top[r["bytes_per_vector"]][0]):
        top[r["bytes_per_vector"]] = (r["recall@10"], r["codec"])
pts = sorted((b, rc, c) for b, (rc, c) in top.items())
fx, fy, best = [], [], -1.0
for b, rc, c in pts:
    if rc > best:
        best = rc
        fx.append(b)
        fy.append(rc)
        # Alternate below-right and above-left: neighbouring frontier points are often
        # a few bytes apart (30 and 32), and labels on one side overlapped.
        below = len(fx) % 2 == 1
        a1.annotate(c, (b, rc), textcoords="offset points", xytext=(4, -11) if below else (-4, 5),
                    ha="left" if below else "right", fontsize=7)
if fx:
    fx.append(pts[-1][0])
    fy.append(fy[-1])
    a1.step(fx, fy, where="post", color="black", lw=1.2, label="frontier (best at or under the size)", zorder=1)
a1.set_xscale("log", base=2)
a1.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
a1.set_xlabel("bytes per vector (log scale)")
a1.set_ylabel("recall@10")
a1.set_title("recall@10 vs size: " + data["title"])
a1.grid(True, which="both", alpha=0.3)
a1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)

c = data["curves"]
a2.plot(c["bits"], c["shannon"], color="black", lw=1.2, label="Shannon bound 2^(-2R) (Gaussian, unit variance)")
a2.plot(c["bits"], c["waterfill"], color="tab:red", lw=1.2, ls="--", label="water-filling on the data's covariance")
a2.scatter([], [], marker="o", facecolors="none", edgecolors="gray", label="codec on Gaussian data")
a2.set_yscale("log")
low = min([r["mse"] for r in res if r["mse"] > 0] + [r["gaussian_mse"] for r in res if r["gaussian_mse"] > 0] + [1.0])
a2.set_ylim(bottom=low / 10)
a2.set_xlabel("bits per dimension")
a2.set_ylabel("MSE per dimension (log scale)")
a2.set_title("distortion vs rate")
a2.grid(True, which="both", alpha=0.3)
# Legends below the axes: inside, they covered codec points or frontier labels.
a2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
fig.tight_layout()
fig.savefig(out, dpi=110)
)PY";

std::string python_binary() {
  if (const char* p = std::getenv("PITH_PYTHON"); p && *p) return p;
  if (file_exists("/usr/bin/python3")) return "/usr/bin/python3";
  return "python3";
}

}  // namespace

void write_plot(const EvalReport& rep, const std::string& path, bool force) {
  auto ext = std::filesystem::path(path).extension().string();
  if (ext != ".png" && ext != ".svg" && ext != ".pdf")
    fail(path, "plot type '{}' is not supported (use .png, .svg or .pdf)", ext);
  if (!force && file_exists(path)) fail(path, "exists (use --force to overwrite)");
  nlohmann::json j = report_json(rep);
  j["title"] = fmt::format("{} × {}d, {}", rep.n, rep.dim, metric_name(rep.metric));
  double top = 1;
  for (const auto& r : rep.results) top = std::max(top, r.bits_per_dim);
  nlohmann::json bits = nlohmann::json::array(), sh = nlohmann::json::array(), wf = nlohmann::json::array();
  for (int i = 1; i <= 200; ++i) {
    double b = top * 1.05 * i / 200.0;
    bits.push_back(b);
    sh.push_back(shannon_mse(b));
    wf.push_back(rep.eigenvalues.empty() ? 0.0
                                         : reverse_waterfill(rep.eigenvalues, b * static_cast<double>(rep.dim)).mse_per_dim);
  }
  j["curves"] = {{"bits", bits}, {"shannon", sh}, {"waterfill", wf}};

  auto dir = std::filesystem::temp_directory_path() / fmt::format("pith-plot-{}", ::getpid());
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{dir};
  auto script = dir / "plot.py", data = dir / "data.json", image = dir / ("plot" + ext);
  std::ofstream(script) << kPlotScript;
  std::ofstream(data) << j.dump();
  std::string py = python_binary();
  pid_t pid = ::fork();
  if (pid < 0) fail(path, "cannot start {} to draw the plot", py);
  if (pid == 0) {
    ::execlp(py.c_str(), py.c_str(), script.c_str(), data.c_str(), image.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "pith: cannot run %s\n", py.c_str());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 127) fail(path, "the plot needs python3 with matplotlib; {} could not be run (set PITH_PYTHON)", py);
  if (rc == 3) fail(path, "the plot needs python3-matplotlib, which {} cannot import", py);
  if (rc != 0) fail(path, "{} failed to draw the plot (exit status {})", py, rc);
  auto bytes = read_file(image.string());
  OutputFile out(path, force);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace pith
