// The backend contract: one readiness mechanism (epoll, kqueue, poll, select)
// behind one small interface. Each backend lives in a file of its own named
// after the mechanism; nothing outside native/backend/ knows which is which.
//
// Contract (every backend honours all of it):
//
// * Trigger mode: LEVEL. An fd that is still readable or writable after a
//   batch is reported again in the next wait(). Callers never have to drain a
//   socket to EAGAIN to avoid losing a wakeup; they may stop early (a budget)
//   and will be woken again.
//
// * Spurious events: allowed. A reported readiness can be stale by the time it
//   is handled (another reader got there first, or a helper thread's snapshot
//   aged), so every read/write/accept must tolerate EAGAIN.
//
// * Events reported: RX_READABLE and RX_WRITABLE only where the interest asks
//   for them. RX_HANGUP (the peer closed at least its sending side, where the
//   mechanism can tell: epoll, poll and kqueue can, select cannot and reports
//   plain readability; a read() returning 0 is the authoritative signal) and
//   RX_ERROR (a pending socket error; SO_ERROR says which; select cannot tell
//   and reports the fd readable and writable instead) are reported whatever
//   the interest, and being level-triggered they repeat until the fd is
//   removed or the condition clears. kqueue reports them only through a
//   filter it has registered: with interest 0 it reports nothing, and an
//   error that does not end the stream (ICMP on a connected UDP socket)
//   arrives as plain Readable, the error coming back from the next read.
//
// * Batches: wait() fills at most `max` events. A registered fd appears at
//   most once per batch with all of its readiness merged into one mask.
//
// * Tokens: each registration carries a 32-bit token chosen by the caller.
//   The caller uses a new token for every registration (a generation), so an
//   event delivered after an fd was removed and its number reused can be told
//   apart and dropped. The backend reports the token it was given at add()
//   or the latest modify().
//
// * fd ownership: the backend never closes, reads or writes a registered fd.
//   The caller must remove() an fd before closing it (epoll tracks open file
//   descriptions, not numbers; a closed-but-registered fd can keep reporting).
//
// * Threads: add/modify/remove/wake are called on the owning (loop) thread.
//   Backends without a pollable fd (poll, select, and kqueue when built with
//   RXNET_KQUEUE_THREADED) are waited on by one helper thread; for them
//   add/modify/remove may run while that thread is blocked in wait(), and they
//   take effect in that wait (they wake it, or the kernel applies them to it)
//   or the next.
//
// * Errors: every call returns a count or 0 on success and -errno on failure.
//   Nothing here throws.
#ifndef RXNET_BACKEND_H_
#define RXNET_BACKEND_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "../abi.h"
#include "../sys.h"

namespace rxnet {

enum : uint32_t {
  RX_READABLE = 1u << 0,
  RX_WRITABLE = 1u << 1,
  RX_HANGUP = 1u << 2,
  RX_ERROR = 1u << 3,
};

// One entry of a batch.
struct Event {
  int fd;
  uint32_t token;
  uint32_t events;  // RX_* bits
  // Completion backends only (io_uring), for a stream registration
  // (RX_TOKEN_READ): the backend already received this stream's bytes, and
  // the reactor must not read it. received > 0: that many bytes at data
  // (valid until the backend's flush()); 0: end of stream; < 0: -errno of
  // the receive. Readiness backends leave it RX_NOT_READ: the reactor reads.
  // For a datagram registration (RX_TOKEN_DGRAM) on a completion backend:
  // received > 0 datagrams at datagrams (their bytes and the array valid
  // until flush()), or < 0: -errno of the receive.
  const uint8_t* data = nullptr;
  const sys::Datagram* datagrams = nullptr;
  int32_t received = RX_NOT_READ;
};

class DataPath;

class Backend {
 public:
  virtual ~Backend() = default;

  // The mechanism's name as users see it: "epoll", "kqueue", "poll", "select".
  virtual const char* name() const = 0;

