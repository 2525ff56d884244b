// The reactor: one backend driven from inside Node's own event loop, handing
// each wakeup's whole batch to JavaScript in a single call.
//
// * epoll/kqueue: the backend fd is watched by one uv_poll_t; when it turns
//   readable the loop thread calls wait(timeout 0) and delivers the batch.
// * poll/select: a helper thread blocks in wait(-1), hands the batch over with
//   uv_async_send and then waits until the loop thread has consumed it, so a
//   level-triggered fd that JS is about to drain is not reported twice and the
//   thread never spins.
//
// The batch lives in typed arrays that JavaScript allocated once and passed in
// (tokens, events, offsets, lengths, arena). A registration whose token has
// kReadToken set is a stream: on readiness the reactor reads it natively into
// the arena before crossing, so the bytes arrive with the event and JS makes
// no syscall of its own to get them.
//
// Lifetime: a Reactor lives until close(), which is also what the async
// cleanup hook calls when the environment (main thread or worker) goes away.
// close() stops the helper thread, closes the uv handle, and the uv_close
// callback frees the object and removes the cleanup hook. SAFETY: after
// close() the JS side must not pass this pointer back in; the TypeScript
// Reactor forgets its handle when it closes.
#ifndef RXNET_REACTOR_H_
#define RXNET_REACTOR_H_

#include <node_api.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include <unordered_map>

#include "backend/backend.h"
#include "sys.h"

namespace rxnet {

// Token bit: read this fd natively on readiness and deliver the bytes.
constexpr uint32_t kReadToken = 0x80000000u;
// Token bit: drain this datagram socket natively (recvmmsg) on readiness.
constexpr uint32_t kDgramToken = 0x40000000u;
// Token bit: the registering layer owns this fd (a connection, a listener, a
// UDP socket). When the environment tears down (worker exit) no JavaScript
// can close it any more, so the reactor closes it; an explicit close() leaves
// fds to their owners as the backend contract says.
constexpr uint32_t kOwnedToken = 0x20000000u;
// At most this many datagrams per socket per wakeup.
constexpr int kDgramBudget = 64;
// Per datagram in dgram_meta: offset, length, port, family (4/6, 0 other),
// truncated (0/1). Addresses go to dgram_addrs, 16 bytes each.
constexpr int kDgramMetaFields = 5;
// lengths[i] when nothing was read for event i.
constexpr int32_t kNotRead = INT32_MIN;
// At most this many bytes per stream per wakeup (a budget, like libuv's
// 64 KiB read buffer), so one busy socket cannot starve the rest.
constexpr size_t kReadBudget = 64 * 1024;

struct BatchViews {
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

class Reactor {
 public:
  // Returns nullptr and sets *err (-errno, or -ENOSYS for a backend this OS
  // lacks, -EINVAL for an unknown name) on failure.
  static Reactor* Create(napi_env env, const char* backend_name, const BatchViews& views,
                         napi_value callback, napi_value views_keepalive, int* err);

  int add(int fd, uint32_t token, uint32_t interest);
  int modify(int fd, uint32_t token, uint32_t interest);
  int remove(int fd);
  void close();
  // Size of one receive slot for datagram registrations of fd (bigger
  // datagrams arrive flagged truncated).
  void set_datagram_size(int fd, uint32_t size);

  const char* backend_name() const { return backend_->name(); }
  int fd_limit() const { return backend_->fd_limit(); }
  const ReactorStats& stats() const { return stats_; }

 private:
  Reactor(napi_env env, Backend* backend, const BatchViews& views);
  ~Reactor();

  int start(napi_value callback, napi_value views_keepalive);
  void update_ref();
  void deliver(int n);
  bool stale(const Event& ev) const;
  void release_js();
  int read_into_arena(int fd, size_t* arena_used);
  int recv_into_arena(int fd, size_t* arena_used, int* dgram_used);
  uv_handle_t* handle();

  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnAsync(uv_async_t* h);
  static void ThreadMain(void* arg);
  static void OnCleanupHook(napi_async_cleanup_hook_handle handle, void* arg);
  static void OnClosed(uv_handle_t* h);

  napi_env env_;
  Backend* backend_;
  BatchViews views_;
  std::vector<Event> events_;
  std::unordered_map<int, uint32_t> dgram_sizes_;
  // The current token and interest of every registered fd. A helper
  // thread's batch (poll/select) can be older than the registrations: before
  // reading an fd natively, deliver() checks the event still matches.
  struct Current {
    uint32_t token;
    uint32_t interest;
  };
  std::unordered_map<int, Current> current_;
  std::vector<sys::Datagram> dgrams_;

  bool threaded_;
  union {
    uv_poll_t poll;
    uv_async_t async;
  } uv_;
  bool handle_initialized_ = false;
  bool referenced_ = false;
  bool closing_ = false;
  bool in_deliver_ = false;

  // Helper thread hand-over (poll/select only).
  uv_thread_t thread_;
  bool thread_started_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  int pending_ = 0;  // events waiting for the loop thread; guarded by mu_
  std::atomic<bool> stopping_{false};

  napi_ref callback_ref_ = nullptr;
  napi_ref views_ref_ = nullptr;
  napi_async_context async_context_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;

  ReactorStats stats_;
};

}  // namespace rxnet

#endif  // RXNET_REACTOR_H_
