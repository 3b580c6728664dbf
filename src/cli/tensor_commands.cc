#include "cli/cli.h"

namespace pith::cli {
void register_tensor_commands(CLI::App&) {}
}  // namespace pith::cli
