#include "ring.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

namespace rxnet {
namespace uring {

// IORING_OP_SEND_ZC stands in for "Linux 6.0": it arrived in the same release
// as multishot recv (IORING_RECV_MULTISHOT), which no opcode probe can see.
const uint8_t kRequiredOps[] = {
    IORING_OP_NOP,    IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_ASYNC_CANCEL,
    IORING_OP_ACCEPT, IORING_OP_RECV,     IORING_OP_SEND,        IORING_OP_SHUTDOWN,
    IORING_OP_SEND_ZC, IORING_OP_RECVMSG, IORING_OP_CONNECT,
};
const size_t kRequiredOpCount = sizeof kRequiredOps / sizeof kRequiredOps[0];

namespace {

int sys_setup(unsigned entries, struct io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}

int sys_register(int fd, unsigned op, const void* arg, unsigned nr) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, op, arg, nr));
}

void* map(size_t size, int fd, off_t offset) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

Ring* Ring::Create(unsigned entries, unsigned buffers, unsigned buffer_size, int* err) {
  auto* ring = new Ring();
  *err = ring->setup(entries, buffers, buffer_size);
  if (*err != 0) {
    delete ring;
    return nullptr;
  }
  return ring;
}

int Ring::setup(unsigned entries, unsigned buffers, unsigned buffer_size) {
  // Best first: SINGLE_ISSUER + DEFER_TASKRUN (6.1) let the kernel run
  // completion work only when we enter, in one go, instead of interrupting
  // whatever the thread is doing; TASKRUN_FLAG tells us in the shared ring
  // when such work waits. Then without them, as far back as the opcodes go.
  const unsigned common = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  const unsigned tries[] = {
      common | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      common,
  };
  int r = -EINVAL;
  struct io_uring_params p;
  for (unsigned flags : tries) {
    memset(&p, 0, sizeof p);
    p.flags = flags;
    p.cq_entries = entries * 4;  // multishot receives post many per submission
    r = sys_setup(entries, &p);
    if (r >= 0) {
      setup_flags_ = flags;
      break;
    }
    r = -errno;
    // ENOSYS/EPERM: io_uring itself is missing or refused; no flag helps.
    if (r != -EINVAL) return r;
  }
  if (r < 0) return r;
  ring_fd_ = r;
  // FD_CLOEXEC: io_uring_setup sets O_CLOEXEC on the ring fd itself.
  if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_NODROP)) return -EOPNOTSUPP;

  sq_map_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (cq_size > sq_map_size_) sq_map_size_ = cq_size;
  sq_map_ = map(sq_map_size_, ring_fd_, IORING_OFF_SQ_RING);
  if (sq_map_ == nullptr) return -errno;
  cq_map_ = sq_map_;
  sqes_size_ = p.sq_entries * sizeof(struct io_uring_sqe);
  sqes_ = static_cast<struct io_uring_sqe*>(map(sqes_size_, ring_fd_, IORING_OFF_SQES));
  if (sqes_ == nullptr) return -errno;

  auto* sq = static_cast<uint8_t*>(sq_map_);
  sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sq_flags_ = reinterpret_cast<unsigned*>(sq + p.sq_off.flags);
  sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sq_entries_ = p.sq_entries;
  // The SQ array maps slot i to SQE i once and for all.
  for (unsigned i = 0; i < sq_entries_; i++) sq_array_[i] = i;
  sq_tail_local_ = sq_submitted_ = *sq_tail_;

  auto* cq = static_cast<uint8_t*>(cq_map_);
  cq_head_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cq_flags_ = reinterpret_cast<unsigned*>(cq + p.cq_off.flags);
  cq_mask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<struct io_uring_cqe*>(cq + p.cq_off.cqes);

  if ((r = probe()) != 0) return r;

  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return -errno;
  if (sys_register(ring_fd_, IORING_REGISTER_EVENTFD, &event_fd_, 1) < 0) return -errno;

  return add_buffer_group(kStreamGroup, buffers, buffer_size);
}

int Ring::probe() {
  size_t len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
  auto* probe = static_cast<struct io_uring_probe*>(calloc(1, len));
  if (probe == nullptr) return -ENOMEM;
  int r = 0;
  if (sys_register(ring_fd_, IORING_REGISTER_PROBE, probe, 256) < 0) {
    r = -errno;
  } else {
    for (size_t i = 0; i < kRequiredOpCount; i++) {
      uint8_t op = kRequiredOps[i];
      if (op > probe->last_op || !(probe->ops[op].flags & IO_URING_OP_SUPPORTED)) {
        r = -EOPNOTSUPP;
        break;
      }
    }
  }
  free(probe);
  return r;
}

