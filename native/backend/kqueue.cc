// kqueue(2) backend (macOS, FreeBSD, the other BSDs; on Linux, libkqueue for
// tests). Level-triggered: no EV_CLEAR on any fd's filter.
//
// Two ways to drive it, chosen when the addon is built:
//
// * Normal: a kqueue descriptor is itself pollable ("a kqueue is readable
//   when there are events pending", kqueue(2)), so like epoll it is watched by
//   one uv_poll_t and wait() is only ever called with timeout 0.
// * RXNET_KQUEUE_THREADED (binding.gyp: kqueue_threaded=1, and always with
//   libkqueue): pollable_fd() is -1, so the reactor blocks in wait() on its
//   helper thread, as for poll/select. wake() triggers an EVFILT_USER event
//   (ident 0, EV_CLEAR so one trigger is one wakeup), which wait() swallows.
//   kevent() may be called from the loop thread while the helper thread is
//   blocked in it: changes reach the kernel's (or libkqueue's) queue at once
//   and take effect in that very wait.
//
// Readable and writable readiness are two filters (EVFILT_READ, EVFILT_WRITE)
// and come back as two kevents; wait() merges them so an fd appears once per
// batch, as the contract says. Hangup and error ride on the filters that are
// registered: EV_EOF on a filter means the peer shut down that direction, and
// a non-zero fflags alongside EV_EOF carries the pending socket error.
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <unordered_map>
#include <vector>

namespace rxnet {
namespace {

static_assert(sizeof(void*) >= sizeof(uint64_t),
              "udata carries the fd and the token: 64-bit targets only");

void* pack(int fd, uint32_t token) {
  return reinterpret_cast<void*>(
      static_cast<uintptr_t>((static_cast<uint64_t>(token) << 32) |
                             static_cast<uint32_t>(fd)));
}

class KqueueBackend final : public Backend {
 public:
  explicit KqueueBackend(int kq) : kq_(kq) {}
  ~KqueueBackend() override { close(kq_); }

  const char* name() const override { return "kqueue"; }
#ifdef RXNET_KQUEUE_THREADED
  int pollable_fd() const override { return -1; }
#else
  int pollable_fd() const override { return kq_; }
#endif

  int add(int fd, uint32_t token, uint32_t interest) override {
    if (interests_.count(fd)) return -EEXIST;
    int r = apply(fd, token, interest, 0);
    if (r == 0) interests_[fd] = interest;
    return r;
  }

  int modify(int fd, uint32_t token, uint32_t interest) override {
    auto it = interests_.find(fd);
    if (it == interests_.end()) return -ENOENT;
    int r = apply(fd, token, interest, it->second);
    if (r == 0) it->second = interest;
    return r;
  }

  int remove(int fd) override {
    auto it = interests_.find(fd);
    if (it == interests_.end()) return -ENOENT;
    int r = apply(fd, 0, 0, it->second);
    interests_.erase(it);
    return r;
  }

  int wait(Event* out, int max, int timeout_ms) override {
    if (static_cast<int>(buf_.size()) < max) buf_.resize(max);
    struct timespec ts;
    struct timespec* tsp = nullptr;
    if (timeout_ms >= 0) {
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
      tsp = &ts;
    }
    int n = kevent(kq_, nullptr, 0, buf_.data(), max, tsp);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    slot_.clear();
    int count = 0;
    for (int i = 0; i < n; i++) {
      const struct kevent& kev = buf_[i];
#ifdef RXNET_KQUEUE_THREADED
      if (kev.filter == EVFILT_USER) continue;  // wake(): nothing to report
#endif
      uint64_t data = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(kev.udata));
      int fd = static_cast<int>(static_cast<uint32_t>(data));
      uint32_t events = 0;
      if (kev.filter == EVFILT_READ) events |= RX_READABLE;
      if (kev.filter == EVFILT_WRITE) events |= RX_WRITABLE;
      if (kev.flags & EV_EOF) {
        events |= RX_HANGUP;
        if (kev.fflags != 0) events |= RX_ERROR;
      }
      if (kev.flags & EV_ERROR) events |= RX_ERROR;
      auto it = slot_.find(fd);
      if (it != slot_.end()) {
        out[it->second].events |= events;
        continue;
      }
      slot_[fd] = count;
      out[count++] = {fd, static_cast<uint32_t>(data >> 32), events};
    }
    return count;
  }

#ifdef RXNET_KQUEUE_THREADED
  int init() {
    struct kevent kev;
    EV_SET(&kev, 0, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    return kevent(kq_, &kev, 1, nullptr, 0, nullptr) < 0 ? -errno : 0;
  }

  int wake() override {
    struct kevent kev;
    EV_SET(&kev, 0, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    return kevent(kq_, &kev, 1, nullptr, 0, nullptr) < 0 ? -errno : 0;
  }
#else
  int init() { return 0; }
  // Never blocked in another thread: the loop only calls wait(0).
  int wake() override { return 0; }
#endif

 private:
  // Adds the filters `interest` asks for and deletes the ones only `before`
  // had. EV_RECEIPT makes kevent() report each change's result in the output
  // list instead of returning pending events (kqueue(2)), so applying changes
  // never swallows readiness.
  int apply(int fd, uint32_t token, uint32_t interest, uint32_t before) {
    struct kevent changes[2];
    int nchanges = 0;
    void* udata = pack(fd, token);
    const struct {
      uint32_t bit;
      short filter;
    } filters[] = {{RX_READABLE, EVFILT_READ}, {RX_WRITABLE, EVFILT_WRITE}};
    for (const auto& f : filters) {
      if (interest & f.bit) {
        EV_SET(&changes[nchanges++], fd, f.filter, EV_ADD | EV_ENABLE | EV_RECEIPT, 0, 0, udata);
      } else if (before & f.bit) {
        EV_SET(&changes[nchanges++], fd, f.filter, EV_DELETE | EV_RECEIPT, 0, 0, udata);
      }
    }
    if (nchanges == 0) return 0;
    struct kevent results[2];
    int n = kevent(kq_, changes, nchanges, results, nchanges, nullptr);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
      // With EV_RECEIPT every result has EV_ERROR set; data is 0 on success.
      // A delete of a filter the kernel already dropped (the fd was closed)
      // reports ENOENT, which is not a failure of ours.
      if ((results[i].flags & EV_ERROR) && results[i].data != 0 &&
          !(results[i].data == ENOENT && (changes[i].flags & EV_DELETE))) {
        return -static_cast<int>(results[i].data);
      }
    }
    return 0;
  }

  int kq_;
  std::vector<struct kevent> buf_;
  std::unordered_map<int, uint32_t> interests_;
  std::unordered_map<int, int> slot_;
};

}  // namespace

Backend* create_kqueue_backend(int* err) {
  int kq = kqueue();
  if (kq < 0) {
    *err = -errno;
    return nullptr;
  }
  fcntl(kq, F_SETFD, FD_CLOEXEC);
  auto* b = new KqueueBackend(kq);
  if (int r = b->init()) {
    delete b;
    *err = r;
    return nullptr;
  }
  return b;
}

}  // namespace rxnet
