#include "cli/cli.h"

namespace pith::cli {
void register_eval_commands(CLI::App&) {}
}  // namespace pith::cli
