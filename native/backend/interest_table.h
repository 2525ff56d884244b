// State shared by the two backends that have no pollable fd (poll, select):
// the table of registrations, guarded by a mutex because a helper thread
// reads it while the loop thread edits it, and the self-pipe that wakes that
// thread when the table changes or the reactor closes.
#ifndef RXNET_INTEREST_TABLE_H_
#define RXNET_INTEREST_TABLE_H_

#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>
#include <vector>

namespace rxnet {

struct Registration {
  int fd;
  uint32_t token;
  uint32_t interest;
};

class InterestTable {
 public:
  // Returns 0 or -errno (the wake pipe could not be made).
  int init() {
    int fds[2];
    if (pipe(fds) != 0) return -errno;
    for (int fd : fds) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    return 0;
  }

  ~InterestTable() {
    if (wake_read_ >= 0) close(wake_read_);
    if (wake_write_ >= 0) close(wake_write_);
  }

  int wake_fd() const { return wake_read_; }

  int add(int fd, uint32_t token, uint32_t interest) {
    // poll and select accept any number; epoll_ctl would say EBADF. Say it
    // too, instead of reporting POLLNVAL forever (poll) or failing every
    // select() of the whole set (select).
    if (fcntl(fd, F_GETFD) < 0) return -errno;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (index_.count(fd)) return -EEXIST;  // as epoll_ctl(EPOLL_CTL_ADD)
      index_[fd] = entries_.size();
      entries_.push_back({fd, token, interest});
    }
    return wake();
  }

  int modify(int fd, uint32_t token, uint32_t interest) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(fd);
      if (it == index_.end()) return -ENOENT;
      entries_[it->second].token = token;
      entries_[it->second].interest = interest;
    }
    return wake();
  }

  int remove(int fd) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(fd);
      if (it == index_.end()) return -ENOENT;
      // Swap-remove keeps the vector dense for the snapshot.
      size_t i = it->second;
      index_.erase(it);
      if (i != entries_.size() - 1) {
        entries_[i] = entries_.back();
        index_[entries_[i].fd] = i;
      }
      entries_.pop_back();
    }
    return wake();
  }

  // Copies the registrations for one wait, so the helper thread never holds
  // the lock while blocked.
  void snapshot(std::vector<Registration>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    *out = entries_;
  }

  // Where the next batch starts scanning: it moves past the last fd reported
  // whenever a batch fills up, so with more ready fds than fit in one batch
  // every fd gets its turn (epoll rotates its ready list the same way).
  size_t next_start(size_t n) const { return n == 0 ? 0 : cursor_ % n; }
  void advance(size_t last_reported) { cursor_ = last_reported + 1; }

  int wake() {
    char b = 1;
    // EAGAIN means the pipe is already full of wakeups: one is enough.
    if (write(wake_write_, &b, 1) < 0 && errno != EAGAIN) return -errno;
    return 0;
  }

  void drain_wakeups() {
    char buf[64];
    while (read(wake_read_, buf, sizeof buf) > 0) {
    }
  }

 private:
  std::mutex mu_;
  std::vector<Registration> entries_;
  std::unordered_map<int, size_t> index_;
  int wake_read_ = -1;
  int wake_write_ = -1;
  size_t cursor_ = 0;  // helper thread only
};

}  // namespace rxnet

#endif  // RXNET_INTEREST_TABLE_H_
