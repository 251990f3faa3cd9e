// HttpServer: the HTTP/1.1 transport for the API routes, plus GET /health and GET /metrics.
// Boost.Beast parses and Boost.Asio moves the bytes; src/http is the only code that includes them.
//
// - I/O: `io_threads` threads run every socket asynchronously (accept, read, write, timers). An
//   idle keep-alive connection or a slow client costs a socket and a little memory, not a thread;
//   `max_connections` caps open connections (beyond it a new connection gets a 503 and is
//   closed), and Start raises RLIMIT_NOFILE's soft limit to the hard limit so that many fit.
// - Handlers: route handlers block (they wait on the engine, write streams), so they run on a pool
//   of `threads` workers: `threads` bounds the requests being handled at once; further requests
//   wait in a queue while their connections stay open. /health, /metrics and the server's own
//   errors (404, 405, 503 while loading or draining) are answered on the I/O threads.
// - Limits: request body (413), header count and total header bytes (431), request line (414)
//   and each header line (400) 8 KiB, malformed requests (400); the connection closes after these.
//   Timeouts: headers must arrive within read_timeout_s of the first byte (slowloris) and the
//   body within read_timeout_s more; an idle keep-alive connection is closed after
//   keep_alive_timeout_s; a reply write that makes no progress for write_timeout_s drops the
//   client (a stream's request is then cancelled). keep_alive_max_count requests per connection,
//   "Connection: close" and HTTP/1.0 are honoured.
// - Streaming replies use chunked transfer encoding (close-delimited for HTTP/1.0 clients).
//   api::ByteSink::Write hands bytes to the connection's writer and blocks while
//   stream_buffer_bytes are unsent (backpressure); it returns false once the client is gone or
//   the write timed out, which cancels the request in the engine. A non-streaming request's
//   ApiCall::client_alive turns false once the peer closes.
// - Auth: every API route asks the Authenticator (401/403/429 in the route's protocol shape).
// - Shutdown(grace): /health turns 503, new API requests get 503, in-flight requests (streams
//   included, until their last byte is written) get up to `grace` to finish, then every
//   connection is closed and the threads stop.
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
  int port = 8080;     // 0: any free port (see HttpServer::port())
  int threads = 256;   // worker threads: requests handled at once (not connections)
  int io_threads = 1;  // threads running the sockets
  int max_connections = 10000;
  int keep_alive_max_count = 1000;  // requests per connection
  int keep_alive_timeout_s = 5;     // idle time between requests on a connection
  int read_timeout_s = 30;          // headers (from their first byte), then the body
  int write_timeout_s = 30;         // one write of a reply making no progress
  size_t payload_max_bytes = 8 << 20;
  size_t stream_buffer_bytes = 64 << 10;  // unsent stream bytes before ByteSink::Write blocks
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

  // Binds and starts serving on background threads. Errors: InvalidArgument when the
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
