// One accepted TCP connection of HttpServer (Boost.Beast's parser over a Boost.Asio socket).
//
// Life of a connection, all on its strand (an idle connection costs a socket, a few hundred bytes
// and two timers, no thread):
//   wait for a request (keep_alive_timeout; the first request: header_timeout)
//   → read the headers (header_timeout from the first byte: slowloris) → check limits
//     (431 header count/bytes, 414 request line, 400 header line or malformed, 413 body size)
//   → read the body (body_timeout for the whole body) → ConnectionOwner::OnRequest
//   → the owner answers with Reply() or StartStream() (from any thread)
//   → the reply is written (each write op gets write_timeout) → next request or close.
// Requests on one connection are served one at a time (pipelined bytes wait in the buffer).
//
// Closing after an error reply is "lingering": the send side is shut down and unread request
// bytes are drained for a moment, so the client reads the reply instead of a reset.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/service.h"
#include "http/wire.h"

namespace cachet::http {

class Connection;

struct ConnectionLimits {
  size_t payload_max_bytes = 8 << 20;
  size_t header_max_count = 128;
  size_t header_max_bytes = 64 << 10;
  size_t line_max_bytes = 8192;  // request line (414) and each header line (400)
  std::chrono::milliseconds header_timeout{30000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds keep_alive_timeout{5000};
  std::chrono::milliseconds write_timeout{30000};
  int keep_alive_max_count = 1000;
  size_t stream_buffer_bytes = 64 << 10;  // a stream's unsent bytes before ByteSink::Write blocks
};

// A parsed request, handed to the owner.
struct Request {
  std::string method;  // as sent ("GET", "POST", ...)
  std::string path;    // percent-decoded, without the query
  std::string query;   // raw, after '?'
  HeaderList headers;
  std::string body;
  std::string Header(std::string_view name) const { return FindHeader(headers, name); }
};

// A complete reply.
struct Reply {
  int status = 200;
  std::string content_type;
  std::string body;
  HeaderList headers;
  bool close = false;  // close the connection after it
};

// What the connection asks of the server. Called on the connection's strand; must not block.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // A request to answer (with conn->Reply or conn->StartStream, now or later, from any thread).
  virtual void OnRequest(std::shared_ptr<Connection> conn, Request request) = 0;
  // A reply is over (written, or its write failed); for metrics.
  virtual void OnResponse(const std::string& path, int status) = 0;
  // The body of an error the connection produces itself (400, 413, 414, 431), in the protocol
  // shape of `path` ("" when the request line was not read).
  virtual Reply ErrorReply(const std::string& path, int status, const std::string& message) = 0;
};

// The open connections, for the connection cap and for closing them all at shutdown.
// Thread-safety: all methods from any thread.
class ConnectionRegistry {
 public:
  size_t open() const { return open_.load(); }
  void Add(uint64_t id, std::weak_ptr<Connection> conn);
  void Remove(uint64_t id);
  // The connections still alive.
  std::vector<std::shared_ptr<Connection>> Live() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> conns_;  // GUARDED_BY(mu_)
  std::atomic<size_t> open_{0};
};

// The body of a streaming reply: api::ByteSink over the connection's async writer.
// Write/Finish are called by one worker thread; the rest is the connection's (strand).
class StreamSink final : public api::ByteSink {
 public:
  // Blocks while stream_buffer_bytes are unsent (backpressure); false once the connection failed
  // (client gone, write timed out, server stopping).
  bool Write(std::string_view data) override;
  // The stream is complete (or abandoned after a failed Write): ends the body. Call once.
  void Finish();

 private:
  friend class Connection;
  StreamSink(std::shared_ptr<Connection> conn, size_t cap, bool chunked)
      : conn_(std::move(conn)), cap_(cap), chunked_(chunked) {}
  void ScheduleFlushLocked();  // requires mu_
  void Fail();

