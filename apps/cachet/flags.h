// A small command-line flag parser for subcommands: --name VALUE, --name=VALUE, boolean --name,
// repeatable flags, --help. Unknown flags and missing values are errors with a clear message.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cachet::cli {

class Flags {
 public:
  // `usage` is printed for --help and after errors: "cachet run --model FILE ...".
  Flags(std::string command, std::string usage) : command_(std::move(command)), usage_(std::move(usage)) {}

  // Declare flags before Parse(). `help` is one line.
  void String(const std::string& name, std::string* out, const std::string& help);
  void Int(const std::string& name, int64_t* out, const std::string& help);
  void Double(const std::string& name, double* out, const std::string& help);
  void Bool(const std::string& name, bool* out, const std::string& help);
  void Repeated(const std::string& name, std::vector<std::string>* out, const std::string& help);
  void Required(const std::string& name);  // must be given

  // Parses argv[1..]. Returns nullopt when the caller should go on; otherwise the exit code to
  // return (0 after --help, 2 after a usage error, message already printed to stderr).
  std::optional<int> Parse(int argc, char** argv);
  const std::vector<std::string>& positional() const { return positional_; }
  bool Given(const std::string& name) const { return given_.count(name) != 0; }

  void PrintHelp(FILE* out) const;
  // Prints "cachet <cmd>: <msg>" and returns 2.
  int UsageError(const std::string& msg) const;

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kRepeated };
  struct Spec {
    Kind kind;
    void* out;
    std::string help;
    bool required = false;
  };
  std::string command_;
  std::string usage_;
  std::map<std::string, Spec> specs_;
  std::vector<std::string> order_;
  std::vector<std::string> positional_;
  std::map<std::string, int> given_;
};

}  // namespace cachet::cli
