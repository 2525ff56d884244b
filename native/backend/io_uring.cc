// io_uring backend (Linux 6.0+): a completion ring that is both a readiness
// backend, for watch() and TLS streams, and a data path for streams,
// datagram sockets, listeners and outgoing connects. One ring per reactor;
// Node's loop watches the eventfd the ring signals (IORING_REGISTER_EVENTFD),
// with one uv_poll_t as for epoll.
//
// * Readiness (registrations without RX_TOKEN_READ/DGRAM/ACCEPT): one-shot
//   IORING_OP_POLL_ADD, armed again after every batch that reported it. A
//   poll is checked against the fd's state when armed, so an fd still ready
//   after a batch completes again at once: LEVEL-triggered, as backend.h
//   requires. (Multishot poll posts once per wakeup of the socket, which is
//   edge-triggered: a watcher that leaves bytes unread would never hear of
//   them again.) An interest change while armed is IORING_POLL_UPDATE_EVENTS.
//
// * TLS streams (RX_TOKEN_TLS): readiness, as above; the reactor's TLS stage
//   reads the ciphertext and writes the records itself.
//
// * Streams (RX_TOKEN_READ): while the registration wants reading, one
//   multishot IORING_OP_RECV picks buffers from the provided-buffer ring, so
//   a receive costs no syscall; each completion becomes an Event carrying its
//   bytes (Event::data), which the reactor copies into the arena like a read
//   of its own. The buffer returns to the kernel in flush(), after the batch.
//   Pausing cancels the receive, and a new one is armed only after the last
//   completion of the old one, so bytes never arrive out of order.
//   Writes (DataPath::writev) are copied into the stream's outbox and leave
//   as one IORING_OP_SEND per stream per batch, submitted in flush() with
//   everything else in one io_uring_enter. MSG_WAITALL makes the kernel
//   finish a send the socket could only take part of; while one is in flight
//   the stream takes no more (-EAGAIN), and its completion reports the
//   stream writable if the registration asks.
//
// * Datagram sockets (RX_TOKEN_DGRAM): while the registration wants reading,
//   one multishot IORING_OP_RECVMSG picks buffers from a second buffer ring
//   (kDatagramGroup, added when the first datagram socket registers), one
//   whole datagram with its source address per buffer, so receiving costs no
//   syscall and no re-arm. A batch gives a socket at most RX_DGRAM_BUDGET of
//   them (and all sockets together the batch's datagram capacity and the
//   arena's bytes); the rest wait for the next batch in their buffers. The
//   event carries them (Event::datagrams) and the reactor copies them into
//   the arena as it would its own recvmmsg's; the buffers return to the
//   kernel in flush(). Completions that arrive while the socket is not
//   reading are held, buffers and all, and handed over first once it reads
//   again. Sends stay sendmmsg(2) from the stream layer: immediate, with
//   their errors where the caller is.
//
// * Outgoing connections (IPv4, IPv6): IORING_OP_CONNECT, submitted before
//   the stream registers; the kernel waits for the handshake itself. Its
//   completion reports the registration writable and keeps the outcome for
//   connect_error() (the kernel consumed SO_ERROR in taking it). No poll is
//   armed for the socket meanwhile. Closing the socket cancels it.
//
// * Listeners (RX_TOKEN_ACCEPT): one multishot IORING_OP_ACCEPT; accepted
//   fds wait in a bounded queue that DataPath::accept hands out. An accept
//   error (EMFILE) ends the multishot; the listener sees it from accept() and
//   backs off as on every backend, and while no accept is armed accept() is
//   the plain syscall (the spare-fd trick).
//
// Lifetimes (SAFETY): a request names its fd, the registration's token and
// its kind in user_data; the kernel holds a reference to the file from
// submission to the last completion. A removal cancels the fd's requests,
// and their late completions are recognised by the token and dropped, their
// buffers returned and their accepted fds closed. The memory a request uses
// (provided buffers, a send's bytes) is released only by its last
// completion; the destructor cancels everything and reaps until nothing is
// in flight before it unmaps anything.
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "../sys.h"
#include "../uring/ring.h"

namespace rxnet {
namespace {

using uring::Ring;

// ---- user_data --------------------------------------------------------------
// kind (4 bits) | fd (28 bits) | token (32 bits); a send carries a pointer to
// its SendOp, a connect to its ConnectOp, instead of fd and token (user-space
// pointers fit in 48 bits).
enum Kind : uint64_t {
  K_IGNORE = 0,  // cancellations and poll updates (CQE only on failure)
  K_POLL = 1,
  K_RECV = 2,
  K_ACCEPT = 3,
  K_SEND = 4,
  K_SHUTDOWN = 5,
  K_RECVMSG = 6,
  K_CONNECT = 7,
};
constexpr int kKindShift = 60;
constexpr uint64_t kFdMask = 0x0fffffffu;
constexpr int kMaxFd = static_cast<int>(kFdMask);
// FdState::received once a stream's completions are being put off to the
// next batch.
constexpr size_t kDeferring = ~static_cast<size_t>(0);

uint64_t pack(Kind k, int fd, uint32_t token) {
  return (static_cast<uint64_t>(k) << kKindShift) | (static_cast<uint64_t>(fd) << 32) | token;
}
Kind kind_of(uint64_t ud) { return static_cast<Kind>(ud >> kKindShift); }
int fd_of(uint64_t ud) { return static_cast<int>((ud >> 32) & kFdMask); }
uint32_t token_of(uint64_t ud) { return static_cast<uint32_t>(ud); }

uint32_t to_poll(uint32_t interest) {
  uint32_t ev = 0;
  if (interest & RX_READABLE) ev |= POLLIN | POLLRDHUP;
  if (interest & RX_WRITABLE) ev |= POLLOUT;
  return ev;  // POLLERR and POLLHUP are always reported.
}

uint32_t from_poll(uint32_t ev) {
  uint32_t out = 0;
  if (ev & POLLIN) out |= RX_READABLE;
  if (ev & POLLOUT) out |= RX_WRITABLE;
  if (ev & (POLLHUP | POLLRDHUP)) out |= RX_HANGUP;
  if (ev & POLLERR) out |= RX_ERROR;
  return out;
}

// One send in flight: it owns its bytes until its completion.
struct SendOp {
  int fd;
  uint64_t socket;  // FdState::socket when it was made
  std::vector<uint8_t> bytes;
  size_t done = 0;
  // Only for bytes taken before a close while an earlier send was still in
  // flight: they follow that send (next) on a duplicate of the fd (own_fd,
  // closed when done), then the FIN if one was asked for.
  SendOp* next = nullptr;
  int own_fd = -1;
  bool shutdown_after = false;
};

// One connect in flight: the address must outlive the submission.
struct ConnectOp {
  int fd;
  uint64_t socket;  // FdState::socket when it was made
  struct sockaddr_storage addr;
  socklen_t len;
  bool cancelled = false;
};

// FdState::connect_result before any connect of the ring's: ask the socket.
constexpr int32_t kNoRingConnect = 1;

enum Role : uint8_t { ROLE_POLL, ROLE_STREAM, ROLE_LISTENER, ROLE_DGRAM };

// Room the kernel leaves for the source address in each datagram buffer,
// between its io_uring_recvmsg_out header and the payload.
constexpr uint32_t kDgramNameLen = sizeof(struct sockaddr_in6);
constexpr size_t kDgramHead = sizeof(struct io_uring_recvmsg_out) + kDgramNameLen;

// A datagram socket's receive state (allocated for datagram registrations
// only: a stream's FdState carries one pointer for it).
struct DgramState {
  // This batch's datagrams, pointing into their buffers, and the index of
  // the socket's event in the batch.
  std::vector<sys::Datagram> batch;
  uint64_t batch_serial = 0;
  int event = -1;
  // Completions that arrived while it was not reading, in order; their
  // buffers stay out of the kernel's hands until they are delivered.
  std::vector<struct io_uring_cqe> held;
};

struct FdState {
  uint32_t token = 0;  // the registration; 0: none
  uint32_t interest = 0;
  Role role = ROLE_POLL;
  bool dirty = false;  // on the dirty list: reconcile in flush()

