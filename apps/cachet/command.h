// Subcommand registry for the `cachet` binary. Each subcommand lives in its own cmd_<name>.cc and
// registers itself with a static CACHET_REGISTER_COMMAND(...) line; main.cc dispatches.
#pragma once

#include <string>
#include <vector>

namespace cachet::cli {

struct Command {
  const char* name;     // "inspect"
  const char* summary;  // one line for `cachet --help`
  // argv[0] is the subcommand name. Returns the process exit code (0 ok, 2 bad usage, 1 error).
  int (*run)(int argc, char** argv);
};

bool RegisterCommand(const Command& cmd);
const std::vector<Command>& Commands();

}  // namespace cachet::cli

#define CACHET_REGISTER_COMMAND(ident, name, summary, fn) \
  static const bool ident##_registered = ::cachet::cli::RegisterCommand({name, summary, fn})
