// Noticing that the client of a non-streaming request went away while it is generated.
//
// cpp-httplib 0.11 does not hand handlers their socket, so the connection is found by its
// addresses: the open socket whose peer is (remote_ip, remote_port) and whose local port is
// local_port (a TCP 4-tuple is unique among live connections). Linux-specific (/proc/self/fd,
// POLLRDHUP); elsewhere the check always answers "alive".
#pragma once

#include <string>

namespace cachet::http {

// The socket fd of the connection, or -1 when not found.
int FindConnectionFd(const std::string& remote_ip, int remote_port, int local_port);

// False once the peer has closed or reset the connection (a half-closed write side counts as
// gone: HTTP clients do not half-close while waiting for a response). Never blocks.
bool PeerConnected(int fd);

// Both in one: re-finds the fd on each call (cheap at the polling rate used, and immune to fd
// reuse). False when the connection is gone or can no longer be found.
bool ConnectionAlive(const std::string& remote_ip, int remote_port, int local_port);

}  // namespace cachet::http
