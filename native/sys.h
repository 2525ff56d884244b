// Non-blocking socket syscalls. Every function returns a result >= 0 or
// -errno, retries EINTR itself, and never raises SIGPIPE: sends go through
// send/sendmsg with MSG_NOSIGNAL (Linux, FreeBSD) or on sockets that carry
// SO_NOSIGPIPE (macOS). sendfile(2) has no such flag; Node ignores SIGPIPE
// for the whole process at startup, so there a broken pipe is EPIPE too.
// Nothing here throws and nothing touches N-API or libuv: addon.cc is the glue
// to JavaScript, reactor.cc the glue to Node's loop.
#ifndef RXNET_SYS_H_
#define RXNET_SYS_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>

#include "abi.h"

namespace rxnet {
namespace sys {

// An address as the TypeScript side spells it.
struct Address {
  int family = 0;  // AF_INET, AF_INET6, AF_UNIX
  std::string host;  // IP literal, or the path of a Unix socket
  int port = 0;
};

// Fills *ss from addr; returns the length or -EINVAL / -ENAMETOOLONG.
int to_sockaddr(const Address& addr, struct sockaddr_storage* ss);
void from_sockaddr(const struct sockaddr_storage& ss, socklen_t len, Address* out);

int socket(int family, int type);  // always SOCK_NONBLOCK | SOCK_CLOEXEC
int bind(int fd, const Address& addr);
int listen(int fd, int backlog);
int accept(int fd);  // accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC
int connect(int fd, const Address& addr);  // 0, or -EINPROGRESS
ssize_t read(int fd, void* buf, size_t len);
// recv(2) with MSG_PEEK: the bytes stay in the socket for the next read.
// A PROXY header in front of TLS is looked at this way, so that exactly its
// bytes are then read and not one of the ClientHello after it.
ssize_t peek(int fd, void* buf, size_t len);
ssize_t write(int fd, const void* buf, size_t len);
ssize_t writev(int fd, const struct iovec* iov, int iovcnt);
ssize_t recvfrom(int fd, void* buf, size_t len, Address* from, bool* truncated);
ssize_t sendto(int fd, const void* buf, size_t len, const Address& to);
int shutdown(int fd, int how);
int close(int fd);
int getsockname(int fd, Address* out);
int getpeername(int fd, Address* out);
ssize_t sendfile(int out_fd, int in_fd, int64_t offset, size_t count);
// pread(2) of a file (sendFile over TLS reads what it encrypts).
ssize_t pread(int fd, void* buf, size_t len, int64_t offset);

// One datagram slot for recv_datagrams/send_datagrams.
struct Datagram {
  void* data;
  size_t capacity;  // buffer size (receive) or bytes to send
  size_t length;    // bytes received
  bool truncated;   // the datagram was larger than capacity (MSG_TRUNC)
  struct sockaddr_storage addr;
  socklen_t addr_len;
};
// Receives up to n datagrams in one recvmmsg(2) where the OS has it, else a
// loop of recvmsg. Returns how many arrived (>= 1) or -errno (-EAGAIN: none).
int recv_datagrams(int fd, Datagram* msgs, int n);
// An IP literal's bytes, network order (4 for AF_INET, 16 for AF_INET6), at
// out (room for RX_ADDR_SLOT): 0, or -EINVAL if it is not one.
int pack_ip(const Address& addr, uint8_t* out);
// The sockaddr of family (AF_INET/AF_INET6), pack_ip's bytes and port: its
// length, or -EAFNOSUPPORT.
int ip_sockaddr(int family, const uint8_t* bytes, int port, struct sockaddr_storage* ss);
// Sends up to n datagrams with one sendmmsg(2) where available. Returns how
// many were sent (>= 1) or -errno for the first.
int send_datagrams(int fd, Datagram* msgs, int n);
// Writes one received datagram's metadata in the batch layout of abi.h:
// RX_DGRAM_FIELDS int32s at meta and RX_ADDR_SLOT address bytes at addr.
void encode_datagram(const Datagram& d, int32_t offset, int32_t length, int32_t* meta, uint8_t* addr);

// Makes an fd this process did not open (inherited from systemd, received
// over SCM_RIGHTS) non-blocking and close-on-exec, as every socket of ours is.
int set_nonblock_cloexec(int fd);
// sendmsg(2) of len bytes with fds attached as one SCM_RIGHTS message (at most
// RX_MAX_PASSED_FDS). Returns the bytes sent or -errno. The descriptors travel
// with the first byte: a receiver gets them with the recvmsg that reads it.
ssize_t send_fds(int fd, const void* buf, size_t len, const int* fds, int nfds);
// recvmsg(2) into buf; descriptors that arrive are stored in fds (up to
// max_fds, close-on-exec where MSG_CMSG_CLOEXEC exists) and counted in
// *nfds. Descriptors beyond max_fds are closed, never leaked. Returns the
// bytes read (0 at end of stream) or -errno; *truncated is set when the
// kernel dropped descriptors for lack of room (MSG_CTRUNC).
ssize_t recv_fds(int fd, void* buf, size_t len, int* fds, int max_fds, int* nfds, bool* truncated);

// Named socket options (abi.h lists them); the TypeScript side passes the name.
enum Option {
#define RXNET_OPTION_ENUM(name) OPT_##name,
  RXNET_SOCKET_OPTIONS(RXNET_OPTION_ENUM)
#undef RXNET_OPTION_ENUM
  OPT_COUNT
};
// SO_LINGER's value: seconds, or -1 for off. SO_ERROR is get only: the
// pending error as a positive errno. SO_TYPE (SOCK_STREAM, SOCK_DGRAM) and
// SO_ACCEPTCONN (1 on a listening socket) are get only too: they tell what
// an inherited descriptor is.
extern const char* const kOptionNames[OPT_COUNT];
int setsockopt(int fd, Option opt, int value);
int getsockopt(int fd, Option opt, int* value);
// The socket's pending error (SO_ERROR, which it clears) as -errno, or 0.
int socket_error(int fd);
// Joins (add) or leaves a multicast group. iface: for IPv4 the local
// interface address ("" = any); for IPv6 an interface index as a string
// ("" = 0, the default interface).
int membership(int fd, int family, const std::string& group, const std::string& iface, bool add);

}  // namespace sys
}  // namespace rxnet

#endif  // RXNET_SYS_H_
