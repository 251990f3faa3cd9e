#include "http/wire.h"

#include <boost/beast/http/status.hpp>
#include <cstdio>
#include <ostream>  // boost/utility/string_view.hpp needs it complete

namespace cachet::http {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += c;
    }
  }
  return true;
}

std::string QueryParam(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(pos, end - pos);
    const size_t eq = pair.find('=');
    std::string key;
    if (PercentDecode(pair.substr(0, eq), true, &key) && key == name) {
      std::string value;
      if (eq == std::string_view::npos) return "";
      return PercentDecode(pair.substr(eq + 1), true, &value) ? value : "";
    }
    pos = end + 1;
  }
  return "";
}

bool RouteMatches(std::string_view pattern, std::string_view path) {
  constexpr std::string_view kAny = "(.+)";
  if (pattern.size() >= kAny.size() && pattern.substr(pattern.size() - kAny.size()) == kAny) {
    const std::string_view prefix = pattern.substr(0, pattern.size() - kAny.size());
    return path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix;
  }
  return pattern == path;
}

std::string FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::string FormatHead(const ResponseHead& head) {
  namespace bh = boost::beast::http;
  std::string out = "HTTP/1.1 " + std::to_string(head.status) + " ";
  const auto reason = bh::obsolete_reason(static_cast<bh::status>(head.status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  if (!head.content_type.empty()) {
    out += "Content-Type: ";
    out += head.content_type;
    out += "\r\n";
  }
  if (head.headers != nullptr) {
    for (const auto& [k, v] : *head.headers) {
      if (EqualsIgnoreCase(k, "Content-Length") || EqualsIgnoreCase(k, "Transfer-Encoding") ||
          EqualsIgnoreCase(k, "Connection") ||
          (!head.content_type.empty() && EqualsIgnoreCase(k, "Content-Type"))) {
        continue;
      }
      out += k + ": " + v + "\r\n";
    }
  }
  switch (head.framing) {
    case BodyFraming::kLength:
      out += "Content-Length: " + std::to_string(head.content_length) + "\r\n";
      break;
    case BodyFraming::kChunked:
      out += "Transfer-Encoding: chunked\r\n";
      break;
    case BodyFraming::kClose:
      break;
  }
  out += head.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  if (head.keep_alive && head.keep_alive_timeout_s > 0) {
    out += "Keep-Alive: timeout=" + std::to_string(head.keep_alive_timeout_s) + "\r\n";
  }
  out += "\r\n";
  return out;
}

void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  char size[20];
  const int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  out->append(size, static_cast<size_t>(n));
  out->append(data.data(), data.size());
  out->append("\r\n");
}

}  // namespace cachet::http
