// HTTP/1.1 wire details the server needs beyond Beast's parser: percent-decoding, query
// parameters, route patterns, response heads and chunk framing. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive equality (header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, for query strings) into `out`.
// False on a malformed escape (a '%' not followed by two hex digits); `out` is then unspecified.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

// The decoded value of the first parameter `name` in `query` ("a=1&b=x%20y"); "" when absent or
// malformed.
std::string QueryParam(std::string_view query, std::string_view name);

// A route pattern is an exact path, or a prefix ending in "(.+)" that matches the prefix followed
// by one or more characters (api::Route's convention).
bool RouteMatches(std::string_view pattern, std::string_view path);

// The value of the first header `name` (case-insensitive) in `headers`; "" when absent.
std::string FindHeader(const HeaderList& headers, std::string_view name);

// What a response head says about its body.
enum class BodyFraming {
  kLength,   // Content-Length: content_length
  kChunked,  // Transfer-Encoding: chunked (HTTP/1.1 clients)
  kClose,    // neither: the body ends when the connection closes (streams to HTTP/1.0 clients)
};

struct ResponseHead {
  int status = 200;
  std::string_view content_type;        // omitted when empty
  const HeaderList* headers = nullptr;  // extra headers; Content-Length, Transfer-Encoding and
                                        // Connection in it are ignored (the server sets them)
  BodyFraming framing = BodyFraming::kLength;
  uint64_t content_length = 0;
  bool keep_alive = true;  // false: "Connection: close"
  // With keep_alive and > 0: "Keep-Alive: timeout=N", so clients retire idle connections before
  // the server closes them (instead of racing the close with their next request).
  int keep_alive_timeout_s = 0;
};

// "HTTP/1.1 <status> <reason>\r\n" + headers + "\r\n".
std::string FormatHead(const ResponseHead& head);

// Appends one chunk ("<hex size>\r\n<data>\r\n") to `out`; nothing for empty data (an empty
// chunk would end the body).
void AppendChunk(std::string_view data, std::string* out);

// The chunk that ends a chunked body.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace cachet::http
