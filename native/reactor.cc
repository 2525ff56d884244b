#include "reactor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rxnet {

namespace {

Backend* create_backend(const char* name, int* err) {
  if (strcmp(name, "epoll") == 0) return create_epoll_backend(err);
  if (strcmp(name, "kqueue") == 0) return create_kqueue_backend(err);
  if (strcmp(name, "poll") == 0) return create_poll_backend(err);
  if (strcmp(name, "select") == 0) return create_select_backend(err);
  *err = -EINVAL;
  return nullptr;
}

}  // namespace

Reactor::Reactor(napi_env env, Backend* backend, const BatchViews& views)
    : env_(env),
      backend_(backend),
      views_(views),
      events_(views.capacity),
      dgrams_(kDgramBudget),
      threaded_(backend->pollable_fd() < 0) {}

Reactor::~Reactor() { delete backend_; }

Reactor* Reactor::Create(napi_env env, const char* backend_name, const BatchViews& views,
                         napi_value callback, napi_value views_keepalive, int* err) {
  Backend* backend = create_backend(backend_name, err);
  if (backend == nullptr) return nullptr;
  auto* r = new Reactor(env, backend, views);
  *err = r->start(callback, views_keepalive);
  if (*err != 0) {
    // Once its uv handle exists the object is freed by OnClosed instead.
    if (!r->handle_initialized_) delete r;
    return nullptr;
  }
  return r;
}

uv_handle_t* Reactor::handle() {
  return threaded_ ? reinterpret_cast<uv_handle_t*>(&uv_.async)
                   : reinterpret_cast<uv_handle_t*>(&uv_.poll);
}

int Reactor::start(napi_value callback, napi_value views_keepalive) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return -EINVAL;
  int r;
  if (threaded_) {
    r = uv_async_init(loop, &uv_.async, OnAsync);
  } else {
    r = uv_poll_init(loop, &uv_.poll, backend_->pollable_fd());
    if (r == 0) r = uv_poll_start(&uv_.poll, UV_READABLE, OnPoll);
  }
  if (r != 0) return r;  // libuv errors are already -errno on Unix.
  handle_initialized_ = true;
  handle()->data = this;
  // Nothing is registered yet: the loop must not stay alive for us.
  uv_unref(handle());

  if (threaded_) {
    if (uv_thread_create(&thread_, ThreadMain, this) != 0) {
      closing_ = true;
      uv_close(handle(), OnClosed);
      return -EAGAIN;
    }
    thread_started_ = true;
  }

  napi_create_reference(env_, callback, 1, &callback_ref_);
  napi_create_reference(env_, views_keepalive, 1, &views_ref_);
  napi_value name;
  napi_create_string_utf8(env_, "rxnet:Reactor", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env_, nullptr, name, &async_context_);
  // An async hook, not a plain one: at worker exit Node would otherwise unload
  // the addon before uv_close completes and OnClosed would run freed code.
  napi_add_async_cleanup_hook(env_, OnCleanupHook, this, &cleanup_hook_);
  return 0;
}

int Reactor::add(int fd, uint32_t token, uint32_t interest) {
  int r = backend_->add(fd, token, interest);
  if (r == 0) {
    current_[fd] = {token, interest};
    stats_.registrations++;
    update_ref();
  }
  return r;
}

int Reactor::modify(int fd, uint32_t token, uint32_t interest) {
  int r = backend_->modify(fd, token, interest);
  if (r == 0) current_[fd] = {token, interest};
  return r;
}

void Reactor::set_datagram_size(int fd, uint32_t size) { dgram_sizes_[fd] = size; }

int Reactor::remove(int fd) {
  dgram_sizes_.erase(fd);
  current_.erase(fd);
  int r = backend_->remove(fd);
  // EBADF: the fd was closed before it was removed (an RxJS observer's
  // complete runs before the source's teardown, so this happens in correct
  // code), and closing it already dropped it from the kernel's interest set.
  // Either way it is no longer registered, and the loop must not stay
  // referenced for it.
  if (r == 0 || r == -EBADF || r == -ENOENT) {
    stats_.registrations--;
    update_ref();
    return 0;
  }
  return r;
}

// The loop stays alive exactly while something is registered, so a script
// whose last subscription ends exits by itself.
void Reactor::update_ref() {
  bool want = stats_.registrations > 0;
  if (want == referenced_ || closing_) return;
  referenced_ = want;
  if (want) {
    uv_ref(handle());
  } else {
    uv_unref(handle());
  }
}

