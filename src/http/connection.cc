#include "http/connection.h"

#include <poll.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

namespace cachet::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr std::chrono::milliseconds kLinger{2000};
constexpr size_t kLingerMaxBytes = 4 << 20;
constexpr size_t kDrainChunk = 4096;

}  // namespace

// ---- ConnectionRegistry ----------------------------------------------------------------------

void ConnectionRegistry::Add(uint64_t id, std::weak_ptr<Connection> conn) {
  std::lock_guard<std::mutex> l(mu_);
  conns_.emplace(id, std::move(conn));
  open_.store(conns_.size());
}

void ConnectionRegistry::Remove(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  conns_.erase(id);
  open_.store(conns_.size());
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::Live() const {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [id, weak] : conns_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

// ---- StreamSink (worker side) ----------------------------------------------------------------

bool StreamSink::Write(std::string_view data) {
  std::unique_lock<std::mutex> l(mu_);
  // One write larger than the buffer still goes through once the buffer is empty.
  cv_.wait(l, [&] { return failed_ || pending_.size() + in_flight_ < cap_; });
  if (failed_) return false;
  if (data.empty()) return true;
  if (chunked_) {
    AppendChunk(data, &pending_);
  } else {
    pending_.append(data.data(), data.size());
  }
  ScheduleFlushLocked();
  return true;
}

void StreamSink::Finish() {
  std::lock_guard<std::mutex> l(mu_);
  if (finished_) return;
  finished_ = true;
  if (chunked_ && !failed_) pending_.append(kLastChunk);
  ScheduleFlushLocked();
}

void StreamSink::ScheduleFlushLocked() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(conn_->socket_.get_executor(), [c = conn_] { c->FlushStream(); });
}

void StreamSink::Fail() {
  {
    std::lock_guard<std::mutex> l(mu_);
    failed_ = true;
  }
  cv_.notify_all();
}

// ---- Connection ------------------------------------------------------------------------------

Connection::Connection(std::shared_ptr<asio::io_context> ioc, asio::ip::tcp::socket socket,
                       const ConnectionLimits& limits, ConnectionOwner* owner,
                       std::shared_ptr<ConnectionRegistry> registry, uint64_t id)
    : ioc_(std::move(ioc)),
      socket_(std::move(socket)),
      read_timer_(socket_.get_executor()),
      write_timer_(socket_.get_executor()),
      limits_(limits),
      owner_(owner),
      registry_(std::move(registry)),
      id_(id),
      fd_(socket_.native_handle()) {}

Connection::~Connection() {
  registry_->Remove(id_);
  CloseSocket();
}

void Connection::Start() {
  registry_->Add(id_, weak_from_this());
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
}

int Connection::KeepAliveSeconds() const {
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(limits_.keep_alive_timeout).count());
}

bool Connection::closed() const {
  std::lock_guard<std::mutex> l(fd_mu_);
  return fd_closed_;
}

bool Connection::ClientAlive() const {
  std::lock_guard<std::mutex> l(fd_mu_);
  if (fd_closed_) return false;
  pollfd p{fd_, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (poll(&p, 1, 0) < 0) return true;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

void Connection::CloseSocket() {
  {
    std::lock_guard<std::mutex> l(fd_mu_);
    if (!fd_closed_) {
      fd_closed_ = true;
      error_code ec;
      socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }
  }
  ++read_gen_;
  ++write_gen_;
  read_timer_.cancel();
  write_timer_.cancel();
  if (stream_) stream_->Fail();
}

void Connection::ForceClose() {
  CloseSocket();
  // The I/O threads are gone: the stream's end will never be flushed. The worker keeps its own
  // reference to the sink; dropping ours breaks the connection <-> sink cycle.
  stream_.reset();
  stream_done_ = nullptr;
}

void Connection::ArmRead(std::chrono::milliseconds d) {
  if (closed()) return;
  const uint64_t gen = ++read_gen_;
  read_timer_.expires_after(d);
  read_timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (!ec && gen == self->read_gen_) self->CloseSocket();
  });
}

void Connection::DisarmRead() {
  ++read_gen_;
  read_timer_.cancel();
}

void Connection::ArmWrite() {
  if (closed()) return;
  const uint64_t gen = ++write_gen_;
  write_timer_.expires_after(limits_.write_timeout);
  write_timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (!ec && gen == self->write_gen_) self->CloseSocket();
  });
}

void Connection::DisarmWrite() {
  ++write_gen_;
  write_timer_.cancel();
}

// ---- reading a request -----------------------------------------------------------------------

void Connection::WaitForRequest() {
  if (closed()) return;
  if (buffer_.size() > 0) {  // pipelined bytes already here
    ReadHeader();
    return;
  }
  buffer_.shrink_to_fit();  // an idle connection keeps no buffer
  ArmRead(requests_ == 0 ? limits_.header_timeout : limits_.keep_alive_timeout);
  socket_.async_wait(asio::ip::tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (ec) {
      self->CloseSocket();
      return;
    }
    self->ReadHeader();
  });
}

