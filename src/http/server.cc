#include "http/server.h"

#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "base/log.h"
#include "http/connection.h"
#include "http/worker_pool.h"

namespace cachet::http {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

Reply FromApiReply(api::ApiReply r) {
  Reply out;
  out.status = r.status;
  out.content_type = std::move(r.content_type);
  out.body = std::move(r.body);
  out.headers = std::move(r.headers);
  return out;
}

// So that thousands of sockets fit: the soft fd limit up to the hard one. Once per process.
void RaiseFdLimit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
      const rlim_t before = rl.rlim_cur;
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        LOG_WARN << "http: cannot raise the open-file limit from " << before;
        return;
      }
    }
    LOG_INFO << "http: open-file limit " << rl.rlim_cur;
  });
}

// A connection over the cap: a 503 if the socket takes it at once, then closed.
void RejectBusy(tcp::socket socket) {
  static const std::string kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: "
      "1\r\nContent-Length: 67\r\nConnection: close\r\n\r\n"
      R"({"error":{"message":"too many connections","type":"overloaded"}} )";
  error_code ec;
  socket.non_blocking(true, ec);
  asio::const_buffer buf(kBusy.data(), kBusy.size());
  socket.write_some(buf, ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace

struct HttpServer::Impl final : ConnectionOwner {
  HttpOptions opts;
  ConnectionLimits limits;
  std::vector<api::Route> routes;
  std::shared_ptr<Authenticator> auth;
  const api::ModelRegistry* models = nullptr;
  api::Metrics* metrics = nullptr;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> running{false};
  std::atomic<int> inflight{0};
  int port = 0;

  std::shared_ptr<ConnectionRegistry> registry = std::make_shared<ConnectionRegistry>();
  std::shared_ptr<asio::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::vector<std::thread> io_threads;
  std::unique_ptr<WorkerPool> workers;
  std::atomic<uint64_t> next_id{1};

  Status Bind();
  void Accept();
  void OnRequest(std::shared_ptr<Connection> conn, Request req) override;
  void OnResponse(const std::string& path, int status) override {
    metrics->CountRequest(RouteLabel(path), status);
  }
  Reply ErrorReply(const std::string& path, int status, const std::string& message) override;
  bool AnswerInline(Connection& conn, const Request& req);
  void Serve(const api::Route& route, const std::shared_ptr<Connection>& conn,
             const std::shared_ptr<Request>& req);
  void StopAll();
  std::string RouteLabel(const std::string& path) const {
    for (const auto& r : routes) {
      if (r.path == path) return path;
      if (r.path.find('(') != std::string::npos && RouteMatches(r.path, path)) {
        return r.path.substr(0, r.path.find('(')) + "{id}";
      }
    }
    if (path == "/health" || path == "/metrics") return path;
    return "other";
  }
  void InflightDone() {
    inflight.fetch_sub(1);
    metrics->AddInflight(-1);
  }
};

Reply HttpServer::Impl::ErrorReply(const std::string& path, int status,
                                   const std::string& message) {
  api::ApiError e = api::InvalidRequest(message);
  if (status == 413) e = {api::ErrorKind::kRequestTooLarge, message, "", "", 0};
  Reply r = FromApiReply(api::ErrorReply(api::ProtocolForPath(path), e));
  r.status = status;
  return r;
}

// /health, /metrics and the server's own refusals: cheap, never blocking, so they are answered
// on the I/O thread even while every worker is busy. True when answered.
bool HttpServer::Impl::AnswerInline(Connection& conn, const Request& req) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/health" && get) {
    const bool ok = ready.load() && !draining.load();
    Reply r;
    r.status = ok ? 200 : 503;
    r.content_type = "application/json";
    r.body = ok ? R"({"status":"ok"})"
                : (draining.load() ? R"({"status":"draining"})" : R"({"status":"loading"})");
    conn.SendReply(std::move(r), nullptr);
    return true;
  }
  if (req.path == "/metrics" && get) {
    std::vector<std::pair<std::string, engine::EngineStats>> stats;
    if (ready.load()) {
      for (const auto& m : models->models()) stats.emplace_back(m->name, m->engine->stats());
    }
    Reply r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics->Render(stats);
    conn.SendReply(std::move(r), nullptr);
    return true;
  }
  const api::Protocol protocol = api::ProtocolForPath(req.path);
  // Until the models are loaded (SetReady) the registry is not read by any request.
  if (!ready.load() && !draining.load()) {
    conn.SendReply(FromApiReply(api::ErrorReply(
                       protocol, api::ApiError{api::ErrorKind::kOverloaded,
                                               "the server is loading its models", "", "", 5})),
                   nullptr);
    return true;
  }
  if (draining.load()) {
    Reply r = FromApiReply(api::ErrorReply(
        protocol,
        api::ApiError{api::ErrorKind::kOverloaded, "the server is shutting down", "", "", 1}));
    r.close = true;
    conn.SendReply(std::move(r), nullptr);
    return true;
  }
  return false;
}

