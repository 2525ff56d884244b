// One io_uring instance, driven with the raw syscalls and <linux/io_uring.h>
// (as libuv does: users' machines have the kernel headers with their compiler,
// not liburing). Linux only; nothing here knows libuv, N-API or the reactor.
//
// What it holds: the submission and completion rings mapped into this process,
// an eventfd the kernel signals when completions are waiting (the one thing
// Node's loop watches), and one ring of provided buffers (IORING_REGISTER_PBUF_RING)
// that multishot receives pick their buffers from.
//
// Threads: a Ring belongs to the one thread that created it
// (IORING_SETUP_SINGLE_ISSUER, and DEFER_TASKRUN runs completion work only
// for that thread). Every call returns 0/a count or -errno; nothing throws.
#ifndef RXNET_URING_RING_H_
#define RXNET_URING_RING_H_

#include <linux/io_uring.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rxnet {
namespace uring {

// Every opcode the io_uring backend issues: the probe refuses a kernel that
// lacks any of them (IORING_REGISTER_PROBE), so the backend never finds out
// halfway through serving.
extern const uint8_t kRequiredOps[];
extern const size_t kRequiredOpCount;

class Ring {
 public:
  // Sets the ring up, probes the opcodes, registers the eventfd and the
  // provided-buffer ring (`buffers` buffers of `buffer_size` bytes, buffers a
  // power of two). Returns nullptr and -errno in *err: -ENOSYS (no
  // io_uring_setup, or a seccomp filter answering ENOSYS), -EPERM (refused: a
  // seccomp filter such as Docker's default profile, or
  // kernel.io_uring_disabled), -EOPNOTSUPP (an opcode or feature the backend
  // needs is missing), or what a syscall said.
  static Ring* Create(unsigned entries, unsigned buffers, unsigned buffer_size, int* err);
  ~Ring();

  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Readable when completions are waiting (or, with DEFER_TASKRUN, completion
  // work is waiting for us to run it in io_uring_enter).
  int event_fd() const { return event_fd_; }
  // The setup flags the kernel accepted (IORING_SETUP_*).
  unsigned setup_flags() const { return setup_flags_; }

  // A zeroed SQE to fill, or nullptr when the submission ring is full (submit
  // and ask again).
  struct io_uring_sqe* get_sqe();
  // Free submission slots.
  unsigned sq_space() const {
    return sq_entries_ - (sq_tail_local_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE));
  }
  // SQEs prepared and not yet submitted.
  unsigned unsubmitted() const { return sq_tail_local_ - sq_submitted_; }
  // io_uring_enter: submits what is prepared and, with getevents, runs the
  // completion work DEFER_TASKRUN left for us, without waiting
  // (min_complete 0). wait_one: block until at least one completion.
  int enter(bool getevents, bool wait_one = false);

  // Completions, in order: ready() of them from head().
  unsigned cq_ready() const {
    return __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE) - *cq_head_;
  }
  const struct io_uring_cqe* cqe(unsigned i) const { return &cqes_[(*cq_head_ + i) & cq_mask_]; }
  void cq_advance(unsigned n) { __atomic_store_n(cq_head_, *cq_head_ + n, __ATOMIC_RELEASE); }

  // Completion work waits to be run (IORING_SQ_TASKRUN), or completions
  // overflowed into the kernel's list (IORING_SQ_CQ_OVERFLOW): an enter with
  // getevents brings them into the completion ring.
  bool work_pending() const {
    return __atomic_load_n(sq_flags_, __ATOMIC_ACQUIRE) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
  }

  // While the reactor itself is processing completions it needs no
  // notification: completions posted by its own submissions (a send that
  // finishes inline) would otherwise wake Node's loop once more for nothing
  // (IORING_CQ_EVENTFD_DISABLED).
  void set_notify(bool on);
  // Empties the eventfd's counter (it is level-triggered for libuv).
  void drain_event_fd();

  // ---- provided buffers ------------------------------------------------------
  static constexpr uint16_t kStreamGroup = 0;
  static constexpr uint16_t kDatagramGroup = 1;
  static constexpr uint16_t kGroups = 2;
  // Registers group bgid: count buffers (a power of two) of size bytes, all
  // handed to the kernel. 0, or -errno (the group is then absent).
  int add_buffer_group(uint16_t bgid, unsigned count, unsigned size);
  bool has_buffer_group(uint16_t bgid) const { return groups_[bgid].registered; }
  uint8_t* buffer(uint16_t bgid, uint16_t bid) const {
    return groups_[bgid].mem + static_cast<size_t>(bid) * groups_[bgid].size;
  }
  // Hands buffer bid of group bgid back to the kernel; visible to it after
  // publish_buffers(bgid).
  void recycle_buffer(uint16_t bgid, uint16_t bid);
  void publish_buffers(uint16_t bgid);

 private:
  Ring() = default;
  int setup(unsigned entries, unsigned buffers, unsigned buffer_size);
  int probe();

  int ring_fd_ = -1;
  int event_fd_ = -1;
  unsigned setup_flags_ = 0;

  // Submission ring.
  void* sq_map_ = nullptr;
  size_t sq_map_size_ = 0;
  struct io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_flags_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned sq_tail_local_ = 0;  // next SQE to hand out
  unsigned sq_submitted_ = 0;   // SQEs the kernel has taken

  // Completion ring (shares sq_map_ with IORING_FEAT_SINGLE_MMAP).
  void* cq_map_ = nullptr;
  size_t cq_map_size_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned* cq_flags_ = nullptr;
  unsigned cq_mask_ = 0;
  struct io_uring_cqe* cqes_ = nullptr;

  // Provided buffers, one ring per group.
  struct BufferGroup {
    struct io_uring_buf_ring* ring = nullptr;
    size_t ring_size = 0;
    uint8_t* mem = nullptr;
    size_t mem_size = 0;
    unsigned size = 0;
    unsigned count = 0;
    uint16_t tail = 0;  // local tail; published by publish_buffers()
    bool registered = false;
  };
  BufferGroup groups_[kGroups];
};

}  // namespace uring
}  // namespace rxnet

#endif  // RXNET_URING_RING_H_
