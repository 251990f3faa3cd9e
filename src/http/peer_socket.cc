#include "http/peer_socket.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

namespace cachet::http {

namespace {

bool Matches(int fd, const std::string& ip, int port, int local_port) {
  sockaddr_storage peer{}, local{};
  socklen_t pl = sizeof(peer), ll = sizeof(local);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) return false;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) return false;
  char buf[INET6_ADDRSTRLEN] = {0};
  int peer_port = -1, lport = -1;
  if (peer.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    peer_port = ntohs(a->sin_port);
    lport = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  } else if (peer.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&peer);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    peer_port = ntohs(a->sin6_port);
    lport = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  } else {
    return false;
  }
  return peer_port == port && lport == local_port && ip == buf;
}

}  // namespace

int FindConnectionFd(const std::string& remote_ip, int remote_port, int local_port) {
#ifdef __linux__
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    // No fstat first: getpeername fails on anything but a connected socket anyway, and it does
    // not count as an access of another thread's fd (TSan flags fstat racing with close).
    if (Matches(static_cast<int>(fd), remote_ip, remote_port, local_port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
#else
  return -1;
#endif
}

bool PeerConnected(int fd) {
#ifdef __linux__
  pollfd p{fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (poll(&p, 1, 0) < 0) return true;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
#else
  return true;
#endif
}

bool ConnectionAlive(const std::string& remote_ip, int remote_port, int local_port) {
#ifdef __linux__
  const int fd = FindConnectionFd(remote_ip, remote_port, local_port);
  return fd >= 0 && PeerConnected(fd);
#else
  return true;
#endif
}

}  // namespace cachet::http
