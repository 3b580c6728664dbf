#include <cstdio>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <exception>

#include "cli/cli.h"
#include "common/error.h"
#include "common/progress.h"

namespace pith::cli {
namespace {
GlobalOptions g_opts;
}
const GlobalOptions& globals() { return g_opts; }
}  // namespace pith::cli

int main(int argc, char** argv) {
  using namespace pith::cli;
#if defined(__GLIBC__)
  // Chunks are about 1 MiB: by default glibc maps each such buffer afresh and
  // unmaps it on free, so every chunk paid a page fault per 4 KiB (60% of the
  // faults of a decompression). Kept in the heap, freed chunks are reused.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
  CLI::App app{"pith: compresses tensors losslessly and vector collections searchably"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags also after the subcommand: `pith verify -q FILE`
  app.set_version_flag("--version", "pith 0.1.0");
  app.add_flag("-q,--quiet", g_opts.quiet, "print errors only");
  app.add_flag("-v,--verbose", g_opts.verbose, "print more (repeat for more)");
  app.parse_complete_callback([] { pith::set_quiet(g_opts.quiet); });
  register_tensor_commands(app);
  register_vector_commands(app);
  register_eval_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const pith::Error& e) {
    std::fprintf(stderr, "pith: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "pith: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pith: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
