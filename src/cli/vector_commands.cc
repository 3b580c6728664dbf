#include "cli/cli.h"

namespace pith::cli {
void register_vector_commands(CLI::App&) {}
}  // namespace pith::cli
