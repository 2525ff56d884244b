// The reactor: one backend driven from inside Node's own event loop, with each
// wakeup's whole batch assembled for one hand-over to JavaScript.
//
// * epoll/kqueue: the backend fd is watched by one uv_poll_t; when it turns
//   readable the loop thread calls wait(timeout 0) and delivers the batch.
// * poll/select: a helper thread blocks in wait(-1), hands the batch over with
//   uv_async_send and then waits until the loop thread has consumed it, so a
//   level-triggered fd that JS is about to drain is not reported twice and the
//   thread never spins.
//
// This file knows libuv and the backends, not JavaScript: the batch goes to a
// ReactorHost (addon.cc), which owns the callback, its async context and the
// environment's cleanup hook.
//
// The batch lives in views that JavaScript allocated once (abi.h describes
// them). A registration whose token has RX_TOKEN_READ is a stream: on
// readiness the reactor reads it natively into the arena before the
// hand-over, so the bytes arrive with the event; RX_TOKEN_DGRAM likewise
// receives datagrams (recvmmsg, or the completion backend's multishot
// recvmsg); RX_TOKEN_TLS reads ciphertext and hands it
// to the TLS stage (tls.h), and the batch carries the plaintext.
//
// Lifetime: a Reactor lives until close(). close() stops the helper thread
// and closes the uv handle; the uv_close callback calls host->on_closed() and
// frees the Reactor. SAFETY: nothing may call a Reactor after close(); the
// glue forgets its pointer when it calls close().
#ifndef RXNET_REACTOR_H_
#define RXNET_REACTOR_H_

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "abi.h"
#include "backend/backend.h"
#include "sys.h"

namespace rxnet {

class TlsStage;

struct BatchViews {
  int32_t* fds;
  uint32_t* tokens;
  uint32_t* events;
  uint32_t* offsets;
  int32_t* lengths;
  uint8_t* arena;
  size_t arena_size;
  int capacity;
  int32_t* dgram_meta;
  uint8_t* dgram_addrs;
  int dgram_capacity;
};

struct ReactorStats {
  double wakeups = 0;
  double events = 0;
  double max_batch = 0;
  double registrations = 0;
  double bytes_read = 0;
};

// Where batches go. Called on the loop thread only.
class ReactorHost {
 public:
  virtual ~ReactorHost() = default;
  // n events (n >= 1) are in the views: hand them to JavaScript.
  virtual void on_batch(int n) = 0;
  // The reactor's handle has closed; the reactor is freed right after. The
  // last call a host gets.
  virtual void on_closed() = 0;
};

class Reactor {
 public:
  // Returns nullptr and sets *err (-errno, or -ENOSYS for a backend this OS
  // lacks, -EINVAL for an unknown name) on failure; the host then gets no
  // call at all and remains the caller's to free.
  static Reactor* Create(uv_loop_t* loop, const char* backend_name, const BatchViews& views,
                         ReactorHost* host, int* err);

  int add(int fd, uint32_t token, uint32_t interest);
  int modify(int fd, uint32_t token, uint32_t interest);
  int remove(int fd);
  // Size of one receive slot for the datagram registration of fd (bigger
  // datagrams arrive flagged truncated). Set before add().
  void set_datagram_size(int fd, uint32_t size);
  // Stops everything; host->on_closed() follows from the loop. Idempotent.
  void close();
  // The environment is going away with sockets still registered: their
  // owners (RX_TOKEN_OWNED) can no longer run, so close them here rather
  // than leak them into the process (a terminated worker must not keep its
  // ports). Then close().
  void close_owned_and_close();

  const char* backend_name() const { return backend_->name(); }
  // The backend's own data path for streams and listeners (io_uring), or
  // null: then the stream layer's syscalls are the plain ones.
  DataPath* data_path() const { return backend_->data_path(); }
  int fd_limit() const { return backend_->fd_limit(); }
  const ReactorStats& stats() const { return stats_; }
  // This reactor's TLS sessions (made on first use, freed with the reactor:
  // a worker's sessions go with its environment). nullptr if out of memory.
  TlsStage* tls();
  size_t tls_sessions() const;

 private:
  Reactor(Backend* backend, const BatchViews& views, ReactorHost* host);
  ~Reactor();

  // What the reactor knows of each registered fd, indexed by fd number
  // (descriptors are small and dense; a vector costs 12 bytes per number and
  // no allocation per registration). token 0: not registered.
  struct FdState {
    uint32_t token = 0;
    uint32_t interest = 0;
    uint32_t dgram_size = 0;  // 0: RX_DGRAM_DEFAULT_SIZE
  };

  int start(uv_loop_t* loop);
  FdState* state(int fd);
  void update_ref();
  void deliver(int n);
  bool stale(const Event& ev);
  int32_t read_stream(int fd, size_t* arena_used);
  int32_t stream_bytes(int fd, const uint8_t* data, int32_t n, size_t* arena_used);
  int32_t read_datagrams(int fd, size_t* arena_used, int* dgram_used);
  int32_t take_datagrams(int fd, const sys::Datagram* d, int32_t n, size_t* arena_used, int* dgram_used);
  int32_t read_tls(int fd, size_t* arena_used, uint32_t* events);
  void wait_until_thread_released();
  uv_handle_t* handle();

  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnAsync(uv_async_t* h);
  static void ThreadMain(void* arg);
  static void OnClosed(uv_handle_t* h);

  Backend* backend_;
  BatchViews views_;
  ReactorHost* host_;
  std::vector<Event> events_;
  std::vector<FdState> fds_;
  std::vector<sys::Datagram> dgrams_;
  TlsStage* tls_ = nullptr;

  bool threaded_;
  union {
    uv_poll_t poll;
    uv_async_t async;
  } uv_;
  bool handle_initialized_ = false;
  bool referenced_ = false;
  bool closing_ = false;

  // Helper thread (poll/select only). Everything below is guarded by mu_.
  uv_thread_t thread_;
  bool thread_started_ = false;
  std::mutex mu_;
  std::condition_variable consumed_cv_;  // pending_ dropped to 0, or stopping
  std::condition_variable released_cv_;  // the thread left a wait
  int pending_ = 0;        // events waiting for the loop thread
  bool in_wait_ = false;   // the thread is inside backend_->wait()
  uint64_t waits_ = 0;     // waits the thread has entered
  std::atomic<bool> stopping_{false};

  ReactorStats stats_;
};

}  // namespace rxnet

#endif  // RXNET_REACTOR_H_
