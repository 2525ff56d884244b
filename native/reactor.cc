#include "reactor.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"

namespace rxnet {

namespace {

Backend* create_backend(const char* name, int* err) {
  if (strcmp(name, "io_uring") == 0) return create_io_uring_backend(err);
  if (strcmp(name, "epoll") == 0) return create_epoll_backend(err);
  if (strcmp(name, "kqueue") == 0) return create_kqueue_backend(err);
  if (strcmp(name, "poll") == 0) return create_poll_backend(err);
  if (strcmp(name, "select") == 0) return create_select_backend(err);
  *err = -EINVAL;
  return nullptr;
}

}  // namespace

Reactor::Reactor(Backend* backend, const BatchViews& views, ReactorHost* host)
    : backend_(backend),
      views_(views),
      host_(host),
      events_(views.capacity),
      dgrams_(RX_DGRAM_BUDGET),
      threaded_(backend->pollable_fd() < 0) {}

Reactor::~Reactor() {
  delete tls_;
  delete backend_;
}

TlsStage* Reactor::tls() {
  if (tls_ == nullptr) {
    tls_ = new TlsStage();
    if (!tls_->ok()) {
      delete tls_;
      tls_ = nullptr;
    }
  }
  return tls_;
}

size_t Reactor::tls_sessions() const { return tls_ != nullptr ? tls_->count() : 0; }

Reactor* Reactor::Create(uv_loop_t* loop, const char* backend_name, const BatchViews& views,
                         ReactorHost* host, int* err) {
  Backend* backend = create_backend(backend_name, err);
  if (backend == nullptr) return nullptr;
  backend->set_budgets(views.arena_size, views.dgram_capacity);
  auto* r = new Reactor(backend, views, host);
  *err = r->start(loop);
  if (*err != 0) {
    // Once its uv handle exists the object is freed by OnClosed instead, and
    // the host hears of it there.
    if (!r->handle_initialized_) delete r;
    return nullptr;
  }
  return r;
}

uv_handle_t* Reactor::handle() {
  return threaded_ ? reinterpret_cast<uv_handle_t*>(&uv_.async)
                   : reinterpret_cast<uv_handle_t*>(&uv_.poll);
}

int Reactor::start(uv_loop_t* loop) {
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
      // Create() reports the failure; the host hears nothing more of us.
      host_ = nullptr;
      closing_ = true;
      uv_close(handle(), OnClosed);
      return -EAGAIN;
    }
    thread_started_ = true;
  }
  return 0;
}

Reactor::FdState* Reactor::state(int fd) {
  if (fd < 0) return nullptr;
  if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 1);
  return &fds_[fd];
}

int Reactor::add(int fd, uint32_t token, uint32_t interest) {
  int r = backend_->add(fd, token, interest);
  if (r != 0) return r;
  FdState* s = state(fd);
  s->token = token;
  s->interest = interest;
  stats_.registrations++;
  update_ref();
  return 0;
}

int Reactor::modify(int fd, uint32_t token, uint32_t interest) {
  int r = backend_->modify(fd, token, interest);
  if (r != 0) return r;
  FdState* s = state(fd);
  s->token = token;
  s->interest = interest;
  return 0;
}

void Reactor::set_datagram_size(int fd, uint32_t size) {
  if (FdState* s = state(fd)) s->dgram_size = size;
}

int Reactor::remove(int fd) {
  FdState* s = state(fd);
  bool was_registered = s != nullptr && s->token != 0;
  if (s != nullptr) *s = FdState{};
  int r = backend_->remove(fd);
  // Only a removal from the helper thread's set needs the hand-shake (an fd
  // that was not in it cannot be in a wait that is under way either), and
  // only such a removal woke the thread.
  if (threaded_ && r == 0) wait_until_thread_released();
  if (was_registered) {
    stats_.registrations--;
    update_ref();
  }
  // EBADF: the fd was closed before it was removed (an RxJS observer's
  // complete runs before the source's teardown, so this happens in correct
  // code), and closing it already dropped it from the kernel's interest set.
  // ENOENT: it was not registered. Either way it is not registered now.
  return r == -EBADF || r == -ENOENT ? 0 : r;
}

