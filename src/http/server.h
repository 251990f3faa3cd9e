// HttpServer: the HTTP/1.1 transport (cpp-httplib, the only code that includes it) for the API
// routes, plus GET /health and GET /metrics.
//
// - A fixed pool of connection threads (`threads`): each connection is served by one thread for
//   its lifetime (keep-alive included), so `threads` bounds concurrent requests; further
//   connections wait in the accept queue.
// - Limits: request body (413), header count and total header bytes (431), request line and each
//   header line (8 KiB, compiled into the library), read and write timeouts (a client that stops
//   reading a stream for write_timeout_s is dropped).
// - Streaming replies are written with chunked transfer encoding from the connection thread; a
//   write blocks while the client is slow (backpressure) and fails once it is gone, which cancels
//   the request in the engine.
// - Auth: every API route asks the Authenticator (401/403/429 in the route's protocol shape).
// - Shutdown(grace): /health turns 503, new API requests get 503, in-flight requests (streams
//   included) get up to `grace` to finish, then the listener stops.
//
// Thread-safety: Start/Shutdown from one controlling thread; everything else is internal.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/metrics.h"
#include "api/model_registry.h"
#include "api/service.h"
#include "base/status.h"
#include "http/auth.h"

namespace cachet::http {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port())
  int threads = 256;
  int keep_alive_max_count = 1000;  // requests per connection
  int keep_alive_timeout_s = 5;     // idle time between requests on a connection
  int read_timeout_s = 30;
  int write_timeout_s = 30;
  size_t payload_max_bytes = 8 << 20;
  size_t header_max_count = 128;
  size_t header_max_bytes = 64 << 10;
};

class HttpServer {
 public:
  // `models` and `metrics` must outlive the server; `routes` come from api::ApiRoutes().
  HttpServer(HttpOptions options, std::vector<api::Route> routes,
             std::shared_ptr<Authenticator> auth, const api::ModelRegistry* models,
             api::Metrics* metrics);
  ~HttpServer();  // Shutdown(0) if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on a background thread. Errors: InvalidArgument when the
  // authenticator is open (--no-auth) and the host is not loopback; IoError when the address
  // cannot be bound.
  Status Start();
  // The bound port (after Start).
  int port() const;
  // /health answers 200 only while ready. Before the first SetReady(true) API requests get 503
  // and the model registry is not read, so it may still be filled (models loading).
  void SetReady(bool ready);
  // Drains and stops; idempotent.
  void Shutdown(std::chrono::milliseconds grace);
  // Requests being handled now (streams included).
  int inflight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cachet::http
