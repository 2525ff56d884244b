#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/sendfile.h>
#endif

namespace rxnet {
namespace sys {

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;  // SO_NOSIGPIPE is set on every socket instead.
#endif

const char* const kOptionNames[OPT_COUNT] = {
#define RXNET_OPTION_NAME(name) #name,
    RXNET_SOCKET_OPTIONS(RXNET_OPTION_NAME)
#undef RXNET_OPTION_NAME
};

namespace {

// Runs a syscall until it is not interrupted; returns its result or -errno.
template <typename F>
auto retry_eintr(F call) -> decltype(call()) {
  decltype(call()) r;
  do {
    r = call();
  } while (r < 0 && errno == EINTR);
  return r < 0 ? static_cast<decltype(r)>(-errno) : r;
}

// Sockets made without SOCK_NONBLOCK|SOCK_CLOEXEC (macOS has neither flag,
// nor accept4) get them, and SO_NOSIGPIPE, here.
int finish_socket(int fd) {
#if !defined(SOCK_NONBLOCK)
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
#endif
#if defined(SO_NOSIGPIPE)
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  return fd;
}

}  // namespace

int to_sockaddr(const Address& addr, struct sockaddr_storage* ss) {
  if (addr.family == AF_INET || addr.family == AF_INET6) {
    uint8_t bytes[RX_ADDR_SLOT];
    int r = pack_ip(addr, bytes);
    return r < 0 ? r : ip_sockaddr(addr.family, bytes, addr.port, ss);
  }
  memset(ss, 0, sizeof *ss);
  if (addr.family == AF_UNIX) {
    auto* un = reinterpret_cast<struct sockaddr_un*>(ss);
    un->sun_family = AF_UNIX;
    if (addr.host.size() >= sizeof un->sun_path) return -ENAMETOOLONG;
    memcpy(un->sun_path, addr.host.c_str(), addr.host.size() + 1);
    return static_cast<int>(offsetof(struct sockaddr_un, sun_path) + addr.host.size() + 1);
  }
  return -EAFNOSUPPORT;
}

int pack_ip(const Address& addr, uint8_t* out) {
  if (addr.family != AF_INET && addr.family != AF_INET6) return -EAFNOSUPPORT;
  return inet_pton(addr.family, addr.host.c_str(), out) == 1 ? 0 : -EINVAL;
}

int ip_sockaddr(int family, const uint8_t* bytes, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    memcpy(&sin->sin_addr, bytes, sizeof sin->sin_addr);
    return sizeof *sin;
  }
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    memcpy(&sin6->sin6_addr, bytes, sizeof sin6->sin6_addr);
    return sizeof *sin6;
  }
  return -EAFNOSUPPORT;
}

void from_sockaddr(const struct sockaddr_storage& ss, socklen_t len, Address* out) {
  char buf[INET6_ADDRSTRLEN] = {0};
  out->family = ss.ss_family;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    out->host = buf;
    out->port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    out->host = buf;
    out->port = ntohs(sin6->sin6_port);
  } else if (ss.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const struct sockaddr_un*>(&ss);
    size_t max = len > offsetof(struct sockaddr_un, sun_path)
                     ? len - offsetof(struct sockaddr_un, sun_path)
                     : 0;
    out->host.assign(un->sun_path, strnlen(un->sun_path, max));
    out->port = 0;
  }
}

int socket(int family, int type) {
#if defined(SOCK_NONBLOCK)
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  int fd = ::socket(family, type, 0);
#endif
  if (fd < 0) return -errno;
  return finish_socket(fd);
}

int bind(int fd, const Address& addr) {
  struct sockaddr_storage ss;
  int len = to_sockaddr(addr, &ss);
  if (len < 0) return len;
  return ::bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) == 0 ? 0 : -errno;
}

int listen(int fd, int backlog) { return ::listen(fd, backlog) == 0 ? 0 : -errno; }

int accept(int fd) {
#if defined(__linux__) || defined(__FreeBSD__)
  return retry_eintr([&] { return ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
#else
  int r = retry_eintr([&] { return ::accept(fd, nullptr, nullptr); });
  return r < 0 ? r : finish_socket(r);
#endif
}

int connect(int fd, const Address& addr) {
  struct sockaddr_storage ss;
  int len = to_sockaddr(addr, &ss);
  if (len < 0) return len;
  // EINTR on a non-blocking connect means it goes on in the background, like
  // EINPROGRESS (connect(2)); retrying would give EALREADY.
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&ss), len) == 0) return 0;
  return errno == EINTR ? -EINPROGRESS : -errno;
}

ssize_t read(int fd, void* buf, size_t len) {
  return retry_eintr([&] { return ::recv(fd, buf, len, 0); });
}

