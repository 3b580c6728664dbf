#pragma once
// The `pith` command: each family of subcommands registers itself on the app.
#include <CLI/CLI.hpp>

namespace pith::cli {

struct GlobalOptions {
  bool quiet = false;
  int verbose = 0;
};
const GlobalOptions& globals();

// compress, decompress, inspect, verify, extract (lossless tensors)
void register_tensor_commands(CLI::App& app);
// index, add, search, get (compressed vector collections); inspect of an index is
// handled by the tensor family's `inspect`, which calls describe_vector_index().
void register_vector_commands(CLI::App& app);
// eval, tune
void register_eval_commands(CLI::App& app);

}  // namespace pith::cli