  // Requests in the kernel, whatever registration armed them (at most one of
  // each kind), the token each was armed with, and whether it is cancelled.
  uint8_t polls = 0, recvs = 0, accepts = 0;
  bool poll_cancelled = false, recv_cancelled = false, accept_cancelled = false;
  uint32_t poll_token = 0, recv_token = 0, accept_token = 0;
  uint32_t poll_mask = 0;

  // Output of a stream. socket changes when the fd is closed through the
  // data path, so a late send completion does not touch a new socket that
  // reuses the number.
  uint64_t socket = 0;
  std::vector<uint8_t> outbox;
  // A linked IORING_OP_SHUTDOWN names the fd by number, and the kernel looks
  // the number up only when it issues the request, after the send before it
  // has completed. Until then the number must stay this socket's: a close()
  // through the data path meanwhile is deferred to the shutdown's completion
  // (the number is not free for reuse, so no other connection's socket can
  // take that FIN).
  uint16_t shutdowns = 0;
  bool close_deferred = false;
  SendOp* send = nullptr;
  int send_error = 0;
  bool shutdown_pending = false;

  // A listener's accepted fds, not yet taken.
  std::vector<int> accepted;
  size_t accepted_head = 0;
  int accept_error = 0;
  // How the ring's connect of this socket went (0, -errno), or
  // kNoRingConnect. connect: the one in flight.
  int32_t connect_result = kNoRingConnect;
  ConnectOp* connect = nullptr;
  uint64_t reported = 0;  // batch serial in which this fd got its event
  // Bytes received for this stream in batch number received_in.
  uint64_t received_in = 0;
  size_t received = 0;

  // Received while the stream was not reading (paused, or pausing took
  // effect only after these had arrived): kept here, out of the provided
  // buffers, and handed over once it reads again, before anything newer.
  // parked_end: what followed them (0 end of stream, -errno), or
  // RX_NOT_READ.
  std::vector<uint8_t> parked;
  size_t parked_head = 0;
  int32_t parked_end = RX_NOT_READ;
  bool on_parked_list = false;

  DgramState* dgram = nullptr;  // ROLE_DGRAM only
};

class UringBackend final : public Backend, public DataPath {
 public:
  explicit UringBackend(Ring* ring) : ring_(ring) {
    dgram_msg_.msg_namelen = kDgramNameLen;
  }

  ~UringBackend() override {
    quiesce();
    for (size_t fd = 0; fd < fds_.size(); fd++) {
      close_accepted(&fds_[fd]);
      delete fds_[fd].dgram;
    }
    delete ring_;
  }

  // A TLS stream is read by the reactor's TLS stage (ciphertext in, plaintext
  // into the arena) and written by it, so the ring only reports its
  // readiness, as for watch(): the stage needs room for a record's plaintext
  // beyond what it reads, which a receive completion cannot promise.
  // A datagram socket receives through the ring when the datagram buffers
  // could be set up, else (out of memory) on readiness, with recvmmsg.
  Role role_of(uint32_t token) {
    if (token & RX_TOKEN_TLS) return ROLE_POLL;
    if (token & RX_TOKEN_DGRAM) return dgram_buffers() ? ROLE_DGRAM : ROLE_POLL;
    return token & RX_TOKEN_READ ? ROLE_STREAM : token & RX_TOKEN_ACCEPT ? ROLE_LISTENER : ROLE_POLL;
  }

  bool dgram_buffers() {
    if (ring_->has_buffer_group(Ring::kDatagramGroup)) return true;
    if (dgram_group_failed_) return false;
    dgram_group_failed_ =
        ring_->add_buffer_group(Ring::kDatagramGroup, RX_URING_DGRAM_BUFFERS, RX_URING_DGRAM_BUFFER_SIZE) != 0;
    return !dgram_group_failed_;
  }

  // Gives the role its state: a datagram socket its DgramState, anything
  // else none (its buffers back to the kernel).
  void set_role(FdState* s, Role role) {
    s->role = role;
    if (role == ROLE_DGRAM) {
      if (s->dgram == nullptr) {
        s->dgram = new DgramState();
        s->dgram->batch.reserve(RX_DGRAM_BUDGET);
      }
    } else if (s->dgram != nullptr) {
      release_held(s);
      delete s->dgram;
      s->dgram = nullptr;
    }
  }

  const char* name() const override { return "io_uring"; }
  int pollable_fd() const override { return ring_->event_fd(); }
  DataPath* data_path() override { return this; }
  void set_budgets(size_t bytes, int datagrams) override {
    byte_budget_ = bytes;
    dgram_budget_ = datagrams;
  }

  int add(int fd, uint32_t token, uint32_t interest) override {
    if (fd < 0 || fd > kMaxFd) return -EBADF;
    FdState* s = state(fd);
    if (s->token != 0) return -EEXIST;  // as epoll_ctl(EPOLL_CTL_ADD)
    // Refuse a closed fd now, as epoll_ctl would, rather than from a
    // completion later: for watch() and datagram sockets, whose fds come
    // from anyone. Streams and listeners come from the stream layer's own
    // socket()/accept(), and a new connection saves the syscall.
    if (!(token & (RX_TOKEN_READ | RX_TOKEN_ACCEPT)) && fcntl(fd, F_GETFD) < 0) return -errno;
    s->token = token;
    s->interest = interest;
    set_role(s, role_of(token));
    s->send_error = 0;
    s->accept_error = 0;
    mark(fd, s);
    return submit_outside_batch();
  }

  int modify(int fd, uint32_t token, uint32_t interest) override {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size() || fds_[fd].token == 0) return -ENOENT;
    FdState* s = &fds_[fd];
    if (s->token != token) {
      // A new token for the same fd: nothing armed under the old one may
      // report to the new one.
      cancel_all(fd, s);
      release_held(s);
      s->token = token;
      set_role(s, role_of(token));
    }
    s->interest = interest;
    mark(fd, s);
    return submit_outside_batch();
  }

