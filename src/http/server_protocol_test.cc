// The server at the byte level: limits, malformed requests, HTTP/1.0, Connection: close,
// pipelining, 100-continue, slowloris. Raw sockets, so nothing is normalized by a client library.
#include <gtest/gtest.h>

#include <thread>

#include "api/testing/fake_model.h"
#include "http/raw_client_testing.h"
#include "http/server.h"

namespace cachet::http {
namespace {

using namespace std::chrono_literals;
using testing::RawConn;

const std::string kChat = R"({"model":"fake","messages":[{"role":"user","content":"Hi"}]})";
const std::string kChatStream =
    R"({"model":"fake","stream":true,"messages":[{"role":"user","content":"Hi"}]})";

class ProtocolTest : public ::testing::Test {
 protected:
  void Start(HttpOptions h = {}, api::testing::FakeEngineOptions o = {}) {
    model_ = api::testing::MakeFakeModel("fake", "Hello", o);
    ASSERT_TRUE(registry_.Add(model_.entry).ok());
    ctx_.models = &registry_;
    ctx_.metrics = &metrics_;
    h.host = "127.0.0.1";
    h.port = 0;
    h.threads = 4;
    if (h.payload_max_bytes == HttpOptions{}.payload_max_bytes) h.payload_max_bytes = 1 << 16;
    server_ =
        std::make_unique<HttpServer>(h, api::ApiRoutes(&ctx_), MakeNoAuth(), &registry_, &metrics_);
    ASSERT_TRUE(server_->Start().ok());
    server_->SetReady(true);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(1s);
  }
  // Sends `raw` on a new connection; returns everything the server sent until it closed (or
  // `limit` passed: then `closed` is false).
  std::string Exchange(const std::string& raw, bool* closed = nullptr,
                       std::chrono::milliseconds limit = 5s) {
    const int fd = testing::Connect(server_->port());
    EXPECT_GE(fd, 0);
    testing::SendAll(fd, raw);
    std::string got;
    const bool c = testing::ReadUntilClosed(fd, &got, limit);
    if (closed) *closed = c;
    close(fd);
    return got;
  }
  // Sends `raw` on a new connection and reads `n` responses; the connection stays open.
  std::vector<std::string> Responses(const std::string& raw, int n, int* fd_out = nullptr) {
    std::vector<RawConn> c(1);
    c[0].fd = testing::Connect(server_->port());
    testing::SendAll(c[0].fd, raw);
    std::vector<std::string> out;
    for (int i = 1; i <= n; ++i) {
      if (testing::ReadResponses(c, i, std::chrono::steady_clock::now() + 5s) != 1) break;
      out.push_back(c[0].response);
    }
    if (fd_out) {
      *fd_out = c[0].fd;
    } else {
      close(c[0].fd);
    }
    return out;
  }

