#include "http/wire.h"

#include <gtest/gtest.h>

namespace cachet::http {
namespace {

TEST(Wire, PercentDecode) {
  std::string out;
  ASSERT_TRUE(PercentDecode("/v1/models/a%2Fb+c", false, &out));
  EXPECT_EQ(out, "/v1/models/a/b+c");
  ASSERT_TRUE(PercentDecode("a+b%20c", true, &out));
  EXPECT_EQ(out, "a b c");
  EXPECT_FALSE(PercentDecode("bad%2", false, &out));
  EXPECT_FALSE(PercentDecode("bad%zz", false, &out));
  EXPECT_FALSE(PercentDecode("%", false, &out));
}

TEST(Wire, QueryParam) {
  EXPECT_EQ(QueryParam("a=1&b=x%20y&c", "b"), "x y");
  EXPECT_EQ(QueryParam("a=1&b=2", "a"), "1");
  EXPECT_EQ(QueryParam("a=1&b=2", "z"), "");
  EXPECT_EQ(QueryParam("c&a=1", "c"), "");
  EXPECT_EQ(QueryParam("", "a"), "");
  EXPECT_EQ(QueryParam("a=%zz", "a"), "");
}

TEST(Wire, RouteMatches) {
  EXPECT_TRUE(RouteMatches("/v1/models", "/v1/models"));
  EXPECT_FALSE(RouteMatches("/v1/models", "/v1/models/x"));
  EXPECT_TRUE(RouteMatches("/v1/models/(.+)", "/v1/models/x"));
  EXPECT_FALSE(RouteMatches("/v1/models/(.+)", "/v1/models/"));
  EXPECT_FALSE(RouteMatches("/v1/models/(.+)", "/v1/model"));
}

TEST(Wire, FormatHeadAndChunks) {
  HeaderList extra = {{"Retry-After", "5"}, {"Content-Length", "999"}, {"connection", "x"}};
  ResponseHead head;
  head.status = 503;
  head.content_type = "application/json";
  head.headers = &extra;
  head.content_length = 12;
  head.keep_alive = false;
  EXPECT_EQ(FormatHead(head),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Retry-After: 5\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");
  head.status = 200;
  head.headers = nullptr;
  head.framing = BodyFraming::kChunked;
  head.keep_alive = true;
  head.keep_alive_timeout_s = 5;
  EXPECT_EQ(FormatHead(head),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n");
  std::string out;
  AppendChunk("", &out);
  EXPECT_EQ(out, "");
  AppendChunk(std::string(26, 'x'), &out);
  EXPECT_EQ(out, "1a\r\n" + std::string(26, 'x') + "\r\n");
  EXPECT_EQ(FindHeader(extra, "CONNECTION"), "x");
  EXPECT_EQ(FindHeader(extra, "nope"), "");
}

}  // namespace
}  // namespace cachet::http