void Connection::ReadHeader() {
  http10_ = false;
  head_only_ = false;
  parser_.emplace();
  // Beast's header limit covers the whole head (request line included); our own byte count
  // below (431) is exact, this one only bounds what is buffered.
  parser_->header_limit(
      static_cast<uint32_t>(limits_.header_max_bytes + 2 * limits_.line_max_bytes + 1024));
  parser_->body_limit(limits_.payload_max_bytes);
  ArmRead(limits_.header_timeout);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(error_code ec) {
  DisarmRead();
  if (ec) {
    // The request line may have been read: its path picks the error's protocol shape.
    const auto target = parser_->get().target();
    path_ = std::string(target.data(), target.size());
    path_ = path_.substr(0, path_.find('?'));
    if (ec == bhttp::error::header_limit) {
      SendError(431, "request headers too large");
    } else if (ec == bhttp::error::body_limit) {  // Content-Length over the limit
      SendError(413, "request body is too large");
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      SendError(400, "malformed request");
    } else {
      CloseSocket();  // closed by the client, timed out, or a socket error
    }
    return;
  }
  if (!CheckHeader()) return;
  const auto& req = parser_->get();
  if (parser_->is_done()) {
    Dispatch();
    return;
  }
  if (!http10_ && EqualsIgnoreCase(std::string(req[bhttp::field::expect]), "100-continue")) {
    write_buf_ = "HTTP/1.1 100 Continue\r\n\r\n";
    ArmWrite();
    asio::async_write(socket_, asio::buffer(write_buf_),
                      [self = shared_from_this()](error_code ec, size_t) {
                        self->DisarmWrite();
                        if (ec) {
                          self->CloseSocket();
                        } else {
                          self->ReadBody();
                        }
                      });
    return;
  }
  ReadBody();
}

// The limits Beast does not enforce; answers and returns false when one is exceeded.
bool Connection::CheckHeader() {
  const auto& req = parser_->get();
  http10_ = req.version() < 11;
  head_only_ = req.method() == bhttp::verb::head;
  const std::string_view target(req.target().data(), req.target().size());
  path_ = std::string(target.substr(0, target.find('?')));
  if (target.size() > limits_.line_max_bytes) {
    path_.clear();
    SendError(414, "request URI too long");
    return false;
  }
  size_t count = 0, bytes = 0;
  for (const auto& f : req) {
    const size_t line = f.name_string().size() + f.value().size();
    if (line + 2 > limits_.line_max_bytes) {
      SendError(400, "request header line too long");
      return false;
    }
    ++count;
    bytes += line + 4;
  }
  if (count > limits_.header_max_count || bytes > limits_.header_max_bytes) {
    SendError(431, "request headers too large");
    return false;
  }
  if (const auto length = parser_->content_length();
      length && *length > limits_.payload_max_bytes) {
    SendError(413, "request body is too large");
    return false;
  }
  return true;
}

void Connection::ReadBody() {
  ArmRead(limits_.body_timeout);
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](error_code ec, size_t) { self->OnBody(ec); });
}

void Connection::OnBody(error_code ec) {
  DisarmRead();
  if (ec == bhttp::error::body_limit) {
    SendError(413, "request body is too large");
  } else if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
             ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    SendError(400, "malformed request body");
  } else if (ec) {
    CloseSocket();
  } else {
    Dispatch();
  }
}

void Connection::Dispatch() {
  auto msg = parser_->release();
  parser_.reset();
  Request req;
  req.method = std::string(msg.method_string());
  const std::string_view target(msg.target().data(), msg.target().size());
  const size_t q = target.find('?');
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  if (!PercentDecode(target.substr(0, q), false, &req.path) || req.path.empty() ||
      req.path[0] != '/') {
    SendError(400, "malformed request target");
    return;
  }
  path_ = req.path;
  req.headers.reserve(static_cast<size_t>(std::distance(msg.begin(), msg.end())));
  for (const auto& f : msg) {
    req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  req.body = std::move(msg.body());
  ++requests_;
  close_after_ = !msg.keep_alive() || requests_ >= limits_.keep_alive_max_count;
  owner_->OnRequest(shared_from_this(), std::move(req));
}

// ---- writing a reply -------------------------------------------------------------------------

void Connection::SendReply(Reply reply, std::function<void()> on_done) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), r = std::move(reply),
                                          d = std::move(on_done)]() mutable {
    self->WriteReply(std::move(r), std::move(d));
  });
}

void Connection::SendError(int status, const std::string& message) {
  Reply r = owner_->ErrorReply(path_, status, message);
  r.status = status;
  r.close = true;
  WriteReply(std::move(r), nullptr);
}