  // An fd that becomes readable whenever wait(0) would return events, so the
  // whole backend can be watched by one uv_poll_t; -1 when the mechanism has
  // none and a helper thread must block in wait() instead.
  virtual int pollable_fd() const = 0;

  // The first fd number this backend cannot watch (select: FD_SETSIZE), or -1
  // when there is no such limit.
  virtual int fd_limit() const { return -1; }

  virtual int add(int fd, uint32_t token, uint32_t interest) = 0;
  virtual int modify(int fd, uint32_t token, uint32_t interest) = 0;
  virtual int remove(int fd) = 0;

  // Blocks up to timeout_ms (-1: forever, 0: not at all). Returns the number
  // of events written to out (0 on timeout or wake) or -errno. EINTR is
  // reported as 0 events, never as an error.
  virtual int wait(Event* out, int max, int timeout_ms) = 0;

  // Makes a wait() blocked in another thread return promptly.
  virtual int wake() = 0;

  // ---- completion backends (io_uring); readiness backends keep the defaults
  // The reactor handed the batch of the last wait() over and JavaScript has
  // returned: buffers that batch pointed into may be reused, and what was
  // asked for during it (sends, re-arms, cancellations) goes to the kernel.
  virtual void flush() {}
  // After flush(): more is ready at once (completions that arrived while the
  // batch ran), so the reactor waits again before returning to the loop.
  virtual bool more() { return false; }
  // Most bytes one wait() may hand over in Event::data and Event::datagrams
  // (the arena's size), and most datagrams (the batch's datagram capacity).
  virtual void set_budgets(size_t /*bytes*/, int /*datagrams*/) {}
  // The backend's own way of moving bytes for stream registrations, or null
  // when the reactor reads on readiness and JavaScript writes with syscalls.
  virtual DataPath* data_path() { return nullptr; }
};

// What a completion backend does instead of the stream layer's syscalls, for
// the fds it moves bytes for (stream and listener registrations); for any
// other fd each call is the plain syscall. Results as sys.h's: >= 0 or -errno.
class DataPath {
 public:
  virtual ~DataPath() = default;
  // Takes bytes to send, in order with everything taken before, or -EAGAIN
  // while earlier bytes are still on their way (writability is then reported
  // once they have left, if the registration asks for it).
  virtual ssize_t writev(int fd, const struct iovec* iov, int iovcnt) = 0;
  // sendfile(2), or -EAGAIN while bytes taken earlier have not left yet.
  virtual ssize_t sendfile(int out_fd, int in_fd, int64_t offset, size_t count) = 0;
  // FIN after everything taken so far.
  virtual int shutdown_write(int fd) = 0;
  // Closes fd; what was taken for it still leaves first, then the FIN.
  virtual int close(int fd) = 0;
  // The next connection accepted on a listening fd, or -EAGAIN.
  virtual int accept(int fd) = 0;
  // Starts a non-blocking connect of fd (not registered yet) to addr: 0,
  // -EINPROGRESS (the outcome is reported as writability of the
  // registration made next, and connect_error() says what it was), or
  // -errno at once.
  virtual int connect(int fd, const sys::Address& addr) = 0;
  // How fd's connect went, once its registration was reported writable: 0,
  // or -errno (what SO_ERROR would say).
  virtual int connect_error(int fd) = 0;
};

// Factories, one per backend file. On failure they return nullptr and set
// *err to -errno. A factory for a backend this OS does not compile returns
// nullptr with -ENOSYS.
Backend* create_epoll_backend(int* err);
Backend* create_kqueue_backend(int* err);
Backend* create_poll_backend(int* err);
Backend* create_select_backend(int* err);
// io_uring (Linux): readiness for watch() from POLL_ADD, and a completion data
// path for streams and listeners (native/backend/io_uring.cc).
Backend* create_io_uring_backend(int* err);

}  // namespace rxnet

#endif  // RXNET_BACKEND_H_