ssize_t peek(int fd, void* buf, size_t len) {
  return retry_eintr([&] { return ::recv(fd, buf, len, MSG_PEEK); });
}

ssize_t write(int fd, const void* buf, size_t len) {
  return retry_eintr([&] { return ::send(fd, buf, len, kSendFlags); });
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  struct msghdr msg = {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = iovcnt;
  return retry_eintr([&] { return ::sendmsg(fd, &msg, kSendFlags); });
}

ssize_t recvfrom(int fd, void* buf, size_t len, Address* from, bool* truncated) {
  struct sockaddr_storage ss;
  struct msghdr msg = {};
  struct iovec iov = {buf, len};
  msg.msg_name = &ss;
  msg.msg_namelen = sizeof ss;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t r = retry_eintr([&] { return ::recvmsg(fd, &msg, 0); });
  if (r >= 0) {
    from_sockaddr(ss, msg.msg_namelen, from);
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  }
  return r;
}

ssize_t sendto(int fd, const void* buf, size_t len, const Address& to) {
  struct sockaddr_storage ss;
  int alen = to_sockaddr(to, &ss);
  if (alen < 0) return alen;
  return retry_eintr([&] {
    return ::sendto(fd, buf, len, kSendFlags, reinterpret_cast<struct sockaddr*>(&ss), alen);
  });
}

int shutdown(int fd, int how) { return ::shutdown(fd, how) == 0 ? 0 : -errno; }

int close(int fd) {
  // POSIX leaves the fd's state unspecified after EINTR; on Linux it is
  // closed already, so never retry (close(2), "Dealing with error returns").
  return ::close(fd) == 0 || errno == EINTR ? 0 : -errno;
}

int getsockname(int fd, Address* out) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) return -errno;
  from_sockaddr(ss, len, out);
  return 0;
}

int getpeername(int fd, Address* out) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) return -errno;
  from_sockaddr(ss, len, out);
  return 0;
}

ssize_t pread(int fd, void* buf, size_t len, int64_t offset) {
  return retry_eintr([&] { return ::pread(fd, buf, len, static_cast<off_t>(offset)); });
}

ssize_t sendfile(int out_fd, int in_fd, int64_t offset, size_t count) {
#if defined(__linux__)
  off_t off = static_cast<off_t>(offset);
  return retry_eintr([&] { return ::sendfile(out_fd, in_fd, &off, count); });
#elif defined(__APPLE__)
  off_t len = static_cast<off_t>(count);
  int r = ::sendfile(in_fd, out_fd, static_cast<off_t>(offset), &len, nullptr, 0);
  // A partial send on a non-blocking socket fails with EAGAIN but still
  // reports the bytes it sent in len (sendfile(2)).
  if (r < 0 && len == 0) return -errno;
  return static_cast<ssize_t>(len);
#elif defined(__FreeBSD__)
  off_t sent = 0;
  int r = ::sendfile(in_fd, out_fd, static_cast<off_t>(offset), count, nullptr, &sent, 0);
  if (r < 0 && sent == 0) return -errno;
  return static_cast<ssize_t>(sent);
#else
  (void)out_fd;
  (void)in_fd;
  (void)offset;
  (void)count;
  return -ENOSYS;
#endif
}

