#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace cachet {
namespace {

LogLevel LevelFromEnv() {
  const char* v = std::getenv("CACHET_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kInfo;
  if (std::strcmp(v, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(v, "warn") == 0) return LogLevel::kWarn;
  if (std::strcmp(v, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int>& Level() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnv())};
  return level;
}

}  // namespace

void SetLogLevel(LogLevel level) { Level().store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(Level().load(std::memory_order_relaxed)); }

void LogLine(LogLevel level, std::string_view file, int line, std::string_view message) {
  static const char kTag[] = {'D', 'I', 'W', 'E'};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  size_t slash = file.rfind('/');
  if (slash != std::string_view::npos) file = file.substr(slash + 1);
  std::string out;
  out.reserve(message.size() + 64);
  out += kTag[static_cast<int>(level)];
  out += ' ';
  out += ts;
  out += '.';
  char msbuf[8];
  std::snprintf(msbuf, sizeof msbuf, "%03dZ ", ms);
  out += msbuf;
  out += file;
  out += ':';
  out += std::to_string(line);
  out += "] ";
  out += message;
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace cachet
