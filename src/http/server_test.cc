#include "http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api/testing/fake_model.h"

namespace cachet::http {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kChat = R"({"model":"fake","messages":[{"role":"user","content":"Hi"}]})";
const std::string kChatStream =
    R"({"model":"fake","stream":true,"messages":[{"role":"user","content":"Hi"}]})";

class ServerTest : public ::testing::Test {
 protected:
  void Start(const std::string& reply, api::testing::FakeEngineOptions o = {},
             std::shared_ptr<Authenticator> auth = MakeNoAuth(), HttpOptions h = {}) {
    model_ = api::testing::MakeFakeModel("fake", reply, o);
    ASSERT_TRUE(registry_.Add(model_.entry).ok());
    ctx_.models = &registry_;
    ctx_.metrics = &metrics_;
    ctx_.keepalive_interval = 20ms;
    h.host = "127.0.0.1";
    h.port = 0;
    h.threads = 16;
    h.payload_max_bytes = 1 << 16;
    server_ = std::make_unique<HttpServer>(h, api::ApiRoutes(&ctx_), auth, &registry_, &metrics_);
    ASSERT_TRUE(server_->Start().ok());
    server_->SetReady(true);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(1s);
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }
  template <typename Pred>
  static bool WaitFor(Pred p, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!p() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return p();
  }

  api::testing::FakeModel model_;
  api::ModelRegistry registry_;
  api::Metrics metrics_;
  api::ApiContext ctx_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, HealthAndMetrics) {
  Start("Hello");
  auto c = Client();
  server_->SetReady(false);
  EXPECT_EQ(c.Get("/health")->status, 503);
  auto loading = c.Post("/v1/chat/completions", kChat, "application/json");
  EXPECT_EQ(loading->status, 503);
  EXPECT_EQ(loading->get_header_value("Retry-After"), "5");
  server_->SetReady(true);
  auto model = c.Get("/v1/models/fake");
  EXPECT_EQ(model->status, 200);
  EXPECT_EQ(json::parse(model->body)["id"], "fake");
  EXPECT_EQ(c.Get("/v1/models/nope")->status, 404);
  EXPECT_EQ(c.Get("/health")->status, 200);
  auto r = c.Post("/v1/chat/completions", kChat, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // Requests are counted after their response is sent: poll.
  const std::string line =
      "cachet_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1";
  std::string metrics_text;
  ASSERT_TRUE(WaitFor([&] {
    auto m = c.Get("/metrics");
    metrics_text = m ? m->body : "";
    return metrics_text.find(line) != std::string::npos;
  }));
  EXPECT_NE(metrics_text.find("cachet_tokens_total{kind=\"completion\"} 5"), std::string::npos);
  EXPECT_NE(metrics_text.find("cachet_ttft_seconds_count 1"), std::string::npos);
  EXPECT_NE(metrics_text.find("cachet_kv_blocks_total{model=\"fake\"} 128"), std::string::npos);
}

TEST_F(ServerTest, AuthInEachProtocolsShape) {
  Start("Hello", {}, MakeStaticKeyAuth({"sk-test"}));
  auto c = Client();
  auto r = c.Post("/v1/chat/completions", kChat, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key");
  const std::string msg =
      R"({"model":"fake","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]})";
  r = c.Post("/v1/messages", msg, "application/json");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "authentication_error");
  r = c.Post("/v1/chat/completions", {{"Authorization", "Bearer sk-wrong"}}, kChat,
             "application/json");
  EXPECT_EQ(r->status, 401);
  r = c.Post("/v1/chat/completions", {{"Authorization", "Bearer sk-test"}}, kChat,
             "application/json");
  EXPECT_EQ(r->status, 200);
  r = c.Post("/anthropic/v1/messages", {{"x-api-key", "sk-test"}}, msg, "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(c.Get("/health")->status, 200);  // no key needed
}

// An authenticator whose account is over its rate limit.
class LimitedAuth final : public Authenticator {
 public:
  Result<std::string> Authenticate(std::string_view) const override {
    return ResourceExhausted("rate limit reached for requests");
  }
};

TEST_F(ServerTest, AuthenticatorRateLimitIs429WithRetryAfter) {
  Start("x", {}, std::make_shared<LimitedAuth>());
  auto c = Client();
  auto r = c.Post("/v1/chat/completions", kChat, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "rate_limit_error");
  r = c.Post("/v1/messages", kChat, "application/json");
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(model_.engine->submitted(), 0);
}

TEST_F(ServerTest, NoAuthOnlyOnLoopback) {
  HttpOptions h;
  h.host = "0.0.0.0";
  HttpServer s(h, {}, MakeNoAuth(), &registry_, &metrics_);
  EXPECT_EQ(s.Start().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServerTest, UnknownRouteAndOversizedBody) {
  Start("x");
  auto c = Client();
  auto r = c.Post("/v1/nope", "{}", "application/json");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "unknown_url");
  r = c.Post("/anthropic/v1/nope", "{}", "application/json");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["type"], "error");
  r = c.Post("/v1/chat/completions", std::string(100000, ' '), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  r = c.Post("/v1/chat/completions", "{not json", "application/json");
  EXPECT_EQ(r->status, 400);
}