void HttpServer::Impl::OnRequest(std::shared_ptr<Connection> conn, Request req) {
  if (AnswerInline(*conn, req)) return;
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  const api::Route* found = nullptr;
  bool path_known = req.path == "/health" || req.path == "/metrics";
  for (const api::Route& r : routes) {
    if (!RouteMatches(r.path, req.path)) continue;
    path_known = true;
    if (r.method == method) {
      found = &r;
      break;
    }
  }
  if (found == nullptr) {
    const api::Protocol protocol = api::ProtocolForPath(req.path);
    api::ApiError e =
        path_known
            ? api::InvalidRequest("method not allowed")
            : api::ApiError{api::ErrorKind::kNotFound,
                            "Unknown request URL: " + req.method + " " + req.path, "", "", 0};
    Reply r = FromApiReply(api::ErrorReply(protocol, e));
    r.status = path_known ? 405 : 404;
    conn->SendReply(std::move(r), nullptr);
    return;
  }
  auto shared = std::make_shared<Request>(std::move(req));
  const api::Route& route = *found;
  if (!workers->Submit([this, &route, conn, shared] { Serve(route, conn, shared); })) {
    conn->SendReply(ErrorReply(shared->path, 503, "the server is shutting down"), nullptr);
  }
}

// On a worker: authenticate, run the handler, hand the reply (or stream) to the connection.
void HttpServer::Impl::Serve(const api::Route& route, const std::shared_ptr<Connection>& conn,
                             const std::shared_ptr<Request>& req) {
  api::ApiCall call;
  if (route.needs_key) {
    const std::string key = ExtractApiKey(req->Header("Authorization"), req->Header("x-api-key"));
    auto account = auth->Authenticate(key);
    if (!account.ok()) {
      api::ApiError e = api::FromStatus(account.status());
      if (account.status().code() == StatusCode::kResourceExhausted) {
        // From the authenticator this is the account's rate limit, not server load.
        e = api::ApiError{api::ErrorKind::kRateLimit, account.status().message(), "", "", 1};
      }
      conn->SendReply(FromApiReply(api::ErrorReply(route.protocol, e)), nullptr);
      return;
    }
    call.account_id = *account;
  }
  call.path = req->path;
  call.body = std::move(req->body);
  call.query = [req](const std::string& name) { return QueryParam(req->query, name); };
  call.header = [req](const std::string& name) { return req->Header(name); };
  call.client_alive = [weak = std::weak_ptr<Connection>(conn)] {
    auto c = weak.lock();
    return c && c->ClientAlive();
  };
  inflight.fetch_add(1);
  metrics->AddInflight(1);
  api::ApiReply reply;
  try {
    reply = route.handler(call);
  } catch (const std::exception& e) {
    LOG_ERROR << "handler for " << req->path << " threw: " << e.what();
    reply = api::ErrorReply(route.protocol,
                            api::ApiError{api::ErrorKind::kInternal, "internal error", "", "", 0});
  }
  if (!reply.stream) {
    conn->SendReply(FromApiReply(std::move(reply)), [this] { InflightDone(); });
    return;
  }
  auto stream = std::move(reply.stream);
  auto sink = conn->StartStream(reply.status, std::move(reply.content_type),
                                std::move(reply.headers), [this] { InflightDone(); });
  try {
    stream(*sink);
  } catch (const std::exception& e) {
    LOG_ERROR << "stream for " << req->path << " threw: " << e.what();
  }
  // Releasing the stream function releases its Generation, which cancels an unfinished request.
  stream = nullptr;
  sink->Finish();
}

