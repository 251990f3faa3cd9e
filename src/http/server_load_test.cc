// The server under many connections: idle keep-alive connections and slow clients cost a socket,
// not a thread. Each test fails on a thread-per-connection server (the connections beyond its
// threads would never be served before the deadline).
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

class LoadTest : public ::testing::Test {
 protected:
  void Start(const std::string& reply, api::testing::FakeEngineOptions o, HttpOptions h) {
    model_ = api::testing::MakeFakeModel("fake", reply, o);
    ASSERT_TRUE(registry_.Add(model_.entry).ok());
    ctx_.models = &registry_;
    ctx_.metrics = &metrics_;
    ctx_.keepalive_interval = 50ms;
    h.host = "127.0.0.1";
    h.port = 0;
    server_ =
        std::make_unique<HttpServer>(h, api::ApiRoutes(&ctx_), MakeNoAuth(), &registry_, &metrics_);
    ASSERT_TRUE(server_->Start().ok());
    server_->SetReady(true);
  }
  void TearDown() override {
    for (auto& c : conns_) close(c.fd);
    if (server_) server_->Shutdown(1s);
  }
  // Opens n connections (asserting they connect).
  void OpenConnections(int n, int rcvbuf = 0) {
    for (int i = 0; i < n; ++i) {
      RawConn c;
      c.fd = testing::Connect(server_->port(), rcvbuf);
      ASSERT_GE(c.fd, 0) << "connection " << i << ": " << strerror(errno);
      conns_.push_back(c);
    }
  }
  void SendOnAll(const std::string& request) {
    for (auto& c : conns_) ASSERT_TRUE(testing::SendAll(c.fd, request));
  }

  api::testing::FakeModel model_;
  api::ModelRegistry registry_;
  api::Metrics metrics_;
  api::ApiContext ctx_;
  std::unique_ptr<HttpServer> server_;
  std::vector<RawConn> conns_;
};

