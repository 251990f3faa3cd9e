// Raw-socket HTTP clients for the server tests: many connections driven by one thread with
// poll(), and clients that misbehave on purpose (slow readers, trickled headers). Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace cachet::http::testing {

// Raises this process's soft fd limit to at least `want` (within the hard limit); the limit now.
inline rlim_t RaiseFdLimit(rlim_t want) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// A blocking TCP connection to 127.0.0.1:port (-1 on failure); rcvbuf > 0 shrinks its receive
// buffer (set before connect, so the window is small from the start).
inline int Connect(int port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
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

inline bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

inline std::string PostRequest(const std::string& path, const std::string& body,
                               const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

inline std::string GetRequest(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n";
}

// Where the first complete response in `in` ends (0 when incomplete): Content-Length bodies,
// chunked bodies (ending in the last chunk), or none (1xx, and bodies ended by close, which
// count as complete only once `eof`).
inline size_t ResponseEnd(const std::string& in, bool eof) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  const size_t body = head_end + 4;
  std::string head = in.substr(0, body);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (head.rfind("http/1.1 1", 0) == 0) return body;
  const size_t cl = head.find("content-length: ");
  if (cl != std::string::npos) {
    const size_t n = std::stoul(head.substr(cl + 16));
    return in.size() >= body + n ? body + n : 0;
  }
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    const size_t end = in.find("\r\n0\r\n\r\n", body - 2);
    return end == std::string::npos ? 0 : end + 7;
  }
  return eof ? in.size() : 0;
}

// One connection as the poll loop sees it.
struct RawConn {
  int fd = -1;
  std::string in;        // bytes received and not yet taken as a response
  std::string response;  // the last complete response taken
  int responses = 0;     // complete responses taken (interim 1xx ones skipped)
  bool eof = false;      // the server closed
};

// Takes complete responses out of c.in while c has fewer than `want`.
inline void TakeResponses(RawConn& c, int want) {
  while (c.responses < want) {
    const size_t end = ResponseEnd(c.in, c.eof);
    if (end == 0) return;
    std::string r = c.in.substr(0, end);
    c.in.erase(0, end);
    if (r.rfind("HTTP/1.1 1", 0) == 0) continue;  // interim (100 Continue)
    c.response = std::move(r);
    ++c.responses;
  }
}

// Reads on every connection until each has `want` complete responses in total, or `deadline`.
// `max_read` bytes per connection per round and `pause` between rounds make a slow reader.
// Returns the connections that got them all.
inline int ReadResponses(std::vector<RawConn>& conns, int want,
                         std::chrono::steady_clock::time_point deadline, size_t max_read = 65536,
                         std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
  std::vector<char> buf(max_read);
  while (true) {
    std::vector<pollfd> fds;
    std::vector<RawConn*> who;
    int done = 0;
    for (auto& c : conns) {
      TakeResponses(c, want);
      if (c.responses >= want) {
        ++done;
      } else if (!c.eof) {
        fds.push_back({c.fd, POLLIN, 0});
        who.push_back(&c);
      }
    }
    if (done == static_cast<int>(conns.size()) || fds.empty() ||
        std::chrono::steady_clock::now() >= deadline) {
      return done;
    }
    if (poll(fds.data(), fds.size(), 50) < 0) return done;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      RawConn& c = *who[i];
      const ssize_t n = recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) {
        c.in.append(buf.data(), static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        c.eof = true;
      }
    }
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
}

// Reads until the server closes (true) or `limit` passes (false); what arrived goes to `got`.
inline bool ReadUntilClosed(int fd, std::string* got, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      got->append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      return true;
    }
  }
  return false;
}

}  // namespace cachet::http::testing
