// epoll(7) backend (Linux). Level-triggered: no EPOLLET anywhere.
//
// The epoll fd is itself pollable, so the reactor watches it with a single
// uv_poll_t on Node's loop and calls wait(timeout 0) when it turns readable.
#include "backend.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <vector>

namespace rxnet {
namespace {

uint32_t to_epoll(uint32_t interest) {
  uint32_t ev = 0;
  // EPOLLRDHUP only while reading: it is level-triggered too, and a socket
  // whose reading is paused must not wake the loop forever after a FIN.
  if (interest & RX_READABLE) ev |= EPOLLIN | EPOLLRDHUP;
  if (interest & RX_WRITABLE) ev |= EPOLLOUT;
  return ev;  // EPOLLERR and EPOLLHUP are always reported (epoll_ctl(2)).
}

uint32_t from_epoll(uint32_t ev) {
  uint32_t out = 0;
  if (ev & EPOLLIN) out |= RX_READABLE;
  if (ev & EPOLLOUT) out |= RX_WRITABLE;
  if (ev & (EPOLLHUP | EPOLLRDHUP)) out |= RX_HANGUP;
  if (ev & EPOLLERR) out |= RX_ERROR;
  return out;
}

// The fd and the token travel together in epoll_event.data.u64, so a batch
// needs no lookup table.
uint64_t pack(int fd, uint32_t token) {
  return (static_cast<uint64_t>(token) << 32) | static_cast<uint32_t>(fd);
}

class EpollBackend final : public Backend {
 public:
  explicit EpollBackend(int epfd) : epfd_(epfd) {}
  ~EpollBackend() override { close(epfd_); }

  const char* name() const override { return "epoll"; }
  int pollable_fd() const override { return epfd_; }

  int add(int fd, uint32_t token, uint32_t interest) override {
    return ctl(EPOLL_CTL_ADD, fd, token, interest);
  }
  int modify(int fd, uint32_t token, uint32_t interest) override {
    return ctl(EPOLL_CTL_MOD, fd, token, interest);
  }
  int remove(int fd) override {
    // A non-null event pointer keeps kernels before 2.6.9 happy (BUGS in
    // epoll_ctl(2)); it costs nothing.
    struct epoll_event ev = {};
    return epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : -errno;
  }

  int wait(Event* out, int max, int timeout_ms) override {
    if (static_cast<int>(buf_.size()) < max) buf_.resize(max);
    int n = epoll_wait(epfd_, buf_.data(), max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
      uint64_t data = buf_[i].data.u64;
      out[i].fd = static_cast<int>(static_cast<uint32_t>(data));
      out[i].token = static_cast<uint32_t>(data >> 32);
      out[i].events = from_epoll(buf_[i].events);
    }
    return n;
  }

  // Never blocked in another thread: the loop only calls wait(0).
  int wake() override { return 0; }

 private:
  int ctl(int op, int fd, uint32_t token, uint32_t interest) {
    struct epoll_event ev = {};
    ev.events = to_epoll(interest);
    ev.data.u64 = pack(fd, token);
    return epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : -errno;
  }

  int epfd_;
  std::vector<struct epoll_event> buf_;
};

}  // namespace

Backend* create_epoll_backend(int* err) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *err = -errno;
    return nullptr;
  }
  return new EpollBackend(epfd);
}

}  // namespace rxnet