TEST_F(LoadTest, ThousandsOfIdleKeepAliveConnectionsDoNotBlockNewClients) {
  // Client and server ends of every connection live in this process: 2,000 connections need
  // ~4,300 fds; a smaller hard limit scales the test down (still far more than the workers).
  const int kConns = static_cast<int>(
      std::min<rlim_t>(2000, (testing::RaiseFdLimit(2 * 2000 + 256) - 256) / 2));
  if (kConns < 500) GTEST_SKIP() << "open-file hard limit too low for this test";
  HttpOptions h;
  h.threads = 16;
  h.io_threads = 2;
  h.keep_alive_timeout_s = 120;  // they stay open for the whole test
  h.read_timeout_s = 120;
  Start("ok", {}, h);
  OpenConnections(kConns);
  // Every connection is served once and then sits idle in keep-alive.
  SendOnAll(testing::GetRequest("/health"));
  EXPECT_EQ(testing::ReadResponses(conns_, 1, std::chrono::steady_clock::now() + 60s), kConns);

  // A new client is answered promptly while they all stay open.
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<RawConn> fresh(1);
  fresh[0].fd = testing::Connect(server_->port());
  ASSERT_GE(fresh[0].fd, 0);
  ASSERT_TRUE(testing::SendAll(fresh[0].fd, testing::PostRequest("/v1/chat/completions", kChat)));
  EXPECT_EQ(testing::ReadResponses(fresh, 1, t0 + 10s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(fresh[0].response.rfind("HTTP/1.1 200", 0), 0u) << fresh[0].response;
  EXPECT_NE(fresh[0].response.find("\"content\":\"ok\""), std::string::npos);
  close(fresh[0].fd);

  // The old connections still work.
  SendOnAll(testing::GetRequest("/v1/models"));
  EXPECT_EQ(testing::ReadResponses(conns_, 2, std::chrono::steady_clock::now() + 60s), kConns);
  int ok = 0;
  for (const auto& c : conns_) ok += c.response.find("\"fake\"") != std::string::npos;
  EXPECT_EQ(ok, kConns);
}

TEST_F(LoadTest, SlowStreamingClientsOutnumberingWorkersAreAllServed) {
  constexpr int kConns = 320;
  ASSERT_GE(testing::RaiseFdLimit(2 * kConns + 256), static_cast<rlim_t>(2 * kConns + 256));
  api::testing::FakeEngineOptions o;
  o.token_delay = 1ms;
  HttpOptions h;
  h.threads = 16;  // 20x fewer workers than streaming clients
  h.io_threads = 2;
  h.keep_alive_timeout_s = 60;  // no client closes until all are served
  Start(std::string(60, 's'), o, h);
  OpenConnections(kConns, /*rcvbuf=*/2048);
  SendOnAll(testing::PostRequest("/v1/chat/completions", kChatStream));
  // Slow readers: at most 256 bytes per connection per round, 2 ms between rounds.
  const int done = testing::ReadResponses(conns_, 1, std::chrono::steady_clock::now() + 40s,
                                          /*max_read=*/256, /*pause=*/2ms);
  EXPECT_EQ(done, kConns);
  int complete = 0;
  for (const auto& c : conns_) {
    complete += c.response.find("data: [DONE]") != std::string::npos && !c.eof;
  }
  EXPECT_EQ(complete, kConns);
  EXPECT_EQ(model_.engine->submitted(), kConns);
  EXPECT_EQ(model_.engine->cancelled(), 0);
}

// A stream much larger than the connection's buffer, read slowly: Write blocks while the buffer
// is full and resumes as the client drains it; every byte arrives, in order, exactly once.
TEST_F(LoadTest, SlowReaderOfALongStreamGetsEveryByte) {
  constexpr int kTokens = 3000;  // ~450 KB of SSE events, ~7x the stream buffer
  api::testing::FakeEngineOptions o;
  o.script = [](const engine::GenerateRequest&) {
    std::vector<int32_t> ids;
    for (int i = 0; i < kTokens; ++i) ids.push_back('a' + i % 26);
    return ids;
  };
  HttpOptions h;
  h.threads = 2;
  h.stream_buffer_bytes = 16 << 10;
  Start("", o, h);
  OpenConnections(1, /*rcvbuf=*/4096);
  SendOnAll(testing::PostRequest("/v1/chat/completions", kChatStream));
  ASSERT_EQ(testing::ReadResponses(conns_, 1, std::chrono::steady_clock::now() + 60s,
                                   /*max_read=*/2048, /*pause=*/1ms),
            1);
  // Reassemble the chunked body, then the content deltas.
  const std::string& r = conns_[0].response;
  size_t pos = r.find("\r\n\r\n") + 4;
  std::string body;
  while (true) {
    const size_t eol = r.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos);
    const size_t n = std::stoul(r.substr(pos, eol - pos), nullptr, 16);
    if (n == 0) break;
    body += r.substr(eol + 2, n);
    pos = eol + 2 + n + 2;
  }
  std::string text;
  const std::string key = "\"content\":\"";
  for (size_t p = body.find(key); p != std::string::npos; p = body.find(key, p + 1)) {
    const size_t end = body.find('"', p + key.size());
    text += body.substr(p + key.size(), end - p - key.size());
  }
  ASSERT_EQ(text.size(), static_cast<size_t>(kTokens));
  for (int i = 0; i < kTokens; ++i) ASSERT_EQ(text[i], 'a' + i % 26) << i;
  EXPECT_NE(body.find("data: [DONE]"), std::string::npos);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server_->inflight() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(server_->inflight(), 0);
}

TEST_F(LoadTest, StalledStreamReaderIsDroppedAndFreesItsWorker) {
  api::testing::FakeEngineOptions o;
  o.n_ctx = 1 << 22;
  o.script = [](const engine::GenerateRequest&) { return std::vector<int32_t>(1 << 21, 'w'); };
  HttpOptions h;
  h.threads = 1;  // the stalled stream holds the only worker until it is dropped
  h.write_timeout_s = 1;
  Start("", o, h);
  const int stalled = testing::Connect(server_->port(), /*rcvbuf=*/4096);
  ASSERT_GE(stalled, 0);
  ASSERT_TRUE(testing::SendAll(stalled, testing::PostRequest("/v1/chat/completions", kChatStream)));
  // Never read: the stream buffer fills, Write blocks, the write timeout drops the client.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (model_.engine->cancelled() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(model_.engine->cancelled(), 1);
  // The worker is free again: a new request is served.
  std::vector<RawConn> next(1);
  next[0].fd = testing::Connect(server_->port());
  ASSERT_TRUE(testing::SendAll(next[0].fd, testing::GetRequest("/v1/models")));
  EXPECT_EQ(testing::ReadResponses(next, 1, std::chrono::steady_clock::now() + 10s), 1);
  EXPECT_EQ(next[0].response.rfind("HTTP/1.1 200", 0), 0u);
  close(next[0].fd);
  std::string got;
  EXPECT_TRUE(testing::ReadUntilClosed(stalled, &got, 10s)) << "stalled client not closed";
  close(stalled);
}

TEST_F(LoadTest, ConnectionsOverTheCapAreRefused) {
  HttpOptions h;
  h.max_connections = 4;
  h.keep_alive_timeout_s = 30;
  Start("ok", {}, h);
  OpenConnections(4);
  SendOnAll(testing::GetRequest("/health"));
  ASSERT_EQ(testing::ReadResponses(conns_, 1, std::chrono::steady_clock::now() + 10s), 4);
  const int extra = testing::Connect(server_->port());
  ASSERT_GE(extra, 0);
  std::string got;
  EXPECT_TRUE(testing::ReadUntilClosed(extra, &got, 5s));
  EXPECT_TRUE(got.empty() || got.rfind("HTTP/1.1 503", 0) == 0) << got;
  close(extra);
  // Closing one makes room.
  close(conns_.back().fd);
  conns_.pop_back();
  std::vector<RawConn> next(1);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    next[0] = RawConn{};
    next[0].fd = testing::Connect(server_->port());
    ASSERT_GE(next[0].fd, 0);
    testing::SendAll(next[0].fd, testing::GetRequest("/health"));
    testing::ReadResponses(next, 1, std::chrono::steady_clock::now() + 2s);
    if (next[0].response.rfind("HTTP/1.1 200", 0) == 0) break;
    close(next[0].fd);  // the server had not seen the close yet
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(next[0].response.rfind("HTTP/1.1 200", 0), 0u) << next[0].response;
  close(next[0].fd);
}

}  // namespace
}  // namespace cachet::http