// poll and select hold a reference to every file in their set while they
// block (Linux: __pollwait takes get_file() on each). A socket closed by the
// loop thread while the helper thread is inside select() therefore stays
// open until that select() returns: a closed listener goes on completing
// handshakes, and its clients get ECONNRESET instead of ECONNREFUSED. So a
// removal waits until the helper thread has left the wait it is in, if any:
// that wait may have taken its snapshot before the removal; any later one
// takes it after. The wake makes that wait end at once, whichever it is (the
// removal's own wake may have been drained by an earlier wait). No wait at
// all while the thread is parked on a batch, as during dispatch.
void Reactor::wait_until_thread_released() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!in_wait_) return;
  uint64_t entered = waits_;
  backend_->wake();
  released_cv_.wait(lock, [&] { return !in_wait_ || waits_ != entered || stopping_.load(); });
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

// More work can be ready as soon as a batch is done (a completion backend's
// flushed sends bring completions; busy peers, below): take up to this many
// batches per wakeup before letting the loop run its other handles, then ask
// to be woken again.
constexpr int kMaxBatchesPerWakeup = 8;

// A batch of at least this many events says the peers are busy: by the time
// its JavaScript and its sends are done, more is usually ready, and waiting
// again at once (a non-blocking wait) costs one syscall where going back to
// the loop costs libuv's epoll_pwait, its check and timer phases and Node's
// immediate scope before the same wait. A lone event (a quiet server, one
// client's ping-pong) goes back to the loop as before: no extra syscall
// where nothing else is coming. Measured side by side on epoll (schedstat
// CPU per request, 5-7 interleaved rounds): -P 1 0.970, -P 16 0.965,
// -k 0 0.979 of the CPU without it.
constexpr int kWaitAgainAfter = 2;

void Reactor::OnPoll(uv_poll_t* h, int status, int /*events*/) {
  auto* self = static_cast<Reactor*>(h->data);
  if (status < 0 || self->closing_) return;
  for (int round = 0; round < kMaxBatchesPerWakeup; round++) {
    int n = self->backend_->wait(self->events_.data(), self->views_.capacity, 0);
    if (n > 0) self->deliver(n);
    // The batch's JavaScript may have closed the reactor (and freed nothing
    // yet: OnClosed comes later), so check before touching the backend.
    if (self->closing_) return;
    self->backend_->flush();
    if (n < kWaitAgainAfter && !self->backend_->more()) return;
  }
  self->backend_->wake();
}

void Reactor::ThreadMain(void* arg) {
  auto* self = static_cast<Reactor*>(arg);
  while (!self->stopping_.load()) {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->in_wait_ = true;
      self->waits_++;
    }
    int n = self->backend_->wait(self->events_.data(), self->views_.capacity, -1);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->in_wait_ = false;
    }
    self->released_cv_.notify_all();
    if (self->stopping_.load()) break;
    if (n <= 0) continue;  // woken for a registration change, or EINTR
    std::unique_lock<std::mutex> lock(self->mu_);
    self->pending_ = n;
    uv_async_send(&self->uv_.async);
    // Wait for the loop thread to consume the batch: the fds are level-
    // triggered and still ready until JS has read them.
    self->consumed_cv_.wait(lock, [self] { return self->pending_ == 0 || self->stopping_.load(); });
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
  self->consumed_cv_.notify_one();
}

int32_t Reactor::read_stream(int fd, size_t* arena_used) {
  size_t room = views_.arena_size - *arena_used;
  if (room < RX_ARENA_MIN_ROOM) return RX_NOT_READ;  // level-triggered: next wakeup
  if (room > RX_READ_BUDGET) room = RX_READ_BUDGET;
  ssize_t r = sys::read(fd, views_.arena + *arena_used, room);
  if (r < 0) return r == -EAGAIN || r == -EWOULDBLOCK ? RX_NOT_READ : static_cast<int32_t>(r);
  return stream_bytes(fd, views_.arena + *arena_used, static_cast<int32_t>(r), arena_used);
}

// Bytes arrived for stream fd, from a read of our own (already in place at
// the arena's end) or a completion backend's receive (copied in): the one
// step both data paths share between the socket and the batch. n > 0 bytes
// at data; returns what the batch's lengths[i] says.
int32_t Reactor::stream_bytes(int /*fd*/, const uint8_t* data, int32_t n, size_t* arena_used) {
  uint8_t* at = views_.arena + *arena_used;
  if (data != at) memcpy(at, data, static_cast<size_t>(n));
  *arena_used += static_cast<size_t>(n);
  stats_.bytes_read += static_cast<double>(n);
  return n;
}