  int remove(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size() || fds_[fd].token == 0) return -ENOENT;
    FdState* s = &fds_[fd];
    cancel_all(fd, s);
    // Connections accepted for this listener and never taken: nobody else
    // knows them. Bytes parked for a stream: nobody will read them.
    close_accepted(s);
    drop_parked_now(s);
    set_role(s, ROLE_POLL);
    s->token = 0;
    s->interest = 0;
    return submit_outside_batch();
  }

  int wait(Event* out, int max, int /*timeout_ms*/) override {
    // Node's loop woke us (or the reactor is looping on more()): take the
    // eventfd's count, then let the kernel run the completion work it
    // deferred for us, and read the completions.
    in_batch_ = true;
    ring_->set_notify(false);
    // Only if the kernel (or wake()) may have signalled it since the last
    // time: the reactor's further rounds in one wakeup keep notifications
    // off and need no read.
    if (maybe_signalled_) {
      ring_->drain_event_fd();
      maybe_signalled_ = false;
    }
    if (ring_->work_pending() || ring_->unsubmitted() > 0 || !(ring_->setup_flags() & IORING_SETUP_DEFER_TASKRUN)) {
      ring_->enter(true);
    }
    batch_serial_++;
    dgrams_in_batch_ = 0;
    int n = 0;
    size_t bytes = 0;
    // Listeners whose queue JavaScript left non-empty: level-triggered, they
    // are reported again.
    std::vector<int> again;
    again.swap(listeners_with_queue_);
    for (int fd : again) {
      FdState* s = state(fd);
      if (s->token == 0 || !(s->interest & RX_READABLE) || queued(s) == 0 || s->reported == batch_serial_) continue;
      if (n < max) report(out, &n, fd, s, RX_READABLE);
      else listeners_with_queue_.push_back(fd);  // a full batch: the next one
    }
    deliver_parked(out, &n, max);
    // Completions put off by the last batch come first, in their order.
    std::vector<struct io_uring_cqe> put_off;
    put_off.swap(deferred_);
    size_t k = 0;
    for (; k < put_off.size() && n < max; k++) complete(&put_off[k], out, &n, &bytes);
    for (; k < put_off.size(); k++) deferred_next_.push_back(put_off[k]);
    unsigned ready = ring_->cq_ready();
    unsigned i = 0;
    for (; i < ready && n < max; i++) complete(ring_->cqe(i), out, &n, &bytes);
    ring_->cq_advance(i);
    deferred_.swap(deferred_next_);
    deferred_next_.clear();
    // The datagram events point at what their sockets gathered.
    for (int fd : dgram_fds_) {
      DgramState* d = fds_[fd].dgram;
      if (d == nullptr || d->batch_serial != batch_serial_ || d->batch.empty()) continue;
      out[d->event].datagrams = d->batch.data();
      out[d->event].received = static_cast<int32_t>(d->batch.size());
    }
    return n;
  }

  int wake() override {
    notify_on();
    uint64_t one = 1;
    return write(ring_->event_fd(), &one, sizeof one) < 0 ? -errno : 0;
  }

  void flush() override {
    // The batch's buffers: its bytes are in the arena now.
    for (uint16_t bid : used_buffers_) ring_->recycle_buffer(Ring::kStreamGroup, bid);
    if (!used_buffers_.empty()) ring_->publish_buffers(Ring::kStreamGroup);
    used_buffers_.clear();
    for (int fd : dgram_fds_) {
      if (DgramState* d = fds_[fd].dgram) d->batch.clear();
    }
    dgram_fds_.clear();
    recycle_dgram_buffers();
    // Parked bytes handed over are in the arena now.
    std::vector<int> list;
    list.swap(parked_fds_);
    for (int fd : list) {
      FdState* s = &fds_[fd];
      if (s->token == 0 || !parked(s)) {
        drop_parked(s);
        s->on_parked_list = false;
        mark(fd, s);  // its receive may be armed again
      } else {
        parked_fds_.push_back(fd);
      }
    }
    reconcile();
    if (ring_->unsubmitted() > 0 || ring_->work_pending()) ring_->enter(true);
    in_batch_ = false;
  }

  // Notifications stay off while there is more to do at once; they go back
  // on only when the reactor is about to return to the loop, and then what
  // arrived in between is looked for once more.
  bool more() override {
    if (ready_now()) return true;
    notify_on();
    if (!ready_now()) return false;
    ring_->set_notify(false);
    return true;
  }

  // ---- DataPath -------------------------------------------------------------

  ssize_t writev(int fd, const struct iovec* iov, int iovcnt) override {
    FdState* s = stream(fd);
    if (s == nullptr) return sys::writev(fd, iov, iovcnt);
    if (s->send_error != 0) return s->send_error;
    // Like a socket buffer of RX_URING_SEND_MAX beyond the one send in
    // flight: bytes taken while a send is in flight follow it.
    if (s->outbox.size() >= RX_URING_SEND_MAX) return -EAGAIN;
    size_t room = RX_URING_SEND_MAX - s->outbox.size();
    size_t taken = 0;
    for (int i = 0; i < iovcnt && taken < room; i++) {
      size_t len = iov[i].iov_len;
      if (len > room - taken) len = room - taken;
      const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      s->outbox.insert(s->outbox.end(), p, p + len);
      taken += len;
    }
    mark(fd, s);
    int r = submit_outside_batch();
    return r < 0 ? r : static_cast<ssize_t>(taken);
  }

  ssize_t sendfile(int out_fd, int in_fd, int64_t offset, size_t count) override {
    FdState* s = stream(out_fd);
    if (s != nullptr) {
      if (s->send_error != 0) return s->send_error;
      // The file's bytes go straight to the socket (sendfile(2), zero-copy):
      // anything taken before them must have left first. Bytes taken in this
      // batch and not yet submitted (an HTTP head before its body) are sent
      // here and now rather than costing a round trip.
      if (s->send != nullptr) return -EAGAIN;
      if (!s->outbox.empty()) {
        struct iovec iov = {s->outbox.data(), s->outbox.size()};
        ssize_t r = sys::writev(out_fd, &iov, 1);
        if (r < 0 && r != -EAGAIN) {
          s->send_error = static_cast<int>(r);
          s->outbox.clear();
          return r;
        }
        if (r > 0) s->outbox.erase(s->outbox.begin(), s->outbox.begin() + r);
        if (!s->outbox.empty()) return -EAGAIN;  // the rest is submitted after the batch
      }
    }
    return sys::sendfile(out_fd, in_fd, offset, count);
  }

  int shutdown_write(int fd) override {
    FdState* s = stream(fd);
    if (s == nullptr || (s->send == nullptr && s->outbox.empty())) return sys::shutdown(fd, SHUT_WR);
    s->shutdown_pending = true;
    mark(fd, s);
    return submit_outside_batch();
  }

