#pragma once
// How eval and tune results reach the user: a terminal table, JSON, CSV, a plot.
#include <string>

#include <nlohmann/json.hpp>

#include "eval/eval.h"

namespace pith {

// One result as a JSON object: codec, bytes_per_vector, recall@1/@10/@100, mse,
// gaussian_mse, shannon_mse, gap_db, waterfill_mse, qps and the other figures
// (absent measures are null). MSEs are per dimension.
nlohmann::json result_json(const CodecResult& r);
// {"dataset": {...}, "budgets": [...], "results": [...], "comparisons": [...], "notes": [...]}
nlohmann::json report_json(const EvalReport& rep);
// A header line and one line per result, the columns of result_json.
std::string report_csv(const EvalReport& rep);
std::string report_table(const EvalReport& rep);
std::string result_table(const CodecResult& r);  // one codec, for tune

// Recall@10 against bytes per vector (log scale) with the frontier, and MSE per
// dimension against bits per dimension with the Shannon bound and the collection's
// water-filling curve. Runs python3 with matplotlib (PITH_PYTHON, else
// /usr/bin/python3, else python3 on PATH); the image type follows the extension
// (.png, .svg, .pdf). Throws pith::Error when python3 or matplotlib is missing.
void write_plot(const EvalReport& rep, const std::string& path, bool force);

}  // namespace pith