// Receives up to RX_DGRAM_BUDGET datagrams into the arena, each in a slot of
// the socket's datagram size, then packs them end to end so small datagrams
// do not waste the arena. Returns how many arrived, RX_NOT_READ, or -errno.
int32_t Reactor::read_datagrams(int fd, size_t* arena_used, int* dgram_used) {
  const FdState* s = state(fd);
  size_t slot = s->dgram_size != 0 ? s->dgram_size : RX_DGRAM_DEFAULT_SIZE;
  size_t room = views_.arena_size - *arena_used;
  int n = static_cast<int>(room / slot);
  if (n > RX_DGRAM_BUDGET) n = RX_DGRAM_BUDGET;
  if (n > views_.dgram_capacity - *dgram_used) n = views_.dgram_capacity - *dgram_used;
  if (n <= 0) return RX_NOT_READ;  // full for this wakeup: level-triggered, next one
  uint8_t* base = views_.arena + *arena_used;
  for (int j = 0; j < n; j++) {
    dgrams_[j].data = base + j * slot;
    dgrams_[j].capacity = slot;
  }
  int got = sys::recv_datagrams(fd, dgrams_.data(), n);
  if (got < 0) return got == -EAGAIN || got == -EWOULDBLOCK ? RX_NOT_READ : got;
  size_t packed = 0;
  for (int j = 0; j < got; j++) {
    const sys::Datagram& d = dgrams_[j];
    size_t len = d.length < slot ? d.length : slot;
    if (packed != static_cast<size_t>(j) * slot) memmove(base + packed, d.data, len);
    int k = *dgram_used + j;
    sys::encode_datagram(d, static_cast<int32_t>(*arena_used + packed), static_cast<int32_t>(len),
                         views_.dgram_meta + k * RX_DGRAM_FIELDS, views_.dgram_addrs + k * RX_ADDR_SLOT);
    packed += len;
  }
  *arena_used += packed;
  *dgram_used += got;
  stats_.bytes_read += static_cast<double>(packed);
  return got;
}

// n datagrams a completion backend received for fd: into the arena, end to
// end, each cut to the socket's datagram size (flagged truncated beyond it,
// as a receive slot of that size does), with their metadata. Returns n.
int32_t Reactor::take_datagrams(int fd, const sys::Datagram* d, int32_t n, size_t* arena_used, int* dgram_used) {
  const FdState* s = state(fd);
  size_t slot = s->dgram_size != 0 ? s->dgram_size : RX_DGRAM_DEFAULT_SIZE;
  size_t taken = 0;
  for (int32_t j = 0; j < n; j++) {
    size_t len = d[j].length < slot ? d[j].length : slot;
    memcpy(views_.arena + *arena_used + taken, d[j].data, len);
    int k = *dgram_used + j;
    int32_t* meta = views_.dgram_meta + k * RX_DGRAM_FIELDS;
    sys::encode_datagram(d[j], static_cast<int32_t>(*arena_used + taken), static_cast<int32_t>(len), meta,
                         views_.dgram_addrs + k * RX_ADDR_SLOT);
    if (d[j].length > slot) meta[RX_DGRAM_TRUNCATED] = 1;
    taken += len;
  }
  *arena_used += taken;
  *dgram_used += n;
  stats_.bytes_read += static_cast<double>(taken);
  return n;
}

// A TLS stream: ciphertext is read into the stage's buffer and the stage
// decrypts it into the arena. An incomplete record may wait in the session
// from an earlier read, so n bytes read can decrypt to n +
// RX_TLS_RECORD_PLAINTEXT: read only as much as leaves room for that.
int32_t Reactor::read_tls(int fd, size_t* arena_used, uint32_t* events) {
  size_t room = views_.arena_size - *arena_used;
  TlsStage* stage = tls();
  if (room < RX_TLS_RECORD_PLAINTEXT + RX_ARENA_MIN_ROOM || stage == nullptr) return RX_NOT_READ;
  size_t want = room - RX_TLS_RECORD_PLAINTEXT;
  if (want > RX_READ_BUDGET) want = RX_READ_BUDGET;
  uint8_t* ciphertext = stage->read_buffer();
  ssize_t r = sys::read(fd, ciphertext, want);
  if (r == -EAGAIN || r == -EWOULDBLOCK) return RX_NOT_READ;
  if (r > 0) stats_.bytes_read += static_cast<double>(r);
  int32_t n = stage->input(fd, ciphertext, r, views_.arena + *arena_used, room, events);
  if (n > 0) *arena_used += static_cast<size_t>(n);
  return n;
}