  int close(int fd) override {
    if (fd >= 0 && static_cast<size_t>(fd) < fds_.size()) {
      FdState* s = &fds_[fd];
      // Bytes taken but not yet submitted leave first (then the FIN, if
      // asked for): submitted, a request holds its own reference to the
      // socket, so closing the number does not cut it off. A send already
      // in flight holds the socket the same way, and the FIN of the close
      // follows it.
      if (!s->outbox.empty()) {
        if (s->send == nullptr) {
          start_send(fd, s);
        } else {
          // They must follow the send in flight, and the number is about
          // to be closed: they go on a duplicate of it.
          int keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
          if (keep >= 0) {
            SendOp* b = new_send();
            b->fd = keep;
            b->own_fd = keep;
            b->socket = ~0ull;
            b->done = 0;
            b->bytes.swap(s->outbox);
            b->shutdown_after = s->shutdown_pending;
            s->send->next = b;
            in_flight_++;
          }
        }
      }
      if (s->shutdown_pending && s->send == nullptr) s->shutdown_pending = false;
      if (s->token != 0) {
        cancel_all(fd, s);
        close_accepted(s);
        drop_parked_now(s);
        s->token = 0;
        s->interest = 0;
      }
      set_role(s, ROLE_POLL);
      // A connect still going (its socket was never registered) stops now,
      // not when the kernel gives up on it.
      cancel_connect(s);
      // A request holds the file until its completion has run, which with
      // DEFER_TASKRUN happens only when we enter with GETEVENTS: do so now,
      // or a closed listener would go on completing handshakes (its
      // clients would see a reset instead of a refusal).
      if (ring_->unsubmitted() > 0 || s->polls > 0 || s->recvs > 0 || s->accepts > 0 || s->connect != nullptr) {
        ring_->enter(true);
      }
      s->connect = nullptr;  // the ConnectOp finishes by itself; it checks socket
      s->connect_result = kNoRingConnect;
      s->socket++;
      s->send = nullptr;  // the SendOp finishes by itself; it checks socket
      s->shutdown_pending = false;
      s->send_error = 0;
      s->outbox.clear();
      s->outbox.shrink_to_fit();
      if (s->shutdowns > 0) {
        // A linked shutdown not issued yet names this number: keep it ours
        // until that completes (the socket's own FIN and close follow then).
        s->close_deferred = true;
        return 0;
      }
    }
    return sys::close(fd);
  }

  int accept(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return sys::accept(fd);
    FdState* s = &fds_[fd];
    if (s->role != ROLE_LISTENER || s->token == 0) return sys::accept(fd);
    if (queued(s) > 0) {
      int c = s->accepted[s->accepted_head++];
      if (s->accepted_head == s->accepted.size()) {
        s->accepted.clear();
        s->accepted_head = 0;
      }
      // Dirty either way: below the cap again, accepting may resume; and
      // what is still queued when JavaScript stops (its accept budget) is
      // reported again after this batch (reconcile), armed accept or not.
      // (Marking only with no accept armed left those connections queued
      // until another one arrived: a client that had connected a wave of
      // them and waited for replies waited for ever.)
      mark(fd, s);
      return c;
    }
    if (s->accept_error != 0) {
      int e = s->accept_error;
      s->accept_error = 0;
      return e;
    }
    // Nothing queued. While a multishot accept is armed, a connection
    // waiting in the backlog is the kernel's to take: EAGAIN without a
    // syscall. Otherwise (accepting paused after EMFILE) the plain syscall.
    if (s->accepts > 0 && !s->accept_cancelled) return -EAGAIN;
    return sys::accept(fd);
  }

  int connect(int fd, const sys::Address& addr) override {
    if (fd < 0 || fd > kMaxFd) return sys::connect(fd, addr);
    FdState* s = state(fd);
    if (addr.family != AF_INET && addr.family != AF_INET6) {
      // A Unix socket connects (or fails) at once.
      s->connect_result = kNoRingConnect;
      return sys::connect(fd, addr);
    }
    if (s->connect != nullptr) return -EALREADY;
    // One allocation per outgoing connection, freed by its completion.
    auto* op = new ConnectOp();
    int len = sys::to_sockaddr(addr, &op->addr);
    if (len < 0) {
      delete op;
      return len;
    }
    op->fd = fd;
    op->socket = s->socket;
    op->len = static_cast<socklen_t>(len);
    s->connect = op;
    s->connect_result = 0;
    struct io_uring_sqe* e = sqe();
    e->opcode = IORING_OP_CONNECT;
    e->fd = fd;
    e->addr = reinterpret_cast<uint64_t>(&op->addr);
    e->off = op->len;
    e->user_data = connect_ud(op);
    in_flight_++;
    int r = submit_outside_batch();
    return r < 0 ? r : -EINPROGRESS;
  }

  int connect_error(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return sys::socket_error(fd);
    const FdState* s = &fds_[fd];
    if (s->connect != nullptr) return 0;  // not reported yet: still going
    return s->connect_result == kNoRingConnect ? sys::socket_error(fd) : s->connect_result;
  }

