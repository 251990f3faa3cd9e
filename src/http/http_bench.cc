// http_bench: what a connection costs and how fast trivial requests go, in process, on loopback.
//
//   build/src/http/http_bench [idle_connections=5000] [seconds=2] [client_threads=2]
//
// 1. Opens `idle_connections` keep-alive connections, each served one GET /health, then idle;
//    prints the process's RSS and thread count before and after (per-connection memory is the
//    RSS growth / N: server objects plus this client's small per-connection record; kernel socket
//    buffers are not in RSS).
// 2. With them all open, times one new request.
// 3. Requests/s over keep-alive connections (one per client thread, sequential requests) on
//    GET /health (answered on the I/O thread) and GET /v1/models (a route handler: worker pool).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "api/testing/fake_model.h"
#include "http/raw_client_testing.h"
#include "http/server.h"

namespace {

using namespace cachet;
using namespace std::chrono_literals;

long StatusField(const std::string& key) {  // from /proc/self/status, in its unit (kB or count)
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return -1;
}

double RequestsPerSecond(int port, const std::string& request, int threads, double seconds) {
  std::atomic<long> total{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      std::vector<http::testing::RawConn> c(1);
      c[0].fd = http::testing::Connect(port);
      const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
      long n = 0;
      while (std::chrono::steady_clock::now() < end) {
        if (!http::testing::SendAll(c[0].fd, request)) break;
        if (http::testing::ReadResponses(c, static_cast<int>(n + 1),
                                         std::chrono::steady_clock::now() + 5s) != 1) {
          break;
        }
        ++n;
      }
      close(c[0].fd);
      total += n;
    });
  }
  for (auto& t : ts) t.join();
  return static_cast<double>(total.load()) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  http::testing::RaiseFdLimit(static_cast<rlim_t>(2 * n + 512));

  auto model = api::testing::MakeFakeModel("fake", "ok", {});
  api::ModelRegistry registry;
  if (!registry.Add(model.entry).ok()) return 1;
  api::Metrics metrics;
  api::ApiContext ctx;
  ctx.models = &registry;
  ctx.metrics = &metrics;
  http::HttpOptions h;
  h.port = 0;
  h.threads = 16;
  h.keep_alive_timeout_s = 300;
  h.keep_alive_max_count = 1 << 30;
  http::HttpServer server(h, api::ApiRoutes(&ctx), http::MakeNoAuth(), &registry, &metrics);
  if (!server.Start().ok()) return 1;
  server.SetReady(true);

  std::vector<http::testing::RawConn> conns(static_cast<size_t>(n));
  const long rss0 = StatusField("VmRSS"), threads0 = StatusField("Threads");
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& c : conns) {
    c.fd = http::testing::Connect(server.port());
    if (c.fd < 0 || !http::testing::SendAll(c.fd, http::testing::GetRequest("/health"))) {
      std::fprintf(stderr, "connect failed\n");
      return 1;
    }
  }
  const int ok = http::testing::ReadResponses(conns, 1, std::chrono::steady_clock::now() + 120s);
  const double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& c : conns) c.response = std::string();  // keep only the fd
  std::this_thread::sleep_for(200ms);
  const long rss1 = StatusField("VmRSS"), threads1 = StatusField("Threads");
  std::printf("idle connections: %d open and served (%.2f s), threads %ld -> %ld\n", ok, open_s,
              threads0, threads1);
  std::printf("RSS %ld kB -> %ld kB: %.1f KiB per connection\n", rss0, rss1,
              static_cast<double>(rss1 - rss0) / n);

  std::vector<http::testing::RawConn> fresh(1);
  const auto t1 = std::chrono::steady_clock::now();
  fresh[0].fd = http::testing::Connect(server.port());
  http::testing::SendAll(fresh[0].fd, http::testing::GetRequest("/v1/models"));
  http::testing::ReadResponses(fresh, 1, t1 + 10s);
  std::printf(
      "new request with %d idle connections open: %.2f ms (%s)\n", n,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count(),
      fresh[0].response.substr(0, 15).c_str());
  close(fresh[0].fd);

  std::printf(
      "GET /health     (I/O thread):  %.0f requests/s, %d client threads\n",
      RequestsPerSecond(server.port(), http::testing::GetRequest("/health"), threads, seconds),
      threads);
  std::printf(
      "GET /v1/models  (worker pool): %.0f requests/s, %d client threads\n",
      RequestsPerSecond(server.port(), http::testing::GetRequest("/v1/models"), threads, seconds),
      threads);
  for (auto& c : conns) close(c.fd);
  server.Shutdown(1s);
  return 0;
}
