// poll(2) backend, compiled everywhere. Level-triggered by nature.
//
// poll has no descriptor of its own to hand to Node's loop, so one helper
// thread blocks in wait() on a snapshot of the registrations plus a wake pipe;
// every add/modify/remove writes to that pipe so the new set takes effect at
// once.
#include "backend.h"
#include "interest_table.h"

#include <errno.h>
#include <poll.h>

#include <vector>

namespace rxnet {
namespace {

class PollBackend final : public Backend {
 public:
  const char* name() const override { return "poll"; }
  int pollable_fd() const override { return -1; }
  int init() { return table_.init(); }

  int add(int fd, uint32_t token, uint32_t interest) override {
    return table_.add(fd, token, interest);
  }
  int modify(int fd, uint32_t token, uint32_t interest) override {
    return table_.modify(fd, token, interest);
  }
  int remove(int fd) override { return table_.remove(fd); }
  int wake() override { return table_.wake(); }

  int wait(Event* out, int max, int timeout_ms) override {
    table_.snapshot(&regs_);
    pfds_.resize(regs_.size() + 1);
    pfds_[0] = {table_.wake_fd(), POLLIN, 0};
    for (size_t i = 0; i < regs_.size(); i++) {
      short ev = 0;
      if (regs_[i].interest & RX_READABLE) {
        ev |= POLLIN;
#ifdef POLLRDHUP
        ev |= POLLRDHUP;  // Linux: report the peer's FIN as a hangup.
#endif
      }
      if (regs_[i].interest & RX_WRITABLE) ev |= POLLOUT;
      pfds_[i + 1] = {regs_[i].fd, ev, 0};
    }
    int n = poll(pfds_.data(), pfds_.size(), timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    if (pfds_[0].revents) table_.drain_wakeups();
    int count = 0;
    size_t n_regs = regs_.size();
    size_t start = table_.next_start(n_regs);
    for (size_t k = 0; k < n_regs && count < max; k++) {
      size_t r = (start + k) % n_regs;
      size_t i = r + 1;
      short re = pfds_[i].revents;
      if (!re) continue;
      uint32_t events = 0;
      if (re & POLLIN) events |= RX_READABLE;
      if (re & POLLOUT) events |= RX_WRITABLE;
      if (re & POLLHUP) events |= RX_HANGUP;
#ifdef POLLRDHUP
      if (re & POLLRDHUP) events |= RX_HANGUP;
#endif
      if (re & (POLLERR | POLLNVAL)) events |= RX_ERROR;
      out[count++] = {regs_[r].fd, regs_[r].token, events};
      if (count == max) table_.advance(r);
    }
    return count;
  }

 private:
  InterestTable table_;
  std::vector<Registration> regs_;
  std::vector<struct pollfd> pfds_;
};

}  // namespace

Backend* create_poll_backend(int* err) {
  auto* b = new PollBackend();
  if (int r = b->init()) {
    delete b;
    *err = r;
    return nullptr;
  }
  return b;
}

}  // namespace rxnet