void Reactor::OnPoll(uv_poll_t* h, int status, int /*events*/) {
  auto* self = static_cast<Reactor*>(h->data);
  if (status < 0 || self->closing_) return;
  int n = self->backend_->wait(self->events_.data(), self->views_.capacity, 0);
  if (n > 0) self->deliver(n);
}

void Reactor::ThreadMain(void* arg) {
  auto* self = static_cast<Reactor*>(arg);
  while (!self->stopping_.load()) {
    int n = self->backend_->wait(self->events_.data(), self->views_.capacity, -1);
    if (self->stopping_.load()) break;
    if (n <= 0) continue;  // woken for a registration change, or EINTR
    std::unique_lock<std::mutex> lock(self->mu_);
    self->pending_ = n;
    uv_async_send(&self->uv_.async);
    // Wait for the loop thread to consume the batch: the fds are level-
    // triggered and still ready until JS has read them.
    self->cv_.wait(lock, [self] { return self->pending_ == 0 || self->stopping_.load(); });
  }
}

void Reactor::OnAsync(uv_async_t* h) {
  auto* self = static_cast<Reactor*>(h->data);
  int n;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    n = self->pending_;
  }
  // The helper thread is parked until pending_ drops to 0, so events_ is ours.
  if (n > 0 && !self->closing_) self->deliver(n);
  if (self->closing_) return;  // close() already released the thread.
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->pending_ = 0;
  }
  self->cv_.notify_one();
}