// poll/select: the helper thread's batch can be older than the registrations.
// Before reading an fd natively, check the event is still this
// registration's and it still wants reading.
bool Reactor::stale(const Event& ev) {
  if (!(ev.token & (RX_TOKEN_READ | RX_TOKEN_DGRAM))) return false;  // nothing to read natively
  const FdState* s = state(ev.fd);
  return s == nullptr || s->token != ev.token || !(s->interest & RX_READABLE);
}

void Reactor::deliver(int n) {
  size_t arena_used = 0;
  int dgram_used = 0;
  int out = 0;  // events passed on; i below is the batch slot being filled
  for (int k = 0; k < n; k++) {
    const Event& ev = events_[k];
    const int i = out++;
    views_.fds[i] = ev.fd;
    views_.tokens[i] = ev.token;
    views_.events[i] = ev.events;
    if (ev.received != RX_NOT_READ && (ev.token & RX_TOKEN_DGRAM)) {
      // A completion backend received these datagrams already (within the
      // batch's byte and datagram budgets).
      views_.offsets[i] = static_cast<uint32_t>(dgram_used);
      views_.lengths[i] = ev.received > 0 ? take_datagrams(ev.fd, ev.datagrams, ev.received, &arena_used, &dgram_used)
                                          : ev.received;
    } else if (ev.received != RX_NOT_READ) {
      // A completion backend received them already (its byte budget is the
      // arena's size, so they fit).
      views_.offsets[i] = static_cast<uint32_t>(arena_used);
      views_.lengths[i] = ev.received > 0 ? stream_bytes(ev.fd, ev.data, ev.received, &arena_used) : ev.received;
    } else if (!(ev.events & RX_READABLE) || (threaded_ && stale(ev))) {
      // Not readable, or (poll/select) the fd was deregistered, reused or
      // paused after the helper thread collected this event: reading now
      // would take bytes that are not this registration's to take.
      views_.lengths[i] = RX_NOT_READ;
    } else if (ev.token & RX_TOKEN_TLS) {
      views_.offsets[i] = static_cast<uint32_t>(arena_used);
      views_.lengths[i] = read_tls(ev.fd, &arena_used, &views_.events[i]);
      // Part of a record and nothing else to say: JavaScript would do
      // nothing with it, so it is not passed on. A bulk sender's segments
      // arrive a few KiB at a time, and a TLS record is 16 KiB: this spares
      // the call into JavaScript for every wakeup that ends mid-record.
      if (views_.lengths[i] == RX_NOT_READ && views_.events[i] == RX_READABLE) out--;
    } else if (ev.token & RX_TOKEN_READ) {
      views_.offsets[i] = static_cast<uint32_t>(arena_used);
      views_.lengths[i] = read_stream(ev.fd, &arena_used);
    } else if (ev.token & RX_TOKEN_DGRAM) {
      // offsets[i] is the index of the first datagram, lengths[i] the count.
      views_.offsets[i] = static_cast<uint32_t>(dgram_used);
      views_.lengths[i] = read_datagrams(ev.fd, &arena_used, &dgram_used);
    } else {
      views_.lengths[i] = RX_NOT_READ;
    }
  }
  if (out == 0) return;
  // The stats count what JavaScript gets: batches (one call each) and their events.
  stats_.wakeups++;
  stats_.events += out;
  if (out > stats_.max_batch) stats_.max_batch = out;
  host_->on_batch(out);
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
    consumed_cv_.notify_one();
    uv_thread_join(&thread_);
    thread_started_ = false;
  }
  uv_close(handle(), OnClosed);
}

void Reactor::close_owned_and_close() {
  // Stop the helper thread first, so no wait() holds these fds any more.
  close();
  for (size_t fd = 0; fd < fds_.size(); fd++) {
    if (!(fds_[fd].token & RX_TOKEN_OWNED)) continue;
    backend_->remove(static_cast<int>(fd));
    sys::close(static_cast<int>(fd));
    fds_[fd] = FdState{};
  }
}

void Reactor::OnClosed(uv_handle_t* h) {
  auto* self = static_cast<Reactor*>(h->data);
  if (self->host_ != nullptr) self->host_->on_closed();
  delete self;
}

}  // namespace rxnet