  std::shared_ptr<Connection> conn_;  // released when the stream ends
  const size_t cap_;
  const bool chunked_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;        // GUARDED_BY(mu_) framed bytes not yet handed to the socket
  size_t in_flight_ = 0;       // GUARDED_BY(mu_) bytes of the write now in progress
  bool failed_ = false;        // GUARDED_BY(mu_)
  bool finished_ = false;      // GUARDED_BY(mu_)
  bool flush_posted_ = false;  // GUARDED_BY(mu_)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `socket` must use a strand executor (async_accept(make_strand(ioc))). `ioc` is kept alive by
  // the connection (its socket must not outlive it).
  Connection(std::shared_ptr<boost::asio::io_context> ioc, boost::asio::ip::tcp::socket socket,
             const ConnectionLimits& limits, ConnectionOwner* owner,
             std::shared_ptr<ConnectionRegistry> registry, uint64_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Registers and begins reading. Once.
  void Start();

  // Answers the current request (any thread). `on_done` runs on the strand once the reply is
  // written or its write failed.
  void SendReply(Reply reply, std::function<void()> on_done);

  // Starts a streaming reply to the current request (any thread): the head goes out now, chunked
  // for HTTP/1.1 clients (close-delimited for HTTP/1.0). Write the body to the returned sink and
  // call Finish() on it; `on_done` runs on the strand once the body is fully written or failed.
  std::shared_ptr<StreamSink> StartStream(int status, std::string content_type, HeaderList headers,
                                          std::function<void()> on_done);

  // False once the peer has closed or reset the connection, or the connection was closed
  // (any thread; never blocks).
  bool ClientAlive() const;

  // Shutdown only, once the I/O threads have stopped: closes the socket, fails a stream.
  void ForceClose();

 private:
  friend class StreamSink;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  void WaitForRequest();
  void ReadHeader();
  void OnHeader(boost::system::error_code ec);
  bool CheckHeader();
  void ReadBody();
  void OnBody(boost::system::error_code ec);
  void Dispatch();
  void WriteReply(Reply reply, std::function<void()> on_done);
  void SendError(int status, const std::string& message);
  void BeginStream(const std::shared_ptr<StreamSink>& sink, std::string head,
                   std::function<void()> on_done);
  void FlushStream();
  void OnStreamWritten(boost::system::error_code ec);
  void EndStream(bool failed);
  void AfterResponse(bool ok);
  void LingeringClose();
  void Drain();
  void CloseSocket();
  void ArmRead(std::chrono::milliseconds d);
  void DisarmRead();
  void ArmWrite();
  void DisarmWrite();
  bool closed() const;
  int KeepAliveSeconds() const;

  std::shared_ptr<boost::asio::io_context> ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer read_timer_;
  boost::asio::steady_timer write_timer_;
  const ConnectionLimits limits_;
  ConnectionOwner* const owner_;
  const std::shared_ptr<ConnectionRegistry> registry_;
  const uint64_t id_;
  const int fd_;

  mutable std::mutex fd_mu_;  // closing the socket vs ClientAlive's poll on its fd
  bool fd_closed_ = false;    // GUARDED_BY(fd_mu_)

  // Strand state.
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  uint64_t read_gen_ = 0, write_gen_ = 0;  // a timer's expiry counts only for its own arming
  int requests_ = 0;
  bool http10_ = false;       // current request is HTTP/1.0
  bool head_only_ = false;    // current request is HEAD
  bool close_after_ = false;  // close once the current reply is written
  std::string path_;          // current request's path (metrics, error shape)
  int status_ = 0;            // current reply's status
  std::string write_buf_;     // a whole reply being written
  std::string stream_buf_;    // a stream batch being written
  bool stream_writing_ = false;
  std::shared_ptr<StreamSink> stream_;
  std::function<void()> stream_done_;
  std::unique_ptr<char[]> drain_buf_;
  size_t drained_ = 0;
};

}  // namespace cachet::http