void Connection::WriteReply(Reply reply, std::function<void()> on_done) {
  if (reply.close) close_after_ = true;
  status_ = reply.status;
  ResponseHead head;
  head.status = reply.status;
  head.content_type = reply.content_type;
  head.headers = &reply.headers;
  head.content_length = reply.body.size();
  head.keep_alive = !close_after_;
  head.keep_alive_timeout_s = KeepAliveSeconds();
  write_buf_ = FormatHead(head);
  if (!head_only_) write_buf_ += reply.body;
  if (closed()) {
    if (on_done) on_done();
    owner_->OnResponse(path_, status_);
    return;
  }
  ArmWrite();
  asio::async_write(socket_, asio::buffer(write_buf_),
                    [self = shared_from_this(), d = std::move(on_done)](error_code ec, size_t) {
                      self->DisarmWrite();
                      if (d) d();
                      self->owner_->OnResponse(self->path_, self->status_);
                      self->AfterResponse(!ec);
                    });
}

std::shared_ptr<StreamSink> Connection::StartStream(int status, std::string content_type,
                                                    HeaderList headers,
                                                    std::function<void()> on_done) {
  // http10_ and close_after_ were set before OnRequest and stay fixed until the reply is over.
  const bool chunked = !http10_;
  ResponseHead head;
  head.status = status;
  head.content_type = content_type;
  head.headers = &headers;
  head.framing = chunked ? BodyFraming::kChunked : BodyFraming::kClose;
  head.keep_alive = chunked && !close_after_;
  head.keep_alive_timeout_s = KeepAliveSeconds();
  std::shared_ptr<StreamSink> sink(
      new StreamSink(shared_from_this(), limits_.stream_buffer_bytes, chunked));
  asio::post(socket_.get_executor(), [self = shared_from_this(), sink, status, h = FormatHead(head),
                                      d = std::move(on_done)]() mutable {
    self->status_ = status;
    self->BeginStream(sink, std::move(h), std::move(d));
  });
  return sink;
}

void Connection::BeginStream(const std::shared_ptr<StreamSink>& sink, std::string head,
                             std::function<void()> on_done) {
  if (http10_) close_after_ = true;
  stream_ = sink;
  stream_done_ = std::move(on_done);
  {
    std::lock_guard<std::mutex> l(sink->mu_);
    sink->pending_.insert(0, head);
    if (closed()) sink->failed_ = true;
  }
  sink->cv_.notify_all();
  FlushStream();
}

void Connection::FlushStream() {
  if (!stream_ || stream_writing_) return;  // a write in flight flushes again when it completes
  StreamSink& s = *stream_;
  bool done = false, failed = false;
  {
    std::lock_guard<std::mutex> l(s.mu_);
    s.flush_posted_ = false;
    failed = s.failed_;
    if (failed || s.pending_.empty()) {
      done = s.finished_;
    } else {
      stream_buf_.clear();
      stream_buf_.swap(s.pending_);
      s.in_flight_ = stream_buf_.size();
    }
  }
  if (failed || stream_buf_.empty()) {
    if (done) EndStream(failed);
    return;
  }
  stream_writing_ = true;
  ArmWrite();
  asio::async_write(
      socket_, asio::buffer(stream_buf_),
      [self = shared_from_this()](error_code ec, size_t) { self->OnStreamWritten(ec); });
}

void Connection::OnStreamWritten(error_code ec) {
  DisarmWrite();
  stream_writing_ = false;
  stream_buf_.clear();
  {
    std::lock_guard<std::mutex> l(stream_->mu_);
    stream_->in_flight_ = 0;
    if (ec) stream_->failed_ = true;
  }
  stream_->cv_.notify_all();
  if (ec) CloseSocket();
  FlushStream();
}

void Connection::EndStream(bool failed) {
  std::shared_ptr<StreamSink> sink = std::move(stream_);
  stream_.reset();
  {
    // Breaks the connection <-> sink cycle; the worker is done with the sink (finished_).
    std::lock_guard<std::mutex> l(sink->mu_);
    sink->conn_.reset();
  }
  if (auto d = std::move(stream_done_)) d();
  stream_done_ = nullptr;
  owner_->OnResponse(path_, status_);
  AfterResponse(!failed);
}

void Connection::AfterResponse(bool ok) {
  write_buf_.clear();
  write_buf_.shrink_to_fit();
  stream_buf_.shrink_to_fit();
  if (!ok) {
    CloseSocket();
  } else if (close_after_) {
    LingeringClose();
  } else {
    WaitForRequest();
  }
}

void Connection::LingeringClose() {
  if (closed()) return;
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    CloseSocket();
    return;
  }
  drain_buf_ = std::make_unique<char[]>(kDrainChunk);
  ArmRead(kLinger);
  Drain();
}

void Connection::Drain() {
  socket_.async_read_some(asio::buffer(drain_buf_.get(), kDrainChunk),
                          [self = shared_from_this()](error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kLingerMaxBytes) {
                              self->CloseSocket();
                            } else {
                              self->Drain();
                            }
                          });
}

}  // namespace cachet::http