Status HttpServer::Impl::Bind() {
  error_code ec;
  auto address = asio::ip::make_address(opts.host == "localhost" ? "127.0.0.1" : opts.host, ec);
  if (ec) return InvalidArgument("cannot parse host '" + opts.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(opts.port));
  acceptor = std::make_unique<tcp::acceptor>(*ioc);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return IoError("cannot bind " + opts.host + ":" + std::to_string(opts.port) + ": " +
                   ec.message());
  }
  port = acceptor->local_endpoint().port();
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of fds (EMFILE) and the like: back off instead of spinning.
      LOG_WARN << "http: accept failed: " << ec.message();
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](error_code e) {
        if (!e) Accept();
      });
      return;
    }
    if (registry->open() >= static_cast<size_t>(std::max(1, opts.max_connections))) {
      RejectBusy(std::move(socket));
    } else {
      std::make_shared<Connection>(ioc, std::move(socket), limits, this, registry,
                                   next_id.fetch_add(1))
          ->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(HttpOptions options, std::vector<api::Route> routes,
                       std::shared_ptr<Authenticator> auth, const api::ModelRegistry* models,
                       api::Metrics* metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(options);
  impl_->routes = std::move(routes);
  impl_->auth = std::move(auth);
  impl_->models = models;
  impl_->metrics = metrics;
}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.auth->open() && !IsLoopbackHost(s.opts.host)) {
    return InvalidArgument("--no-auth is only allowed on a loopback host, not '" + s.opts.host +
                           "'");
  }
  // A client that disconnects mid-write must be an error value, not a signal.
  signal(SIGPIPE, SIG_IGN);
  RaiseFdLimit();
  const HttpOptions& o = s.opts;
  s.limits.payload_max_bytes = o.payload_max_bytes;
  s.limits.header_max_count = o.header_max_count;
  s.limits.header_max_bytes = o.header_max_bytes;
  s.limits.header_timeout = std::chrono::seconds(std::max(1, o.read_timeout_s));
  s.limits.body_timeout = std::chrono::seconds(std::max(1, o.read_timeout_s));
  s.limits.keep_alive_timeout = std::chrono::seconds(std::max(1, o.keep_alive_timeout_s));
  s.limits.write_timeout = std::chrono::seconds(std::max(1, o.write_timeout_s));
  s.limits.keep_alive_max_count = std::max(1, o.keep_alive_max_count);
  s.limits.stream_buffer_bytes = std::max<size_t>(1024, o.stream_buffer_bytes);
  s.ioc = std::make_shared<asio::io_context>(std::max(1, o.io_threads));
  if (Status st = s.Bind(); !st.ok()) {
    s.acceptor.reset();
    s.ioc.reset();
    return st;
  }
  s.accept_retry = std::make_unique<asio::steady_timer>(*s.ioc);
  s.workers = std::make_unique<WorkerPool>(std::max(1, o.threads));
  s.running = true;
  s.Accept();
  for (int i = 0; i < std::max(1, o.io_threads); ++i) {
    s.io_threads.emplace_back([ioc = s.ioc] { ioc->run(); });
  }
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::SetReady(bool ready) { impl_->ready = ready; }

int HttpServer::inflight() const { return impl_->inflight.load(); }

// Stops the I/O threads, closes every connection (failing the streams, so blocked workers
// return), joins the workers, then runs what the I/O queue still holds so every connection is
// released before the io_context goes.
void HttpServer::Impl::StopAll() {
  ioc->stop();
  for (auto& t : io_threads) t.join();
  io_threads.clear();
  error_code ec;
  acceptor->close(ec);
  accept_retry->cancel();
  for (const auto& c : registry->Live()) c->ForceClose();
  workers->Stop();
  ioc->restart();
  ioc->poll();
  acceptor.reset();
  accept_retry.reset();
  ioc.reset();
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.running.exchange(false)) return;
  s.draining = true;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (s.inflight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (s.inflight.load() > 0) {
    LOG_WARN << "shutdown: " << s.inflight.load()
             << " requests still running after the grace period";
  }
  s.StopAll();
}

}  // namespace cachet::http