int Ring::add_buffer_group(uint16_t bgid, unsigned count, unsigned size) {
  if (bgid >= kGroups || groups_[bgid].registered) return -EINVAL;
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) return -EINVAL;
  BufferGroup& g = groups_[bgid];
  long page = sysconf(_SC_PAGESIZE);
  g.ring_size = (count * sizeof(struct io_uring_buf) + page - 1) & ~static_cast<size_t>(page - 1);
  void* ring = mmap(nullptr, g.ring_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) {
    g.ring_size = 0;
    return -errno;
  }
  g.ring = static_cast<struct io_uring_buf_ring*>(ring);
  // Pages are committed only where the kernel writes: a buffer bigger than
  // what arrives in it costs address space, not memory.
  g.mem_size = static_cast<size_t>(count) * size;
  void* mem = mmap(nullptr, g.mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    int e = -errno;
    munmap(g.ring, g.ring_size);
    g = BufferGroup{};
    return e;
  }
  g.mem = static_cast<uint8_t*>(mem);
  g.size = size;
  g.count = count;

  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = reinterpret_cast<uint64_t>(g.ring);
  reg.ring_entries = count;
  reg.bgid = bgid;
  if (sys_register(ring_fd_, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
    int e = -errno;
    munmap(g.mem, g.mem_size);
    munmap(g.ring, g.ring_size);
    g = BufferGroup{};
    return e;
  }
  g.registered = true;
  g.tail = 0;
  for (unsigned i = 0; i < count; i++) recycle_buffer(bgid, static_cast<uint16_t>(i));
  publish_buffers(bgid);
  return 0;
}

void Ring::recycle_buffer(uint16_t bgid, uint16_t bid) {
  BufferGroup& g = groups_[bgid];
  // Not g.ring->bufs[i]: in C++ the kernel header's __DECLARE_FLEX_ARRAY
  // puts an empty struct (1 byte in C++, 0 in C) before the array, which
  // moves `bufs` 8 bytes on (Linux 6.1 headers). The ring is an array of
  // io_uring_buf whose first entry's last field is the tail.
  struct io_uring_buf* b = reinterpret_cast<struct io_uring_buf*>(g.ring) + (g.tail & (g.count - 1));
  b->addr = reinterpret_cast<uint64_t>(buffer(bgid, bid));
  b->len = g.size;
  b->bid = bid;
  g.tail++;
}

void Ring::publish_buffers(uint16_t bgid) { __atomic_store_n(&groups_[bgid].ring->tail, groups_[bgid].tail, __ATOMIC_RELEASE); }

struct io_uring_sqe* Ring::get_sqe() {
  unsigned head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  if (sq_tail_local_ - head >= sq_entries_) return nullptr;
  struct io_uring_sqe* sqe = &sqes_[sq_tail_local_ & sq_mask_];
  sq_tail_local_++;
  memset(sqe, 0, sizeof *sqe);
  return sqe;
}

int Ring::enter(bool getevents, bool wait_one) {
  unsigned to_submit = sq_tail_local_ - sq_submitted_;
  // Publish the prepared SQEs to the kernel.
  __atomic_store_n(sq_tail_, sq_tail_local_, __ATOMIC_RELEASE);
  unsigned flags = getevents || wait_one ? IORING_ENTER_GETEVENTS : 0;
  for (;;) {
    int r = sys_enter(ring_fd_, to_submit, wait_one ? 1 : 0, flags);
    if (r >= 0) {
      sq_submitted_ += static_cast<unsigned>(r);
      // SUBMIT_ALL: the kernel takes every SQE unless the ring itself is in
      // trouble; what it did not take is submitted next time.
      return r;
    }
    if (errno == EINTR) {
      if (wait_one) return 0;
      continue;
    }
    // EBUSY/EAGAIN: completions must be reaped first; the caller does.
    return -errno;
  }
}

void Ring::set_notify(bool on) {
  unsigned flags = __atomic_load_n(cq_flags_, __ATOMIC_RELAXED);
  flags = on ? flags & ~IORING_CQ_EVENTFD_DISABLED : flags | IORING_CQ_EVENTFD_DISABLED;
  __atomic_store_n(cq_flags_, flags, __ATOMIC_RELAXED);
  // Pairs with the kernel's barrier before it tests the flag: after turning
  // notifications back on, the caller looks for work that arrived while they
  // were off, and must not miss any.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void Ring::drain_event_fd() {
  uint64_t v;
  while (read(event_fd_, &v, sizeof v) < 0 && errno == EINTR) {
  }
}

Ring::~Ring() {
  // SAFETY: the backend has cancelled every request and reaped its last
  // completion before it deletes the ring, so the kernel no longer writes
  // into the buffers unmapped here.
  if (ring_fd_ >= 0) close(ring_fd_);
  if (event_fd_ >= 0) close(event_fd_);
  if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_size_);
  for (BufferGroup& g : groups_) {
    if (g.mem != nullptr) munmap(g.mem, g.mem_size);
    if (g.ring != nullptr) munmap(g.ring, g.ring_size);
  }
}

}  // namespace uring
}  // namespace rxnet
