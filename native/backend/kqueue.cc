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
// registered: EV_EOF on EVFILT_READ means the peer shut down its sending side,
// on EVFILT_WRITE that this socket can send no more (the connection was reset
// or closed, or this side shut down its own sending half), and both map to
// RX_HANGUP; a non-zero fflags alongside EV_EOF is the pending socket error
// (filt_soread/filt_sowrite copy so_error there without clearing it), mapped
// to RX_ERROR. Two things kqueue cannot say, unlike epoll (backend.h): with
// no filter registered (interest 0) nothing at all is reported, and a socket
// error that does not end the stream (ICMP on a connected UDP socket) shows
// as plain Readable, the error coming back from the next read.
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

const struct {
  uint32_t bit;
  short filter;
} kFilters[] = {{RX_READABLE, EVFILT_READ}, {RX_WRITABLE, EVFILT_WRITE}};

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
    uint32_t now = 0;
    int r = apply(fd, token, interest, 0, token, &now);
    if (r != 0) {
      // All or nothing: a half-made registration the caller does not know
      // about would keep reporting.
      if (now != 0) {
        uint32_t ignored;
        apply(fd, token, 0, now, token, &ignored);
      }
      return r;
    }
    interests_[fd] = {token, interest};
    return 0;
  }

  int modify(int fd, uint32_t token, uint32_t interest) override {
    auto it = interests_.find(fd);
    if (it == interests_.end()) return -ENOENT;
    uint32_t now = 0;
    int r = apply(fd, token, interest, it->second.interest, it->second.token, &now);
    // On failure remember what is really registered, so a later modify or
    // remove starts from the truth.
    it->second = {r == 0 ? token : it->second.token, now};
    return r;
  }

  int remove(int fd) override {
    auto it = interests_.find(fd);
    if (it == interests_.end()) return -ENOENT;
    uint32_t now = 0;
    int r = apply(fd, it->second.token, 0, it->second.interest, it->second.token, &now);
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
      // One entry per fd: the read and the write kevent of one fd need not
      // be next to each other, so find an earlier entry by fd number.
      if (static_cast<size_t>(fd) >= slot_.size()) slot_.resize(fd + 1, 0);
      if (int s = slot_[fd]) {
        out[s - 1].events |= events;
        continue;
      }
      slot_[fd] = ++count;
      out[count - 1] = {fd, static_cast<uint32_t>(data >> 32), events};
    }
    for (int i = 0; i < count; i++) slot_[out[i].fd] = 0;
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
  struct Registered {
    uint32_t token;
    uint32_t interest;
  };

  // Moves the filters of fd from `before` (registered with token
  // `token_before`) to `interest` with `token`, touching only what changes:
  // a filter that stays is left alone, unless the token changes, when it is
  // deleted and added again (level-triggered, so readiness is not lost).
  // Re-adding an unchanged filter would be legal on BSD (EV_ADD of an
  // existing knote modifies it, kqueue(2)) but is wasted work, and libkqueue
  // rejects it for sockets (src/linux/read.c and write.c: kn_modify fails
  // unless EV_CLEAR is given). *now receives the filters registered
  // afterwards, whatever happened.
  int apply(int fd, uint32_t token, uint32_t interest, uint32_t before,
            uint32_t token_before, uint32_t* now) {
    struct kevent changes[4];
    uint32_t bits[4];
    int nchanges = 0;
    *now = before;
    void* udata = pack(fd, token);
    for (const auto& f : kFilters) {
      bool want = (interest & f.bit) != 0;
      bool had = (before & f.bit) != 0;
      if (had && (!want || token != token_before)) {
        bits[nchanges] = f.bit;
        EV_SET(&changes[nchanges++], fd, f.filter, EV_DELETE | EV_RECEIPT, 0, 0, nullptr);
      }
      if (want && (!had || token != token_before)) {
        bits[nchanges] = f.bit;
        EV_SET(&changes[nchanges++], fd, f.filter, EV_ADD | EV_RECEIPT, 0, 0, udata);
      }
    }
    if (nchanges == 0) return 0;
    // EV_RECEIPT: every change is answered by one entry in the output list,
    // in order, with EV_ERROR set and data 0 on success or the errno; with
    // exactly nchanges slots no pending event is dequeued here, so applying
    // changes never swallows readiness (kqueue(2); mio does the same).
    struct kevent results[4];
    int n = kevent(kq_, changes, nchanges, results, nchanges, nullptr);
    if (n < 0) {
      // FreeBSD's kqueue(2): "When kevent() call fails with EINTR error, all
      // changes in the changelist have been applied."
      if (errno != EINTR) return -errno;
      *now = interest;
      return 0;
    }
    int first_error = 0;
    for (int i = 0; i < nchanges; i++) {
      int err = i < n && (results[i].flags & EV_ERROR) ? static_cast<int>(results[i].data) : 0;
      bool deleting = (changes[i].flags & EV_DELETE) != 0;
      // Deleting a filter that is not there (ENOENT: the fd was closed, which
      // drops its knotes, and the number reused) leaves what we asked for.
      if (deleting && err == ENOENT) err = 0;
      // Older macOS (10.10, 10.11) refuses EV_ADD on a pipe whose other end
      // is closed with EPIPE, yet registers the filter and reports on it
      // (mio, src/sys/unix/selector/kqueue.rs, ignores it the same way).
      if (!deleting && err == EPIPE) err = 0;
      if (err == 0) {
        *now = deleting ? (*now & ~bits[i]) : (*now | bits[i]);
      } else if (first_error == 0) {
        first_error = err;
      }
    }
    return -first_error;
  }

  int kq_;
  std::vector<struct kevent> buf_;
  // Batch index + 1 of an fd already in the batch being built, by fd
  // number; all zero between waits. Used only by the thread that calls
  // wait() (the helper thread when threaded), like buf_.
  std::vector<int> slot_;
  // What each fd has registered. Loop thread only (add/modify/remove).
  std::unordered_map<int, Registered> interests_;
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
