// The `cachet` binary: dispatches to subcommands (cmd_*.cc).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "command.h"

namespace cachet::cli {

static std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

bool RegisterCommand(const Command& cmd) {
  Registry().push_back(cmd);
  return true;
}

const std::vector<Command>& Commands() {
  auto& r = Registry();
  std::sort(r.begin(), r.end(),
            [](const Command& a, const Command& b) { return std::strcmp(a.name, b.name) < 0; });
  return r;
}

static void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: cachet <command> [options]\n\ncommands:\n");
  for (const auto& c : Commands()) std::fprintf(out, "  %-14s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'cachet <command> --help' for a command's options.\n");
}

}  // namespace cachet::cli

int main(int argc, char** argv) {
  using namespace cachet::cli;
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return 0;
  }
  for (const auto& c : Commands()) {
    if (name == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "cachet: unknown command '%s'\n\n", name.c_str());
  PrintUsage(stderr);
  return 2;
}
