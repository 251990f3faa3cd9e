#include "http/server.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "base/log.h"
#include "http/peer_socket.h"

namespace cachet::http {

namespace {

// api::ByteSink over the library's chunked sink.
class ChunkSink final : public api::ByteSink {
 public:
  explicit ChunkSink(httplib::DataSink& sink) : sink_(sink) {}
  bool Write(std::string_view data) override {
    if (failed_) return false;
    if (!sink_.write(data.data(), data.size())) failed_ = true;
    return !failed_;
  }
  bool failed() const { return failed_; }

 private:
  httplib::DataSink& sink_;
  bool failed_ = false;
};

void ApplyReply(const api::ApiReply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [k, v] : reply.headers) res.set_header(k, v);
  if (!reply.stream) res.set_content(reply.body, reply.content_type);
}

}  // namespace

struct HttpServer::Impl {
  HttpOptions opts;
  std::vector<api::Route> routes;
  std::shared_ptr<Authenticator> auth;
  const api::ModelRegistry* models;
  api::Metrics* metrics;
  httplib::Server svr;
  std::thread thread;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> running{false};
  std::atomic<int> inflight{0};
  int port = 0;

  void Register();
  void InstallHooks();
  void Serve(const api::Route& route, const httplib::Request& req, httplib::Response& res);
  std::string RouteLabel(const std::string& path) const {
    for (const auto& r : routes) {
      if (r.path == path) return path;
      if (r.path.find('(') != std::string::npos &&
          path.rfind(r.path.substr(0, r.path.find('(')), 0) == 0) {
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

void HttpServer::Impl::Serve(const api::Route& route, const httplib::Request& req,
                             httplib::Response& res) {
  api::ApiCall call;
  if (route.needs_key) {
    const std::string key =
        ExtractApiKey(req.get_header_value("Authorization"), req.get_header_value("x-api-key"));
    auto account = auth->Authenticate(key);
    if (!account.ok()) {
      api::ApiError e = api::FromStatus(account.status());
      if (account.status().code() == StatusCode::kResourceExhausted) {
        // From the authenticator this is the account's rate limit, not server load.
        e = api::ApiError{api::ErrorKind::kRateLimit, account.status().message(), "", "", 1};
      }
      ApplyReply(api::ErrorReply(route.protocol, e), res);
      return;
    }
    call.account_id = *account;
  }
  call.path = req.path;
  call.body = req.body;
  call.query = [&req](const std::string& name) { return req.get_param_value(name.c_str()); };
  call.header = [&req](const std::string& name) { return req.get_header_value(name); };
  call.client_alive = [ip = req.remote_addr, port = req.remote_port, local = req.local_port] {
    return ConnectionAlive(ip, port, local);
  };
  inflight.fetch_add(1);
  metrics->AddInflight(1);
  api::ApiReply reply = route.handler(call);
  ApplyReply(reply, res);
  if (!reply.stream) {
    InflightDone();
    return;
  }
  auto stream = std::make_shared<std::function<void(api::ByteSink&)>>(std::move(reply.stream));
  res.set_chunked_content_provider(
      reply.content_type,
      [stream](size_t, httplib::DataSink& sink) {
        ChunkSink out(sink);
        (*stream)(out);
        if (out.failed()) return false;
        sink.done();
        return true;
      },
      // Runs once the response is over (sent, failed or never started): the stream function
      // and with it the Generation are released here, which cancels an unfinished request.
      [this, stream](bool) {
        *stream = nullptr;
        InflightDone();
      });
}

void HttpServer::Impl::Register() {
  for (const api::Route& route : routes) {
    auto handler = [this, &route](const httplib::Request& req, httplib::Response& res) {
      Serve(route, req, res);
    };
    if (route.method == "GET") {
      svr.Get(route.path, handler);
    } else {
      svr.Post(route.path, handler);
    }
  }
  svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = ready.load() && !draining.load();
    res.status = ok ? 200 : 503;
    std::string body =
        ok ? R"({"status":"ok"})"
           : (draining.load() ? R"({"status":"draining"})" : R"({"status":"loading"})");
    res.set_content(body, "application/json");
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<std::pair<std::string, engine::EngineStats>> stats;
    if (ready.load()) {
      for (const auto& m : models->models()) stats.emplace_back(m->name, m->engine->stats());
    }
    res.set_content(metrics->Render(stats), "text/plain; version=0.0.4");
  });
  InstallHooks();
}

// Pre-routing checks (limits the library does not enforce, loading, draining), protocol-shaped
// bodies for the library's own errors, exceptions, request metrics.
void HttpServer::Impl::InstallHooks() {
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    size_t bytes = 0;
    for (const auto& [k, v] : req.headers) bytes += k.size() + v.size() + 4;
    const api::Protocol protocol = api::ProtocolForPath(req.path);
    if (req.headers.size() > opts.header_max_count || bytes > opts.header_max_bytes) {
      ApplyReply(api::ErrorReply(protocol, api::InvalidRequest("request headers too large")), res);
      res.status = 431;
      return httplib::Server::HandlerResponse::Handled;
    }
    // Until the models are loaded (SetReady) the registry is not read by any request.
    if (!ready.load() && !draining.load() && req.path != "/health" && req.path != "/metrics") {
      ApplyReply(
          api::ErrorReply(protocol, api::ApiError{api::ErrorKind::kOverloaded,
                                                  "the server is loading its models", "", "", 5}),
          res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (draining.load() && req.path != "/health" && req.path != "/metrics") {
      ApplyReply(api::ErrorReply(protocol, api::ApiError{api::ErrorKind::kOverloaded,
                                                         "the server is shutting down", "", "", 1}),
                 res);
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors the library produces itself (no route, body too large, bad request line) get the
  // protocol's error body.
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const api::Protocol protocol = api::ProtocolForPath(req.path);
    api::ApiError e;
    switch (res.status) {
      case 404:
        e = {api::ErrorKind::kNotFound, "Unknown request URL: " + req.method + " " + req.path, "",
             "", 0};
        break;
      case 413:
        e = {api::ErrorKind::kRequestTooLarge, "request body is too large", "", "", 0};
        break;
      case 405:
        e = api::InvalidRequest("method not allowed");
        break;
      default:
        e = api::InvalidRequest("bad request");
        break;
    }
    const int status = res.status;
    ApplyReply(api::ErrorReply(protocol, e), res);
    res.status = status;
  });
  svr.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        ApplyReply(
            api::ErrorReply(api::ProtocolForPath(req.path),
                            api::ApiError{api::ErrorKind::kInternal, "internal error", "", "", 0}),
            res);
      });
  svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics->CountRequest(RouteLabel(req.path), res.status);
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
  const size_t threads = static_cast<size_t>(std::max(1, s.opts.threads));
  s.svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.svr.set_keep_alive_max_count(static_cast<size_t>(s.opts.keep_alive_max_count));
  s.svr.set_keep_alive_timeout(s.opts.keep_alive_timeout_s);
  s.svr.set_read_timeout(s.opts.read_timeout_s, 0);
  s.svr.set_write_timeout(s.opts.write_timeout_s, 0);
  s.svr.set_payload_max_length(s.opts.payload_max_bytes);
  s.svr.set_tcp_nodelay(true);
  s.Register();
  if (s.opts.port == 0) {
    s.port = s.svr.bind_to_any_port(s.opts.host);
    if (s.port < 0) return IoError("cannot bind " + s.opts.host);
  } else {
    if (!s.svr.bind_to_port(s.opts.host, s.opts.port)) {
      return IoError("cannot bind " + s.opts.host + ":" + std::to_string(s.opts.port));
    }
    s.port = s.opts.port;
  }
  s.running = true;
  s.thread = std::thread([this] { impl_->svr.listen_after_bind(); });
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::SetReady(bool ready) { impl_->ready = ready; }

int HttpServer::inflight() const { return impl_->inflight.load(); }

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
  s.svr.stop();
  if (s.thread.joinable()) s.thread.join();
}

}  // namespace cachet::http