int recv_datagrams(int fd, Datagram* msgs, int n) {
#if defined(__linux__) || defined(__FreeBSD__)
  if (n > RX_DGRAM_BUDGET) n = RX_DGRAM_BUDGET;
  struct mmsghdr hdrs[RX_DGRAM_BUDGET];
  struct iovec iovs[RX_DGRAM_BUDGET];
  memset(hdrs, 0, sizeof(struct mmsghdr) * n);
  for (int i = 0; i < n; i++) {
    iovs[i] = {msgs[i].data, msgs[i].capacity};
    hdrs[i].msg_hdr.msg_iov = &iovs[i];
    hdrs[i].msg_hdr.msg_iovlen = 1;
    hdrs[i].msg_hdr.msg_name = &msgs[i].addr;
    hdrs[i].msg_hdr.msg_namelen = sizeof msgs[i].addr;
  }
  int r = retry_eintr([&] { return ::recvmmsg(fd, hdrs, n, MSG_DONTWAIT, nullptr); });
  for (int i = 0; i < r; i++) {
    msgs[i].length = hdrs[i].msg_len;
    msgs[i].truncated = (hdrs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    msgs[i].addr_len = hdrs[i].msg_hdr.msg_namelen;
  }
  return r;
#else
  int got = 0;
  for (; got < n; got++) {
    struct msghdr msg = {};
    struct iovec iov = {msgs[got].data, msgs[got].capacity};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_name = &msgs[got].addr;
    msg.msg_namelen = sizeof msgs[got].addr;
    ssize_t r = retry_eintr([&] { return ::recvmsg(fd, &msg, 0); });
    if (r < 0) return got > 0 ? got : static_cast<int>(r);
    msgs[got].length = static_cast<size_t>(r);
    msgs[got].truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    msgs[got].addr_len = msg.msg_namelen;
  }
  return got;
#endif
}

int send_datagrams(int fd, Datagram* msgs, int n) {
#if defined(__linux__) || defined(__FreeBSD__)
  if (n > RX_DGRAM_BUDGET) n = RX_DGRAM_BUDGET;
  struct mmsghdr hdrs[RX_DGRAM_BUDGET];
  struct iovec iovs[RX_DGRAM_BUDGET];
  memset(hdrs, 0, sizeof(struct mmsghdr) * n);
  for (int i = 0; i < n; i++) {
    iovs[i] = {msgs[i].data, msgs[i].capacity};
    hdrs[i].msg_hdr.msg_iov = &iovs[i];
    hdrs[i].msg_hdr.msg_iovlen = 1;
    hdrs[i].msg_hdr.msg_name = &msgs[i].addr;
    hdrs[i].msg_hdr.msg_namelen = msgs[i].addr_len;
  }
  return retry_eintr([&] { return ::sendmmsg(fd, hdrs, n, kSendFlags); });
#else
  int sent = 0;
  for (; sent < n; sent++) {
    ssize_t r = retry_eintr([&] {
      return ::sendto(fd, msgs[sent].data, msgs[sent].capacity, kSendFlags,
                      reinterpret_cast<struct sockaddr*>(&msgs[sent].addr), msgs[sent].addr_len);
    });
    if (r < 0) return sent > 0 ? sent : static_cast<int>(r);
  }
  return sent;
#endif
}

void encode_datagram(const Datagram& d, int32_t offset, int32_t length, int32_t* meta, uint8_t* addr) {
  meta[RX_DGRAM_OFFSET] = offset;
  meta[RX_DGRAM_LENGTH] = length;
  meta[RX_DGRAM_TRUNCATED] = d.truncated ? 1 : 0;
  if (d.addr.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&d.addr);
    memcpy(addr, &sin->sin_addr, 4);
    meta[RX_DGRAM_PORT] = ntohs(sin->sin_port);
    meta[RX_DGRAM_FAMILY] = 4;
  } else if (d.addr.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(&d.addr);
    static_assert(sizeof sin6->sin6_addr <= RX_ADDR_SLOT, "an address slot holds an IPv6 address");
    memcpy(addr, &sin6->sin6_addr, 16);
    meta[RX_DGRAM_PORT] = ntohs(sin6->sin6_port);
    meta[RX_DGRAM_FAMILY] = 6;
  } else {
    meta[RX_DGRAM_PORT] = 0;
    meta[RX_DGRAM_FAMILY] = 0;
  }
}

int socket_error(int fd) {
  int value = 0;
  int r = getsockopt(fd, OPT_SO_ERROR, &value);
  return r < 0 ? r : -value;
}

int set_nonblock_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) return -errno;
#if defined(SO_NOSIGPIPE)
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  return 0;
}

ssize_t send_fds(int fd, const void* buf, size_t len, const int* fds, int nfds) {
  if (nfds < 0 || nfds > RX_MAX_PASSED_FDS || len == 0) return -EINVAL;
  // CMSG_SPACE is not a constant expression everywhere: size for the most.
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * RX_MAX_PASSED_FDS)];
  struct iovec iov = {const_cast<void*>(buf), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
  }
  return retry_eintr([&] { return ::sendmsg(fd, &msg, kSendFlags); });
}

ssize_t recv_fds(int fd, void* buf, size_t len, int* fds, int max_fds, int* nfds, bool* truncated) {
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * RX_MAX_PASSED_FDS)];
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
#if defined(MSG_CMSG_CLOEXEC)
  constexpr int kRecvFlags = MSG_CMSG_CLOEXEC;
#else
  constexpr int kRecvFlags = 0;
#endif
  *nfds = 0;
  *truncated = false;
  ssize_t r = retry_eintr([&] { return ::recvmsg(fd, &msg, kRecvFlags); });
  if (r < 0) return r;
  *truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(cmsg);
    for (size_t i = 0; i < n; i++) {
      int received;
      memcpy(&received, data + i * sizeof(int), sizeof received);
      if (*nfds < max_fds) {
#if !defined(MSG_CMSG_CLOEXEC)
        fcntl(received, F_SETFD, FD_CLOEXEC);
#endif
        fds[(*nfds)++] = received;
      } else {
        // SAFETY: a descriptor nobody asked for would leak for the life of
        // the process; the caller learns of it through *truncated.
        ::close(received);
        *truncated = true;
      }
    }
  }
  return r;
}

