// Minimal leveled logging to stderr. Thread-safe (one write per line).
#pragma once

#include <sstream>
#include <string_view>

namespace cachet {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Lines below this level are dropped. Default kInfo; CACHET_LOG_LEVEL=debug|info|warn|error.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void LogLine(LogLevel level, std::string_view file, int line, std::string_view message);

namespace internal {
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line) : level_(level), file_(file), line_(line) {}
  ~LogMessage() { LogLine(level_, file_, line_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};
}  // namespace internal

}  // namespace cachet

#define CACHET_LOG(level)                                                     \
  if (::cachet::LogLevel::level < ::cachet::GetLogLevel()) {                  \
  } else                                                                      \
    ::cachet::internal::LogMessage(::cachet::LogLevel::level, __FILE__, __LINE__).stream()
#define LOG_DEBUG CACHET_LOG(kDebug)
#define LOG_INFO CACHET_LOG(kInfo)
#define LOG_WARN CACHET_LOG(kWarn)
#define LOG_ERROR CACHET_LOG(kError)