int Reactor::read_into_arena(int fd, size_t* arena_used) {
  size_t room = views_.arena_size - *arena_used;
  if (room < 1024) return kNotRead;  // arena full: level-triggered, next wakeup
  if (room > kReadBudget) room = kReadBudget;
  ssize_t r;
  do {
    r = recv(fd, views_.arena + *arena_used, room, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? kNotRead : -errno;
  *arena_used += static_cast<size_t>(r);
  stats_.bytes_read += static_cast<double>(r);
  return static_cast<int32_t>(r);
}

// Receives up to kDgramBudget datagrams into the arena, each in a slot of
// the socket's datagram size, then packs them end to end so small datagrams
// do not waste the arena. Returns how many arrived, kNotRead, or -errno.
int Reactor::recv_into_arena(int fd, size_t* arena_used, int* dgram_used) {
  auto it = dgram_sizes_.find(fd);
  size_t slot = it == dgram_sizes_.end() ? 65536 : it->second;
  size_t room = views_.arena_size - *arena_used;
  int n = static_cast<int>(room / slot);
  if (n > kDgramBudget) n = kDgramBudget;
  if (n > views_.dgram_capacity - *dgram_used) n = views_.dgram_capacity - *dgram_used;
  if (n <= 0) return kNotRead;  // full for this wakeup: level-triggered, next one
  uint8_t* base = views_.arena + *arena_used;
  for (int j = 0; j < n; j++) {
    dgrams_[j].data = base + j * slot;
    dgrams_[j].capacity = slot;
  }
  int got = sys::recv_datagrams(fd, dgrams_.data(), n);
  if (got < 0) return got == -EAGAIN || got == -EWOULDBLOCK ? kNotRead : got;
  size_t packed = 0;
  for (int j = 0; j < got; j++) {
    const sys::Datagram& d = dgrams_[j];
    size_t len = d.length < slot ? d.length : slot;
    if (packed != static_cast<size_t>(j) * slot) memmove(base + packed, d.data, len);
    int k = *dgram_used + j;
    int32_t* meta = views_.dgram_meta + k * kDgramMetaFields;
    uint8_t* addr = views_.dgram_addrs + k * 16;
    meta[0] = static_cast<int32_t>(*arena_used + packed);
    meta[1] = static_cast<int32_t>(len);
    meta[4] = d.truncated ? 1 : 0;
    if (d.addr.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&d.addr);
      memcpy(addr, &sin->sin_addr, 4);
      meta[2] = ntohs(sin->sin_port);
      meta[3] = 4;
    } else if (d.addr.ss_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(&d.addr);
      memcpy(addr, &sin6->sin6_addr, 16);
      meta[2] = ntohs(sin6->sin6_port);
      meta[3] = 6;
    } else {
      meta[2] = 0;
      meta[3] = 0;
    }
    packed += len;
  }
  *arena_used += packed;
  *dgram_used += got;
  stats_.bytes_read += static_cast<double>(packed);
  return got;
}

bool Reactor::stale(const Event& ev) const {
  if (!(ev.token & (kReadToken | kDgramToken))) return false;  // nothing to read natively
  auto it = current_.find(ev.fd);
  return it == current_.end() || it->second.token != ev.token || !(it->second.interest & RX_READABLE);
}

void Reactor::deliver(int n) {
  size_t arena_used = 0;
  int dgram_used = 0;
  for (int i = 0; i < n; i++) {
    const Event& ev = events_[i];
    views_.tokens[i] = ev.token;
    views_.events[i] = ev.events;
    if (!(ev.events & RX_READABLE) || (threaded_ && stale(ev))) {
      // Not readable, or (poll/select) the fd was deregistered, reused or
      // paused after the helper thread collected this event: reading now
      // would take bytes that are not this registration's to take.
      views_.lengths[i] = kNotRead;
    } else if (ev.token & kReadToken) {
      views_.offsets[i] = static_cast<uint32_t>(arena_used);
      views_.lengths[i] = read_into_arena(ev.fd, &arena_used);
    } else if (ev.token & kDgramToken) {
      // offsets[i] is the index of the first datagram, lengths[i] the count.
      views_.offsets[i] = static_cast<uint32_t>(dgram_used);
      views_.lengths[i] = recv_into_arena(ev.fd, &arena_used, &dgram_used);
    } else {
      views_.lengths[i] = kNotRead;
    }
  }
  stats_.wakeups++;
  stats_.events += n;
  if (n > stats_.max_batch) stats_.max_batch = n;

  in_deliver_ = true;
  napi_handle_scope scope;
  napi_open_handle_scope(env_, &scope);
  napi_value callback, recv, argv[1], result;
  napi_get_reference_value(env_, callback_ref_, &callback);
  napi_get_global(env_, &recv);  // MakeCallback needs an object receiver.
  napi_create_int32(env_, n, &argv[0]);
  // MakeCallback: microtasks run afterwards and async_hooks (and so clinic
  // bubbleprof) see the activity under this reactor's async context.
  if (napi_make_callback(env_, async_context_, recv, callback, 1, argv, &result) ==
      napi_pending_exception) {
    // We are in a libuv callback with no JS frame to throw into: hand the
    // error to process 'uncaughtException', as Node does for its own handles.
    napi_value error;
    napi_get_and_clear_last_exception(env_, &error);
    napi_fatal_exception(env_, error);
  }
  napi_close_handle_scope(env_, scope);
  in_deliver_ = false;
  // JS closed the reactor from inside the callback: the async context was
  // still in use then, so its release waited until now.
  if (closing_) release_js();
}

void Reactor::release_js() {
  if (callback_ref_) napi_delete_reference(env_, callback_ref_);
  if (views_ref_) napi_delete_reference(env_, views_ref_);
  if (async_context_) napi_async_destroy(env_, async_context_);
  callback_ref_ = views_ref_ = nullptr;
  async_context_ = nullptr;
}

void Reactor::close() {
  if (closing_) return;
  closing_ = true;
  if (thread_started_) {
    stopping_.store(true);
    backend_->wake();
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = 0;
    }
    cv_.notify_one();
    uv_thread_join(&thread_);
    thread_started_ = false;
  }
  if (!in_deliver_) release_js();
  uv_close(handle(), OnClosed);
}

void Reactor::OnCleanupHook(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* self = static_cast<Reactor*>(arg);
  // The environment is going away with connections still open: their
  // owners can no longer run, so close their sockets here rather than leak
  // them into the process (a terminated worker must not keep its ports).
  for (const auto& entry : self->current_) {
    if (!(entry.second.token & kOwnedToken)) continue;
    self->backend_->remove(entry.first);
    ::close(entry.first);
  }
  self->current_.clear();
  self->close();
}

void Reactor::OnClosed(uv_handle_t* h) {
  auto* self = static_cast<Reactor*>(h->data);
  // Removing the hook tells Node this environment may now finish tearing
  // down (and unload the addon); nothing of ours runs after this.
  if (self->cleanup_hook_) napi_remove_async_cleanup_hook(self->cleanup_hook_);
  delete self;
}

}  // namespace rxnet
