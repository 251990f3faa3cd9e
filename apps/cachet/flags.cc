#include "flags.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace cachet::cli {

void Flags::String(const std::string& n, std::string* o, const std::string& h) {
  specs_[n] = {Kind::kString, o, h};
  order_.push_back(n);
}
void Flags::Int(const std::string& n, int64_t* o, const std::string& h) {
  specs_[n] = {Kind::kInt, o, h};
  order_.push_back(n);
}
void Flags::Double(const std::string& n, double* o, const std::string& h) {
  specs_[n] = {Kind::kDouble, o, h};
  order_.push_back(n);
}
void Flags::Bool(const std::string& n, bool* o, const std::string& h) {
  specs_[n] = {Kind::kBool, o, h};
  order_.push_back(n);
}
void Flags::Repeated(const std::string& n, std::vector<std::string>* o, const std::string& h) {
  specs_[n] = {Kind::kRepeated, o, h};
  order_.push_back(n);
}
void Flags::Required(const std::string& n) { specs_[n].required = true; }

void Flags::PrintHelp(FILE* out) const {
  std::fprintf(out, "usage: %s\n\noptions:\n", usage_.c_str());
  for (const auto& n : order_) {
    const Spec& s = specs_.at(n);
    const char* arg = s.kind == Kind::kBool ? "" : (s.kind == Kind::kInt ? " N" : " VALUE");
    std::string left = "--" + n + arg;
    std::fprintf(out, "  %-24s %s%s\n", left.c_str(), s.help.c_str(),
                 s.required ? " (required)" : "");
  }
}

int Flags::UsageError(const std::string& msg) const {
  std::fprintf(stderr, "cachet %s: %s\n", command_.c_str(), msg.c_str());
  std::fprintf(stderr, "usage: %s\n(see 'cachet %s --help')\n", usage_.c_str(), command_.c_str());
  return 2;
}

std::optional<int> Flags::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      PrintHelp(stdout);
      return 0;
    }
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) return UsageError("unknown flag --" + name);
    Spec& s = it->second;
    given_[name]++;
    if (s.kind == Kind::kBool) {
      if (value && *value != "true" && *value != "false") {
        return UsageError("--" + name + " takes no value (or =true/=false)");
      }
      *static_cast<bool*>(s.out) = !value || *value == "true";
      continue;
    }
    if (!value) {
      if (i + 1 >= argc) return UsageError("--" + name + " needs a value");
      value = argv[++i];
    }
    switch (s.kind) {
      case Kind::kString:
        *static_cast<std::string*>(s.out) = *value;
        break;
      case Kind::kRepeated:
        static_cast<std::vector<std::string>*>(s.out)->push_back(*value);
        break;
      case Kind::kInt: {
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(value->c_str(), &end, 10);
        if (value->empty() || *end != '\0' || errno != 0) {
          return UsageError("--" + name + " expects an integer, got '" + *value + "'");
        }
        *static_cast<int64_t*>(s.out) = v;
        break;
      }
      case Kind::kDouble: {
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(value->c_str(), &end);
        if (value->empty() || *end != '\0' || errno != 0) {
          return UsageError("--" + name + " expects a number, got '" + *value + "'");
        }
        *static_cast<double*>(s.out) = v;
        break;
      }
      case Kind::kBool:
        break;
    }
  }
  for (const auto& [n, s] : specs_) {
    if (s.required && !given_.count(n)) return UsageError("missing required flag --" + n);
  }
  return std::nullopt;
}

}  // namespace cachet::cli