TEST_F(ServerTest, SseFramingOverChunkedResponse) {
  Start("Hi there");
  auto c = Client();
  std::string body;
  auto r = c.Post("/v1/chat/completions", {}, kChatStream.data(), kChatStream.size(),
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(r->get_header_value("Transfer-Encoding"), "chunked");
  // Every event is "data: <json>\n\n"; the last is [DONE].
  std::string text;
  size_t pos = 0, events = 0;
  while (pos < r->body.size()) {
    size_t end = r->body.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos);
    std::string ev = r->body.substr(pos, end - pos);
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    std::string payload = ev.substr(6);
    ++events;
    if (payload == "[DONE]") {
      EXPECT_EQ(end + 2, r->body.size());
      break;
    }
    json j = json::parse(payload);
    if (!j["choices"].empty() && j["choices"][0]["delta"].contains("content")) {
      text += j["choices"][0]["delta"]["content"].get<std::string>();
    }
    pos = end + 2;
  }
  EXPECT_EQ(text, "Hi there");
  EXPECT_GE(events, 4u);
}

TEST_F(ServerTest, ClientDisconnectCancelsRequest) {
  api::testing::FakeEngineOptions o;
  o.token_delay = 10ms;
  Start(std::string(1000, 'a'), o);
  auto c = Client();
  int chunks = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = kChatStream;
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  auto res = c.send(req);
  EXPECT_GE(chunks, 3);
  EXPECT_TRUE(WaitFor([&] { return model_.engine->cancelled() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server_->inflight() == 0; }));
  EXPECT_EQ(model_.engine->active(), 0);
}

TEST_F(ServerTest, NonStreamingClientDisconnectCancelsRequest) {
  api::testing::FakeEngineOptions o;
  o.token_delay = 10ms;
  Start(std::string(2000, 'a'), o);
  {
    auto c = Client();
    c.set_read_timeout(0, 300000);  // gives up after 0.3 s and closes the connection
    auto r = c.Post("/v1/chat/completions", kChat, "application/json");
    EXPECT_FALSE(r);
  }
  EXPECT_TRUE(WaitFor([&] { return model_.engine->cancelled() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server_->inflight() == 0; }));
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start("ok");
  auto c = Client();
  c.set_keep_alive(true);
  for (int i = 0; i < 5; ++i) {
    auto r = c.Post("/v1/chat/completions", kChat, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ServerTest, ConcurrentClients) {
  api::testing::FakeEngineOptions o;
  o.token_delay = 1ms;
  Start("concurrent reply", o);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client();
      for (int i = 0; i < 3; ++i) {
        const bool stream = (t + i) % 2 == 0;
        auto r = c.Post("/v1/chat/completions", stream ? kChatStream : kChat, "application/json");
        const char* expect = stream ? "data: [DONE]" : "concurrent reply";
        if (r && r->status == 200 && r->body.find(expect) != std::string::npos) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 24);
}

TEST_F(ServerTest, GracefulShutdownDrainsStreams) {
  api::testing::FakeEngineOptions o;
  o.token_delay = 5ms;
  Start(std::string(40, 'z'), o);
  std::string body;
  std::thread client([&] {
    auto c = Client();
    auto r = c.Post("/v1/chat/completions", kChatStream, "application/json");
    if (r) body = r->body;
  });
  ASSERT_TRUE(WaitFor([&] { return server_->inflight() == 1; }));
  std::thread stopper([&] { server_->Shutdown(5s); });
  ASSERT_TRUE(WaitFor([&] { return Client().Get("/health")->status == 503; }) ||
              server_->inflight() == 0);
  client.join();
  stopper.join();
  EXPECT_NE(body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(model_.engine->cancelled(), 0);
}

// A raw TCP connection to the server (for clients that misbehave on purpose).
int Connect(int port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST_F(ServerTest, SlowHeaderSenderIsDisconnected) {
  HttpOptions h;
  h.read_timeout_s = 1;
  h.keep_alive_timeout_s = 1;
  Start("x", {}, MakeNoAuth(), h);
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  const std::string partial = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const auto t0 = std::chrono::steady_clock::now();
  // The server gives up after the read timeout: an error response at most, then it closes.
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) got.append(buf, static_cast<size_t>(n));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(n, 0) << "connection not closed";
  EXPECT_TRUE(got.empty() || got.rfind("HTTP/1.1 4", 0) == 0) << got;
  EXPECT_LT(waited, 4s);
  close(fd);
  // Other clients are unaffected.
  EXPECT_EQ(Client().Get("/health")->status, 200);
}

TEST_F(ServerTest, ClientThatStopsReadingIsDroppedAndCancelled) {
  api::testing::FakeEngineOptions o;
  o.n_ctx = 1 << 22;
  o.script = [](const engine::GenerateRequest&) { return std::vector<int32_t>(1 << 21, 'w'); };
  HttpOptions h;
  h.write_timeout_s = 1;
  Start("", o, MakeNoAuth(), h);
  int fd = Connect(server_->port(), /*rcvbuf=*/4096);
  ASSERT_GE(fd, 0);
  const std::string req =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(kChatStream.size()) + "\r\n\r\n" + kChatStream;
  ASSERT_EQ(send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  // Never read: the server's writes block (backpressure) until the write timeout drops us.
  // (Filling the socket buffers takes a while under sanitizers: generous limit.)
  EXPECT_TRUE(WaitFor([&] { return model_.engine->cancelled() == 1; }, 60s));
  EXPECT_TRUE(WaitFor([&] { return server_->inflight() == 0; }));
  close(fd);
}

}  // namespace
}  // namespace cachet::http