namespace {

struct OptionLevel {
  int level;
  int name;
};

int option_level(Option opt, OptionLevel* out) {
  switch (opt) {
    case OPT_SO_REUSEADDR: *out = {SOL_SOCKET, SO_REUSEADDR}; return 0;
#ifdef SO_REUSEPORT
    case OPT_SO_REUSEPORT: *out = {SOL_SOCKET, SO_REUSEPORT}; return 0;
#endif
    case OPT_TCP_NODELAY: *out = {IPPROTO_TCP, TCP_NODELAY}; return 0;
    case OPT_SO_KEEPALIVE: *out = {SOL_SOCKET, SO_KEEPALIVE}; return 0;
    case OPT_SO_RCVBUF: *out = {SOL_SOCKET, SO_RCVBUF}; return 0;
    case OPT_SO_SNDBUF: *out = {SOL_SOCKET, SO_SNDBUF}; return 0;
    case OPT_SO_LINGER: *out = {SOL_SOCKET, SO_LINGER}; return 0;
    case OPT_IPV6_V6ONLY: *out = {IPPROTO_IPV6, IPV6_V6ONLY}; return 0;
    case OPT_SO_ERROR: *out = {SOL_SOCKET, SO_ERROR}; return 0;
    case OPT_SO_BROADCAST: *out = {SOL_SOCKET, SO_BROADCAST}; return 0;
    case OPT_IP_MULTICAST_TTL: *out = {IPPROTO_IP, IP_MULTICAST_TTL}; return 0;
    case OPT_IP_MULTICAST_LOOP: *out = {IPPROTO_IP, IP_MULTICAST_LOOP}; return 0;
    case OPT_IPV6_MULTICAST_HOPS: *out = {IPPROTO_IPV6, IPV6_MULTICAST_HOPS}; return 0;
    case OPT_IPV6_MULTICAST_LOOP: *out = {IPPROTO_IPV6, IPV6_MULTICAST_LOOP}; return 0;
    case OPT_SO_TYPE: *out = {SOL_SOCKET, SO_TYPE}; return 0;
    case OPT_SO_ACCEPTCONN: *out = {SOL_SOCKET, SO_ACCEPTCONN}; return 0;
    default: return -ENOPROTOOPT;
  }
}

}  // namespace

int setsockopt(int fd, Option opt, int value) {
  OptionLevel ol;
  if (int r = option_level(opt, &ol)) return r;
  if (opt == OPT_SO_ERROR || opt == OPT_SO_TYPE || opt == OPT_SO_ACCEPTCONN) return -ENOPROTOOPT;
  if (opt == OPT_SO_LINGER) {
    struct linger lg = {value >= 0 ? 1 : 0, value >= 0 ? value : 0};
    return ::setsockopt(fd, ol.level, ol.name, &lg, sizeof lg) == 0 ? 0 : -errno;
  }
  return ::setsockopt(fd, ol.level, ol.name, &value, sizeof value) == 0 ? 0 : -errno;
}

int getsockopt(int fd, Option opt, int* value) {
  OptionLevel ol;
  if (int r = option_level(opt, &ol)) return r;
  if (opt == OPT_SO_LINGER) {
    struct linger lg = {};
    socklen_t len = sizeof lg;
    if (::getsockopt(fd, ol.level, ol.name, &lg, &len) != 0) return -errno;
    *value = lg.l_onoff ? lg.l_linger : -1;
    return 0;
  }
  socklen_t len = sizeof *value;
  return ::getsockopt(fd, ol.level, ol.name, value, &len) == 0 ? 0 : -errno;
}

int membership(int fd, int family, const std::string& group, const std::string& iface, bool add) {
  if (family == AF_INET) {
    struct ip_mreq mreq = {};
    if (inet_pton(AF_INET, group.c_str(), &mreq.imr_multiaddr) != 1) return -EINVAL;
    mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (!iface.empty() && inet_pton(AF_INET, iface.c_str(), &mreq.imr_interface) != 1) return -EINVAL;
    int opt = add ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
    return ::setsockopt(fd, IPPROTO_IP, opt, &mreq, sizeof mreq) == 0 ? 0 : -errno;
  }
  if (family == AF_INET6) {
    struct ipv6_mreq mreq = {};
    if (inet_pton(AF_INET6, group.c_str(), &mreq.ipv6mr_multiaddr) != 1) return -EINVAL;
    mreq.ipv6mr_interface = iface.empty() ? 0 : static_cast<unsigned>(strtoul(iface.c_str(), nullptr, 10));
    int opt = add ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP;
    return ::setsockopt(fd, IPPROTO_IPV6, opt, &mreq, sizeof mreq) == 0 ? 0 : -errno;
  }
  return -EAFNOSUPPORT;
}

}  // namespace sys
}  // namespace rxnet