  api::testing::FakeModel model_;
  api::ModelRegistry registry_;
  api::Metrics metrics_;
  api::ApiContext ctx_;
  std::unique_ptr<HttpServer> server_;
};

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

TEST_F(ProtocolTest, OversizedBodiesAre413AndClose) {
  Start();
  bool closed = false;
  // Declared length over the limit: refused before the body is read.
  std::string got = Exchange(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{", &closed);
  EXPECT_TRUE(StartsWith(got, "HTTP/1.1 413")) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_NE(got.find("\"error\""), std::string::npos);
  EXPECT_TRUE(closed);
  // Chunked body growing over the limit.
  std::string chunked =
      "POST /anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n";
  for (int i = 0; i < 80; ++i) chunked += "400\r\n" + std::string(1024, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  got = Exchange(chunked, &closed);
  EXPECT_TRUE(StartsWith(got, "HTTP/1.1 413")) << got.substr(0, 200);
  EXPECT_NE(got.find("\"type\":\"error\""), std::string::npos) << "Anthropic shape: " << got;
  EXPECT_TRUE(closed);
  EXPECT_EQ(model_.engine->submitted(), 0);
}

TEST_F(ProtocolTest, MalformedRequestsAre400) {
  Start();
  for (const std::string raw : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
           std::string("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\n"
                       "Content-Length: 7\r\n\r\nhello"),
           std::string("GET /v1/models HTTP/9.9\r\n\r\n"),
           std::string("GET /v1/models HTTP/1.1\r\nBad Header\r\n\r\n"),
           std::string("POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\nhello\r\n0\r\n\r\n"),
           std::string("GET /v1/mo%zzdels HTTP/1.1\r\n\r\n"),
       }) {
    bool closed = false;
    const std::string got = Exchange(raw, &closed);
    EXPECT_TRUE(StartsWith(got, "HTTP/1.1 400")) << raw << " -> " << got;
    EXPECT_TRUE(closed) << raw;
  }
  // Bad JSON is the API layer's 400, on a connection that stays usable.
  const auto r = Responses(
      testing::PostRequest("/v1/chat/completions", "{not json") + testing::GetRequest("/health"),
      2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(StartsWith(r[0], "HTTP/1.1 400")) << r[0];
  EXPECT_TRUE(StartsWith(r[1], "HTTP/1.1 200")) << r[1];
}

TEST_F(ProtocolTest, HeaderLimits) {
  HttpOptions h;
  h.header_max_count = 20;
  h.header_max_bytes = 4096;
  Start(h);
  std::string many;
  for (int i = 0; i < 21; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_TRUE(StartsWith(Exchange(testing::GetRequest("/v1/models", many)), "HTTP/1.1 431"));
  std::string big;
  for (int i = 0; i < 5; ++i)
    big += "X-B" + std::to_string(i) + ": " + std::string(900, 'b') + "\r\n";
  EXPECT_TRUE(StartsWith(Exchange(testing::GetRequest("/v1/models", big)), "HTTP/1.1 431"));
  // Far over every limit: refused while reading, before the headers end.
  std::string huge = "GET /v1/models HTTP/1.1\r\n";
  for (int i = 0; i < 400; ++i)
    huge += "X-Y" + std::to_string(i) + ": " + std::string(500, 'y') + "\r\n";
  EXPECT_TRUE(StartsWith(Exchange(huge + "\r\n"), "HTTP/1.1 431"));
  EXPECT_TRUE(StartsWith(Exchange("GET /v1/models?" + std::string(9000, 'q') + " HTTP/1.1\r\n\r\n"),
                         "HTTP/1.1 414"));
  // Just under: served.
  std::string fine;
  for (int i = 0; i < 19; ++i) fine += "X-H" + std::to_string(i) + ": v\r\n";
  const auto r = Responses(testing::GetRequest("/v1/models", fine), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(StartsWith(r[0], "HTTP/1.1 200")) << r[0];
}

TEST_F(ProtocolTest, HeaderLineLongerThan8KiBIs400) {
  HttpOptions h;
  h.header_max_bytes = 64 << 10;
  Start(h);
  const std::string got =
      Exchange(testing::GetRequest("/v1/models", "X-Long: " + std::string(9000, 'l') + "\r\n"));
  EXPECT_TRUE(StartsWith(got, "HTTP/1.1 400")) << got.substr(0, 100);
}

TEST_F(ProtocolTest, RoutingErrors) {
  Start();
  auto r = Responses(testing::GetRequest("/v1/nope") + testing::GetRequest("/v1/chat/completions") +
                         testing::PostRequest("/health", "{}"),
                     3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(StartsWith(r[0], "HTTP/1.1 404")) << r[0];
  EXPECT_NE(r[0].find("unknown_url"), std::string::npos);
  EXPECT_TRUE(StartsWith(r[1], "HTTP/1.1 405")) << r[1];
  EXPECT_TRUE(StartsWith(r[2], "HTTP/1.1 405")) << r[2];
}

TEST_F(ProtocolTest, PipelinedRequestsAnsweredInOrder) {
  Start();
  const auto r = Responses(testing::GetRequest("/health") +
                               testing::PostRequest("/v1/chat/completions", kChat) +
                               testing::GetRequest("/v1/models/fake"),
                           3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_NE(r[0].find("{\"status\":\"ok\"}"), std::string::npos);
  EXPECT_NE(r[1].find("\"content\":\"Hello\""), std::string::npos) << r[1];
  EXPECT_NE(r[2].find("\"id\":\"fake\""), std::string::npos) << r[2];
}

TEST_F(ProtocolTest, ConnectionCloseAndKeepAliveMaxCount) {
  HttpOptions h;
  h.keep_alive_max_count = 2;
  Start(h);
  bool closed = false;
  std::string got = Exchange(testing::GetRequest("/health", "Connection: close\r\n"), &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  // Two requests allowed on a connection: the second reply says close, the third is not read.
  got = Exchange(testing::GetRequest("/health") + testing::GetRequest("/health") +
                     testing::GetRequest("/health"),
                 &closed);
  EXPECT_TRUE(closed);
  size_t replies = 0;
  for (size_t p = got.find("HTTP/1.1 200"); p != std::string::npos;
       p = got.find("HTTP/1.1 200", p + 1)) {
    ++replies;
  }
  EXPECT_EQ(replies, 2u) << got;
}

TEST_F(ProtocolTest, Http10) {
  Start();
  bool closed = false;
  std::string got = Exchange("GET /health HTTP/1.0\r\n\r\n", &closed);
  EXPECT_TRUE(StartsWith(got, "HTTP/1.1 200")) << got;
  EXPECT_TRUE(closed);
  // A stream to an HTTP/1.0 client is not chunked: it ends when the connection closes.
  got = Exchange("POST /v1/chat/completions HTTP/1.0\r\nContent-Length: " +
                     std::to_string(kChatStream.size()) + "\r\n\r\n" + kChatStream,
                 &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got.find("chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\ndata: "), std::string::npos) << got;
  EXPECT_NE(got.find("data: [DONE]\n\n"), std::string::npos) << got;
}

TEST_F(ProtocolTest, ExpectContinue) {
  Start();
  const int fd = testing::Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(
      testing::SendAll(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                               std::to_string(kChat.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
  std::vector<RawConn> c(1);
  c[0].fd = fd;
  // The interim response arrives before any body byte is sent.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (c[0].in.find("\r\n\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) c[0].in.append(buf, static_cast<size_t>(n));
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(StartsWith(c[0].in, "HTTP/1.1 100 Continue\r\n\r\n")) << c[0].in;
  c[0].in.clear();
  ASSERT_TRUE(testing::SendAll(fd, kChat));
  EXPECT_EQ(testing::ReadResponses(c, 1, std::chrono::steady_clock::now() + 5s), 1);
  EXPECT_TRUE(StartsWith(c[0].response, "HTTP/1.1 200")) << c[0].response;
  close(fd);
}

TEST_F(ProtocolTest, SlowlorisHeaderTrickleIsDroppedAtTheHeaderTimeout) {
  HttpOptions h;
  h.read_timeout_s = 1;
  h.keep_alive_timeout_s = 30;
  Start(h);
  const int fd = testing::Connect(server_->port());
  ASSERT_GE(fd, 0);
  // One byte every 100 ms: every read makes progress, but the headers never finish in time.
  const std::string head = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 's');
  const auto t0 = std::chrono::steady_clock::now();
  bool dropped = false;
  for (char ch : head) {
    if (send(fd, &ch, 1, MSG_NOSIGNAL) != 1) {
      dropped = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[64];
      if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0) {
        dropped = true;
        break;
      }
    }
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(dropped);
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 3s);
  close(fd);
}

TEST_F(ProtocolTest, StalledBodyIsDroppedAtTheBodyTimeout) {
  HttpOptions h;
  h.read_timeout_s = 1;
  Start(h);
  bool closed = false;
  const auto t0 = std::chrono::steady_clock::now();
  Exchange("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"model\"", &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(model_.engine->submitted(), 0);
}

TEST_F(ProtocolTest, IdleKeepAliveConnectionClosedAfterTimeout) {
  HttpOptions h;
  h.keep_alive_timeout_s = 1;
  Start(h);
  int fd = -1;
  const auto r = Responses(testing::GetRequest("/health"), 1, &fd);
  ASSERT_EQ(r.size(), 1u);
  const auto t0 = std::chrono::steady_clock::now();
  std::string got;
  EXPECT_TRUE(testing::ReadUntilClosed(fd, &got, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 800ms);
  EXPECT_TRUE(got.empty());
  close(fd);
}

}  // namespace
}  // namespace cachet::http