 private:
  FdState* state(int fd) {
    if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 1);
    return &fds_[fd];
  }

  // The fd's state if the ring moves its output: a registered stream, or one
  // whose registration ended while bytes it took were still on their way
  // (they must not be overtaken by a plain syscall).
  FdState* stream(int fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return nullptr;
    FdState* s = &fds_[fd];
    if (s->role != ROLE_STREAM) return nullptr;
    return s->token != 0 || s->send != nullptr || !s->outbox.empty() ? s : nullptr;
  }

  static size_t queued(const FdState* s) { return s->accepted.size() - s->accepted_head; }

  static bool parked(const FdState* s) { return s->parked_head < s->parked.size() || s->parked_end != RX_NOT_READ; }

  // A stream with parked bytes that reads again.
  bool parked_deliverable() const {
    for (int fd : parked_fds_) {
      const FdState& s = fds_[fd];
      if (s.token != 0 && (s.interest & RX_READABLE) && parked(&s)) return true;
    }
    return false;
  }

  bool ready_now() const {
    return ring_->cq_ready() > 0 || ring_->work_pending() || !listeners_with_queue_.empty() || !deferred_.empty() ||
           parked_deliverable();
  }

  // Hands over what a stream parked, RX_READ_BUDGET per batch, before any
  // newer completion of it.
  void deliver_parked(Event* out, int* n, int max) {
    for (int fd : parked_fds_) {
      FdState* s = &fds_[fd];
      if (s->token == 0 || !parked(s) || !(s->interest & RX_READABLE) || *n >= max) continue;
      size_t left = s->parked.size() - s->parked_head;
      Event& ev = out[(*n)++];
      ev.fd = fd;
      ev.token = s->token;
      ev.events = RX_READABLE;
      ev.datagrams = nullptr;
      if (left > 0) {
        size_t len = left < RX_READ_BUDGET ? left : RX_READ_BUDGET;
        ev.data = s->parked.data() + s->parked_head;
        ev.received = static_cast<int32_t>(len);
        s->parked_head += len;  // the bytes stay put until flush()
      } else {
        ev.data = nullptr;
        ev.received = s->parked_end;
        s->parked_end = RX_NOT_READ;
      }
      // Newer completions of this stream wait for the next batch.
      s->received_in = batch_serial_;
      s->received = kDeferring;
    }
  }

  // Outside wait()/flush() nothing points into them: free them now (the fd
  // leaves the list at the next flush()).
  void drop_parked_now(FdState* s) {
    if (!in_batch_) {
      drop_parked(s);
      return;
    }
    s->parked_head = s->parked.size();
    s->parked_end = RX_NOT_READ;
  }

  void drop_parked(FdState* s) {
    s->parked.clear();
    if (s->parked.capacity() > RX_READ_BUDGET) s->parked.shrink_to_fit();
    s->parked_head = 0;
    s->parked_end = RX_NOT_READ;
  }

  void notify_on() {
    ring_->set_notify(true);
    maybe_signalled_ = true;
  }

  void mark(int fd, FdState* s) {
    if (s->dirty) return;
    s->dirty = true;
    dirty_.push_back(fd);
  }

  // Outside a batch (a timer, a promise) nobody will flush soon: submit now.
  int submit_outside_batch() {
    if (in_batch_) return 0;
    reconcile();
    // Work of our own that no completion will signal: bytes parked for a
    // stream, or datagrams held for a socket, that reads again (a resume()
    // from a timer). Inside a batch more() sees it; outside one only the
    // eventfd wakes the loop, or the bytes would wait for some other event.
    if (parked_deliverable() || !deferred_.empty()) wake();
    if (ring_->unsubmitted() > 0) {
      // GETEVENTS: cancellations complete (and let go of their files) now.
      int r = ring_->enter(true);
      if (r < 0) return r;
    }
    return 0;
  }

  struct io_uring_sqe* sqe() {
    struct io_uring_sqe* e = ring_->get_sqe();
    if (e == nullptr) {
      // Full: hand what is there to the kernel and take the next slot.
      ring_->enter(false);
      e = ring_->get_sqe();
    }
    return e;  // SAFETY: after a submit the ring has free slots again
  }

  void cancel(uint64_t user_data) {
    struct io_uring_sqe* e = sqe();
    e->opcode = IORING_OP_ASYNC_CANCEL;
    e->fd = -1;
    e->addr = user_data;
    e->flags = IOSQE_CQE_SKIP_SUCCESS;
    e->user_data = pack(K_IGNORE, 0, 0);
  }

  void cancel_all(int fd, FdState* s) {
    if (s->polls > 0 && !s->poll_cancelled) {
      cancel(pack(K_POLL, fd, s->poll_token));
      s->poll_cancelled = true;
    }
    if (s->recvs > 0 && !s->recv_cancelled) {
      cancel(pack(receive_kind(s), fd, s->recv_token));
      s->recv_cancelled = true;
    }
    if (s->accepts > 0 && !s->accept_cancelled) {
      cancel(pack(K_ACCEPT, fd, s->accept_token));
      s->accept_cancelled = true;
    }
    cancel_connect(s);
  }

  void cancel_connect(FdState* s) {
    if (s->connect == nullptr || s->connect->cancelled) return;
    cancel(connect_ud(s->connect));
    s->connect->cancelled = true;
  }

  static uint64_t connect_ud(const ConnectOp* op) {
    return (static_cast<uint64_t>(K_CONNECT) << kKindShift) | reinterpret_cast<uint64_t>(op);
  }

  void close_accepted(FdState* s) {
    for (size_t i = s->accepted_head; i < s->accepted.size(); i++) sys::close(s->accepted[i]);
    s->accepted.clear();
    s->accepted_head = 0;
  }

  void report(Event* out, int* n, int fd, FdState* s, uint32_t events) {
    Event& ev = out[(*n)++];
    ev.fd = fd;
    ev.token = s->token;
    ev.events = events;
    ev.data = nullptr;
    ev.datagrams = nullptr;
    ev.received = RX_NOT_READ;
    s->reported = batch_serial_;
  }

  // One completion: at most one event, or none.
  bool complete(const struct io_uring_cqe* cqe, Event* out, int* n, size_t* bytes) {
    uint64_t ud = cqe->user_data;
    Kind kind = kind_of(ud);
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (kind == K_SEND) {
      finish_send(reinterpret_cast<SendOp*>(ud & ((1ull << kKindShift) - 1)), cqe->res, out, n);
      return true;
    }
    if (kind == K_CONNECT) {
      finish_connect(reinterpret_cast<ConnectOp*>(ud & ((1ull << kKindShift) - 1)), cqe->res, out, n);
      return true;
    }
    if (kind == K_IGNORE) return true;
    int fd = fd_of(ud);
    uint32_t token = token_of(ud);
    FdState* s = state(fd);
    bool current = s->token == token && token != 0;
    switch (kind) {
      case K_POLL: {
        if (!more) {
          s->polls--;
          s->poll_cancelled = false;
          in_flight_--;
          mark(fd, s);  // armed again (level-triggered) if still wanted
        }
        if (!current || cqe->res == -ECANCELED) return true;
        uint32_t ev = cqe->res < 0 ? RX_ERROR : from_poll(static_cast<uint32_t>(cqe->res));
        // Only what the registration asks for (the poll may have been armed
        // for an older interest), plus hangup and error.
        ev &= s->interest | RX_HANGUP | RX_ERROR;
        // A stream's readable bytes arrive by receive, never by readiness.
        if (s->role == ROLE_STREAM) ev &= ~RX_READABLE;
        if (ev != 0) report(out, n, fd, s, ev);
        return true;
      }
      case K_RECV: {
        if (current && (parked(s) || !(s->interest & RX_READABLE))) {
          // Not reading (any more): nothing may reach it until it reads
          // again, as with a readiness backend, where the bytes would wait
          // in the socket.
          bool was_cancelled = s->recv_cancelled;
          if (!more) {
            s->recvs--;
            s->recv_cancelled = false;
            in_flight_--;
            mark(fd, s);
          }
          if (cqe->flags & IORING_CQE_F_BUFFER) {
            uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            used_buffers_.push_back(bid);
            if (cqe->res > 0) {
              const uint8_t* p = ring_->buffer(Ring::kStreamGroup, bid);
              s->parked.insert(s->parked.end(), p, p + cqe->res);
            }
          } else if (cqe->res == 0 && !was_cancelled) {
            s->parked_end = 0;
          } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
            s->parked_end = cqe->res;
          }
          if (parked(s) && !s->on_parked_list) {
            s->on_parked_list = true;
            parked_fds_.push_back(fd);
          }
          return true;
        }
        if (current) {
          // A stream gets RX_READ_BUDGET per batch, as a read on readiness
          // does, and the batch no more than the arena holds: the rest of
          // its completions wait for the next batch, after this one's sends
          // (its buffers stay out of the kernel's hands meanwhile, which
          // slows that sender down), so one fast sender cannot make a
          // batch's output to everyone else pile up. Completions of other
          // fds go on meanwhile.
          if (s->received_in != batch_serial_) {
            s->received_in = batch_serial_;
            s->received = 0;
          }
          size_t len = cqe->res > 0 ? static_cast<size_t>(cqe->res) : 0;
          if (s->received == kDeferring ||
              (len > 0 && ((s->received > 0 && s->received + len > RX_READ_BUDGET) ||
                           (*bytes + len > byte_budget_ && *n > 0)))) {
            s->received = kDeferring;  // and everything after it, in order
            deferred_next_.push_back(*cqe);
            return true;
          }
          s->received += len;
        }
        // A multishot receive we cancelled may end with res 0 rather than
        // -ECANCELED: that is not the peer's FIN. It is armed again if
        // still wanted, and a real FIN is still there for it to report.
        bool cancelled = s->recv_cancelled;
        if (!more) {
          s->recvs--;
          s->recv_cancelled = false;
          in_flight_--;
          mark(fd, s);
        }
        const uint8_t* data = nullptr;
        if (cqe->flags & IORING_CQE_F_BUFFER) {
          uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
          data = ring_->buffer(Ring::kStreamGroup, bid);
          used_buffers_.push_back(bid);
        }
        if (!current) return true;
        int32_t received;
        if (cqe->res > 0) {
          received = cqe->res;
          *bytes += static_cast<size_t>(cqe->res);
        } else if (cqe->res == 0 && !cancelled) {
          received = 0;  // end of stream; the multishot has ended
        } else if (cqe->res == 0 || cqe->res == -ENOBUFS || cqe->res == -ECANCELED) {
          return true;  // re-armed in flush() if still wanted
        } else {
          received = cqe->res;
        }
        Event& ev = out[(*n)++];
        ev.fd = fd;
        ev.token = s->token;
        ev.events = RX_READABLE;
        ev.data = data;
        ev.datagrams = nullptr;
        ev.received = received;
        return true;
      }
      case K_RECVMSG:
        return complete_datagram(cqe, fd, s, current, out, n, bytes);
      case K_ACCEPT: {
        if (!more) {
          s->accepts--;
          s->accept_cancelled = false;
          in_flight_--;
          mark(fd, s);
        }
        if (cqe->res >= 0) {
          if (!current) {
            sys::close(cqe->res);
            return true;
          }
          s->accepted.push_back(cqe->res);
        } else if (cqe->res == -ECANCELED || !current) {
          return true;
        } else {
          // EMFILE and friends end the multishot: the listener hears of it
          // from accept() and decides when to try again (interest).
          s->accept_error = cqe->res;
        }
        if (s->reported != batch_serial_ && (s->interest & RX_READABLE)) report(out, n, fd, s, RX_READABLE);
        return true;
      }
      case K_SHUTDOWN: {
        in_flight_--;
        if (s->shutdowns > 0) s->shutdowns--;
        if (s->shutdowns == 0 && s->close_deferred) {
          s->close_deferred = false;
          sys::close(fd);
        }
        return true;
      }
      default:
        return true;
    }
  }

  void finish_connect(ConnectOp* op, int res, Event* out, int* n) {
    in_flight_--;
    FdState* s = state(op->fd);
    if (s->connect == op && s->socket == op->socket) {
      s->connect = nullptr;
      // A cancelled connect (the registration went) is not the peer's word.
      s->connect_result = res == -ECANCELED ? -ECONNABORTED : res;
      mark(op->fd, s);  // its own poll, if it still wants writability
      if (s->token != 0 && (s->interest & RX_WRITABLE)) report(out, n, op->fd, s, res < 0 ? RX_WRITABLE | RX_ERROR : RX_WRITABLE);
    }
    delete op;
  }

  void finish_send(SendOp* op, int res, Event* out, int* n) {
    FdState* s = state(op->fd);
    bool same = s->socket == op->socket && s->send == op;
    if (res > 0) op->done += static_cast<size_t>(res);
    bool whole = res >= 0 && op->done == op->bytes.size();
    if (!tearing_down_ && (same || op->own_fd >= 0) && res > 0 && op->done < op->bytes.size()) {
      // MSG_WAITALL finishes what a stream socket takes only in part, but a
      // signal can still cut it short: send the rest.
      prep_send(op);
      return;
    }
    in_flight_--;
    if (SendOp* b = op->next) {
      op->next = nullptr;
      if (whole && !tearing_down_) {
        prep_send(b);
      } else {
        sys::close(b->own_fd);
        in_flight_--;
        recycle_send(b);
      }
    }
    if (op->own_fd >= 0) {
      if (whole && op->shutdown_after) sys::shutdown(op->own_fd, SHUT_WR);
      sys::close(op->own_fd);
      op->own_fd = -1;
      op->shutdown_after = false;
    }
    if (same) {
      s->send = nullptr;
      if (res < 0) s->send_error = res;
      else if (op->done < op->bytes.size()) s->send_error = -EPIPE;
      // What was taken meanwhile follows at once (with the FIN, if asked).
      if (s->send_error == 0 && !s->outbox.empty() && !tearing_down_) start_send(op->fd, s);
      if (s->shutdown_pending && s->send == nullptr && s->outbox.empty()) {
        s->shutdown_pending = false;
        sys::shutdown(op->fd, SHUT_WR);
      }
      // Reconciled after the batch: more bytes may have been taken, or the
      // stream may still want writability (its next write found the socket
      // full), which the socket itself must now report.
      mark(op->fd, s);
      // The stream waited for this send to leave before writing more.
      if (s->token != 0 && (s->interest & RX_WRITABLE)) report(out, n, op->fd, s, RX_WRITABLE);
    }
    recycle_send(op);
  }

  struct io_uring_sqe* prep_send(SendOp* op) {
    struct io_uring_sqe* e = sqe();
    e->opcode = IORING_OP_SEND;
    e->fd = op->fd;
    e->addr = reinterpret_cast<uint64_t>(op->bytes.data() + op->done);
    e->len = static_cast<uint32_t>(op->bytes.size() - op->done);
    e->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    e->user_data = (static_cast<uint64_t>(K_SEND) << kKindShift) | reinterpret_cast<uint64_t>(op);
    return e;
  }

  void start_send(int fd, FdState* s) {
    // A send and its linked shutdown must reach the kernel in one submission.
    if (ring_->sq_space() < 2) ring_->enter(false);
    SendOp* op = new_send();
    op->fd = fd;
    op->socket = s->socket;
    op->done = 0;
    op->bytes.swap(s->outbox);
    s->outbox.clear();
    s->send = op;
    in_flight_++;
    struct io_uring_sqe* send = prep_send(op);
    if (s->shutdown_pending) {
      // The FIN follows the bytes in the kernel's order, with no syscall.
      send->flags |= IOSQE_IO_LINK;
      link_shutdown(fd);
      s->shutdown_pending = false;
    }
  }

  void link_shutdown(int fd) {
    state(fd)->shutdowns++;
    struct io_uring_sqe* e = sqe();
    e->opcode = IORING_OP_SHUTDOWN;
    e->fd = fd;
    e->len = SHUT_WR;
    e->user_data = pack(K_SHUTDOWN, fd, 0);
    in_flight_++;
  }

  // Brings the kernel's requests in line with what each dirty fd wants.
  void reconcile() {
    std::vector<int> dirty;
    dirty.swap(dirty_);
    for (int fd : dirty) {
      FdState* s = &fds_[fd];
      s->dirty = false;
      // Bytes taken for a stream leave even after its registration ended.
      if (s->role == ROLE_STREAM && !s->outbox.empty() && s->send == nullptr) start_send(fd, s);
      if (s->token == 0) continue;
      switch (s->role) {
        case ROLE_POLL:
          reconcile_poll(fd, s, to_poll(s->interest));
          break;
        case ROLE_STREAM: {
          bool want_recv = (s->interest & RX_READABLE) && !parked(s);
          if (want_recv && s->recvs == 0) arm_receive(fd, s);
          if (!want_recv && s->recvs > 0 && !s->recv_cancelled) {
            cancel(pack(K_RECV, fd, s->recv_token));
            s->recv_cancelled = true;
          }
          // Writability: a send in flight reports it when it completes;
          // otherwise (a connect in progress) the socket's own.
          bool want_out = (s->interest & RX_WRITABLE) && s->send == nullptr && s->connect == nullptr;
          reconcile_poll(fd, s, want_out ? POLLOUT : 0);
          break;
        }
        case ROLE_DGRAM: {
          bool reading = s->interest & RX_READABLE;
          DgramState* d = s->dgram;
          if (reading && !d->held.empty()) {
            // Reading again: what was held goes first, in the next batch
            // (ahead of anything the new receive brings).
            deferred_.insert(deferred_.end(), d->held.begin(), d->held.end());
            d->held.clear();
          }
          if (reading && s->recvs == 0) arm_receive(fd, s);
          if (!reading && s->recvs > 0 && !s->recv_cancelled) {
            cancel(pack(K_RECVMSG, fd, s->recv_token));
            s->recv_cancelled = true;
          }
          reconcile_poll(fd, s, (s->interest & RX_WRITABLE) ? POLLOUT : 0);
          break;
        }
        case ROLE_LISTENER: {
          bool want = (s->interest & RX_READABLE) && queued(s) < static_cast<size_t>(RX_URING_ACCEPT_QUEUE);
          if (want && s->accepts == 0) arm_accept(fd, s);
          if (!want && s->accepts > 0 && !s->accept_cancelled) {
            cancel(pack(K_ACCEPT, fd, s->accept_token));
            s->accept_cancelled = true;
          }
          if ((s->interest & RX_READABLE) && queued(s) > 0) listeners_with_queue_.push_back(fd);
          break;
        }
      }
    }
  }

  // Polls are one-shot: armed when wanted and none is in the kernel; an
  // armed one whose mask no longer fits is updated in place. mask 0 for a
  // stream or listener means no poll at all (a plain registration keeps one
  // even with no interest: hangup and error are reported whatever it is).
  void reconcile_poll(int fd, FdState* s, uint32_t mask) {
    bool want = s->role == ROLE_POLL || mask != 0;
    if (s->polls > 0) {
      if (s->poll_cancelled) return;  // re-armed when its completion arrives
      if (!want) {
        cancel(pack(K_POLL, fd, s->poll_token));
        s->poll_cancelled = true;
      } else if (s->poll_mask != mask) {
        struct io_uring_sqe* e = sqe();
        e->opcode = IORING_OP_POLL_REMOVE;
        e->fd = -1;
        e->addr = pack(K_POLL, fd, s->poll_token);
        e->len = IORING_POLL_UPDATE_EVENTS;
        e->poll32_events = mask;
        e->flags = IOSQE_CQE_SKIP_SUCCESS;
        e->user_data = pack(K_IGNORE, 0, 0);
        s->poll_mask = mask;
      }
      return;
    }
    if (!want) return;
    struct io_uring_sqe* e = sqe();
    e->opcode = IORING_OP_POLL_ADD;
    e->fd = fd;
    e->poll32_events = mask;
    e->user_data = pack(K_POLL, fd, s->token);
    s->polls = 1;
    s->poll_token = s->token;
    s->poll_mask = mask;
    in_flight_++;
  }

  // The multishot receive of a stream (recv, stream buffers) or a datagram
  // socket (recvmsg, datagram buffers), and the kind its completions carry.
  static Kind receive_kind(const FdState* s) { return s->role == ROLE_DGRAM ? K_RECVMSG : K_RECV; }

  void arm_receive(int fd, FdState* s) {
    struct io_uring_sqe* e = sqe();
    e->fd = fd;
    e->ioprio = IORING_RECV_MULTISHOT;
    e->flags = IOSQE_BUFFER_SELECT;
    if (s->role == ROLE_DGRAM) {
      e->opcode = IORING_OP_RECVMSG;
      // The kernel copies the header when it prepares the request; it only
      // says how much room each buffer keeps for the address (no control).
      e->addr = reinterpret_cast<uint64_t>(&dgram_msg_);
      e->len = 1;
      e->buf_group = Ring::kDatagramGroup;
    } else {
      e->opcode = IORING_OP_RECV;
      e->buf_group = Ring::kStreamGroup;
    }
    e->user_data = pack(receive_kind(s), fd, s->token);
    s->recvs = 1;
    s->recv_token = s->token;
    in_flight_++;
  }

  // One multishot recvmsg completion of a datagram socket.
  bool complete_datagram(const struct io_uring_cqe* cqe, int fd, FdState* s, bool current, Event* out, int* n,
                         size_t* bytes) {
    bool more = cqe->flags & IORING_CQE_F_MORE;
    bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
    uint16_t bid = has_buffer ? static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : 0;
    DgramState* d = current ? s->dgram : nullptr;
    bool reading = d != nullptr && (s->interest & RX_READABLE);
    const uint8_t* buf = has_buffer ? ring_->buffer(Ring::kDatagramGroup, bid) : nullptr;
    size_t length = 0;
    if (buf != nullptr && cqe->res >= static_cast<int>(kDgramHead)) {
      const auto* o = reinterpret_cast<const struct io_uring_recvmsg_out*>(buf);
      length = static_cast<size_t>(cqe->res) - kDgramHead;
      if (o->payloadlen < length) length = o->payloadlen;
    }
    if (reading && buf != nullptr) {
      // Budgets: per socket, per batch, and the arena's bytes. Past them
      // this and everything after it from this socket wait for the next
      // batch, in order, in their buffers (not yet counted below).
      if (s->received_in != batch_serial_) {
        s->received_in = batch_serial_;
        s->received = 0;
      }
      if (s->received == kDeferring || s->received >= static_cast<size_t>(RX_DGRAM_BUDGET) ||
          dgrams_in_batch_ >= dgram_budget_ || (*bytes + length > byte_budget_ && *n > 0)) {
        s->received = kDeferring;
        deferred_next_.push_back(*cqe);
        return true;
      }
    }
    if (!more) {
      s->recvs--;
      s->recv_cancelled = false;
      in_flight_--;
      mark(fd, s);  // armed again if still wanted
    }
    if (d != nullptr && !reading) {
      // Not reading: nothing reaches it until it reads again (as the
      // socket's own queue would keep them). Errors of a receive that
      // ended are not worth keeping: the next one reports its own.
      if (buf != nullptr) {
        // Its request's end (if it was the last) is counted above: it
        // comes back as one that ends nothing.
        struct io_uring_cqe held = *cqe;
        held.flags |= IORING_CQE_F_MORE;
        d->held.push_back(held);
      }
      return true;
    }
    if (buf == nullptr) {
      // No datagram: ENOBUFS, a cancellation (re-armed in flush() if still
      // wanted), or an error (an ICMP one for a connected socket), which
      // goes to the socket when it has no datagrams in this batch.
      int res = cqe->res;
      if (d == nullptr || res >= 0 || res == -ENOBUFS || res == -ECANCELED) return true;
      if (d->batch_serial != batch_serial_) {
        begin_datagram_event(fd, s, d, out, n);
        out[d->event].received = res;
      }
      return true;
    }
    dgram_used_.push_back(bid);
    if (d == nullptr || cqe->res < static_cast<int>(kDgramHead)) return true;  // not current, or malformed
    if (d->batch_serial != batch_serial_) begin_datagram_event(fd, s, d, out, n);
    const auto* o = reinterpret_cast<const struct io_uring_recvmsg_out*>(buf);
    d->batch.emplace_back();
    sys::Datagram& g = d->batch.back();
    g.data = const_cast<uint8_t*>(buf + kDgramHead);
    g.capacity = length;
    g.length = length;
    g.truncated = (o->flags & MSG_TRUNC) != 0;
    size_t name = o->namelen < kDgramNameLen ? o->namelen : kDgramNameLen;
    g.addr.ss_family = AF_UNSPEC;
    memcpy(&g.addr, buf + sizeof *o, name);
    g.addr_len = static_cast<socklen_t>(name);
    s->received++;
    dgrams_in_batch_++;
    *bytes += length;
    return true;
  }

  void begin_datagram_event(int fd, FdState* s, DgramState* d, Event* out, int* n) {
    d->batch_serial = batch_serial_;
    d->batch.clear();
    d->event = *n;
    report(out, n, fd, s, RX_READABLE);
    dgram_fds_.push_back(fd);
  }

  // Held datagrams of a socket that stops being this registration's: their
  // buffers go back (now, or with the batch's, if a batch is under way).
  void release_held(FdState* s) {
    if (s->dgram == nullptr) return;
    for (const struct io_uring_cqe& c : s->dgram->held) {
      dgram_used_.push_back(static_cast<uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT));
    }
    s->dgram->held.clear();
    if (!in_batch_) recycle_dgram_buffers();
  }

  void recycle_dgram_buffers() {
    if (dgram_used_.empty()) return;
    for (uint16_t bid : dgram_used_) ring_->recycle_buffer(Ring::kDatagramGroup, bid);
    ring_->publish_buffers(Ring::kDatagramGroup);
    dgram_used_.clear();
  }

  void arm_accept(int fd, FdState* s) {
    struct io_uring_sqe* e = sqe();
    e->opcode = IORING_OP_ACCEPT;
    e->fd = fd;
    e->ioprio = IORING_ACCEPT_MULTISHOT;
    e->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    e->user_data = pack(K_ACCEPT, fd, s->token);
    s->accepts = 1;
    s->accept_token = s->token;
    in_flight_++;
  }

  SendOp* new_send() {
    if (free_sends_.empty()) return new SendOp();
    SendOp* op = free_sends_.back();
    free_sends_.pop_back();
    return op;
  }

  void recycle_send(SendOp* op) {
    // Keep small buffers for reuse; give big ones back.
    if (op->bytes.capacity() > 64 * 1024 || free_sends_.size() >= 1024) {
      delete op;
      return;
    }
    op->bytes.clear();
    free_sends_.push_back(op);
  }

  // Cancels everything and reaps until the kernel holds nothing of ours.
  void quiesce() {
    tearing_down_ = true;
    if (in_flight_ > 0) {
      struct io_uring_sqe* e = sqe();
      e->opcode = IORING_OP_ASYNC_CANCEL;
      e->fd = -1;
      e->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
      e->user_data = pack(K_IGNORE, 0, 0);
    }
    if (ring_->unsubmitted() > 0) ring_->enter(true);
    // Every registration is gone by now: completions only release.
    for (FdState& s : fds_) s.token = 0;
    Event sink[1];
    for (const struct io_uring_cqe& cqe : deferred_) {
      int n = 0;
      size_t bytes = 0;
      complete(&cqe, sink, &n, &bytes);
    }
    deferred_.clear();
    // Cancelled requests complete at once; the bound only keeps a kernel
    // that never answers from hanging the thread (about two seconds).
    for (int spins = 0; in_flight_ > 0 && spins < 2000; spins++) {
      if (ring_->cq_ready() == 0) ring_->enter(true);
      if (ring_->cq_ready() == 0) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, nullptr);
        continue;
      }
      unsigned ready = ring_->cq_ready();
      for (unsigned i = 0; i < ready; i++) {
        int n = 0;
        size_t bytes = 0;
        complete(ring_->cqe(i), sink, &n, &bytes);
      }
      ring_->cq_advance(ready);
    }
    for (SendOp* op : free_sends_) delete op;
    free_sends_.clear();
  }

  Ring* ring_;
  std::vector<FdState> fds_;
  std::vector<int> dirty_;
  std::vector<uint16_t> used_buffers_;
  std::vector<int> listeners_with_queue_;
  std::vector<int> parked_fds_;
  std::vector<SendOp*> free_sends_;
  // Receive completions put off to the next batch (budgets), in order.
  std::vector<struct io_uring_cqe> deferred_;
  std::vector<struct io_uring_cqe> deferred_next_;
  size_t byte_budget_ = RX_ARENA_BYTES;
  int dgram_budget_ = RX_DGRAM_CAPACITY;
  int dgrams_in_batch_ = 0;
  // Datagram sockets with an event in this batch, and datagram buffers to
  // hand back after it.
  std::vector<int> dgram_fds_;
  std::vector<uint16_t> dgram_used_;
  struct msghdr dgram_msg_ = {};
  bool dgram_group_failed_ = false;
  uint64_t batch_serial_ = 0;
  long in_flight_ = 0;  // requests whose last completion has not arrived
  bool in_batch_ = false;
  bool maybe_signalled_ = true;
  bool tearing_down_ = false;
};

}  // namespace

Backend* create_io_uring_backend(int* err) {
  Ring* ring = Ring::Create(RX_URING_ENTRIES, RX_URING_BUFFERS, RX_URING_BUFFER_SIZE, err);
  if (ring == nullptr) return nullptr;
  return new UringBackend(ring);
}

}  // namespace rxnet
