// select(2) backend, compiled everywhere. Level-triggered by nature.
//
// An fd_set holds descriptors below FD_SETSIZE only; FD_SET on a larger one
// writes past the end of the set (select(2), BUGS). add() refuses such an fd
// with -ERANGE, and the TypeScript layer turns that into a clear error before
// it gets here.
//
// select cannot tell a hangup or an error from readiness: a peer's FIN or RST
// shows up as RX_READABLE (read() returns 0 or the error), and a failed
// connect as RX_WRITABLE (SO_ERROR says why). Its exceptfds mean out-of-band
// data, not errors, so they are not used.
#include "backend.h"
#include "interest_table.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>

#include <vector>

namespace rxnet {
namespace {

class SelectBackend final : public Backend {
 public:
  const char* name() const override { return "select"; }
  int pollable_fd() const override { return -1; }
  int fd_limit() const override { return FD_SETSIZE; }
  int init() {
    int r = table_.init();
    if (r == 0 && table_.wake_fd() >= FD_SETSIZE) return -EMFILE;
    return r;
  }

  int add(int fd, uint32_t token, uint32_t interest) override {
    if (fd < 0 || fd >= FD_SETSIZE) return -ERANGE;
    return table_.add(fd, token, interest);
  }
  int modify(int fd, uint32_t token, uint32_t interest) override {
    if (fd < 0 || fd >= FD_SETSIZE) return -ERANGE;
    return table_.modify(fd, token, interest);
  }
  int remove(int fd) override { return table_.remove(fd); }
  int wake() override { return table_.wake(); }

  int wait(Event* out, int max, int timeout_ms) override {
    table_.snapshot(&regs_);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int wfd = table_.wake_fd();
    FD_SET(wfd, &rd);
    int nfds = wfd + 1;
    for (const Registration& r : regs_) {
      if (r.interest & RX_READABLE) FD_SET(r.fd, &rd);
      if (r.interest & RX_WRITABLE) FD_SET(r.fd, &wr);
      if (r.fd >= nfds) nfds = r.fd + 1;
    }
    struct timeval tv;
    struct timeval* tvp = nullptr;
    if (timeout_ms >= 0) {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
      tvp = &tv;
    }
    int n = select(nfds, &rd, &wr, nullptr, tvp);
    if (n < 0 && errno == EBADF) return report_closed(out, max);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    if (FD_ISSET(wfd, &rd)) table_.drain_wakeups();
    int count = 0;
    size_t n_regs = regs_.size();
    size_t start = table_.next_start(n_regs);
    for (size_t k = 0; k < n_regs && count < max; k++) {
      size_t i = (start + k) % n_regs;
      const Registration& r = regs_[i];
      uint32_t events = 0;
      if ((r.interest & RX_READABLE) && FD_ISSET(r.fd, &rd)) events |= RX_READABLE;
      if ((r.interest & RX_WRITABLE) && FD_ISSET(r.fd, &wr)) events |= RX_WRITABLE;
      if (!events) continue;
      out[count++] = {r.fd, r.token, events};
      if (count == max) table_.advance(i);
    }
    return count;
  }

 private:
  // A registered fd was closed without being removed first (the contract
  // forbids it, but one such mistake must not stop the whole reactor):
  // select() fails the entire set with EBADF. Report the culprits as errors,
  // as poll reports POLLNVAL, so their owners can remove them.
  int report_closed(Event* out, int max) {
    int count = 0;
    for (const Registration& r : regs_) {
      if (count >= max) break;
      if (fcntl(r.fd, F_GETFD) < 0) out[count++] = {r.fd, r.token, RX_ERROR};
    }
    return count;
  }

  InterestTable table_;
  std::vector<Registration> regs_;
};

}  // namespace

Backend* create_select_backend(int* err) {
  auto* b = new SelectBackend();
  if (int r = b->init()) {
    delete b;
    *err = r;
    return nullptr;
  }
  return b;
}

}  // namespace rxnet
