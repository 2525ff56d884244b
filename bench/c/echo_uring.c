/* Reference echo server on io_uring, raw syscalls and <linux/io_uring.h>:
 * multishot accept, multishot recv into a ring of provided buffers, and each
 * received buffer sent back as it is (IORING_OP_SEND from the same buffer,
 * which goes back to the ring when the send completes). One ring with
 * SINGLE_ISSUER + DEFER_TASKRUN, one io_uring_enter per loop that submits and
 * waits. Usage: echo_uring PORT. The physical limit rxnet's io_uring backend
 * is measured against (bench/streams.ts). Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENTRIES 1024
#define NBUF 1024 /* provided buffers, power of two */
#define BUFSZ 4096
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
/* user_data: op << 56 | bid << 32 | fd */
#define UD(op, bid, fd) (((uint64_t)(op) << 56) | ((uint64_t)(bid) << 32) | (uint32_t)(fd))

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int ring_fd;
static unsigned *sq_tail, *sq_mask, *cq_head, *cq_tail, *cq_mask, sq_local, submitted;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;
static struct io_uring_buf *bufs; /* the provided-buffer ring: an array whose entry 0 holds the tail */
static uint16_t buf_tail;
static char *mem;

static struct io_uring_sqe *sqe(void) {
  struct io_uring_sqe *e = &sqes[sq_local++ & *sq_mask];
  memset(e, 0, sizeof *e);
  return e;
}
static void give_buffer(uint16_t bid) {
  struct io_uring_buf *b = &bufs[buf_tail++ & (NBUF - 1)];
  b->addr = (uint64_t)(mem + (size_t)bid * BUFSZ);
  b->len = BUFSZ;
  b->bid = bid;
}
static void publish_buffers(void) { __atomic_store_n((uint16_t *)((char *)bufs + 14), buf_tail, __ATOMIC_RELEASE); }
static void arm_recv(int fd) {
  struct io_uring_sqe *e = sqe();
  e->opcode = IORING_OP_RECV; e->fd = fd; e->ioprio = IORING_RECV_MULTISHOT;
  e->flags = IOSQE_BUFFER_SELECT; e->buf_group = 0; e->user_data = UD(OP_RECV, 0, fd);
}
static void arm_accept(int lfd) {
  struct io_uring_sqe *e = sqe();
  e->opcode = IORING_OP_ACCEPT; e->fd = lfd; e->ioprio = IORING_ACCEPT_MULTISHOT;
  e->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC; e->user_data = UD(OP_ACCEPT, 0, lfd);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0, one = 1;
  struct sigaction sa = {0};
  sa.sa_handler = on_signal; /* no SA_RESTART: io_uring_enter returns EINTR */
  sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL); signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 511)) { perror("bind/listen"); return 1; }
  getsockname(lfd, (struct sockaddr *)&a, &alen);

  struct io_uring_params p = {0};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = ENTRIES * 4;
  ring_fd = (int)syscall(__NR_io_uring_setup, ENTRIES, &p);
  if (ring_fd < 0) { perror("io_uring_setup"); return 1; }
  size_t sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  if (p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe) > sz) sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char *ring = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
  sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQES);
  if (ring == MAP_FAILED || sqes == MAP_FAILED) { perror("mmap"); return 1; }
  sq_tail = (unsigned *)(ring + p.sq_off.tail); sq_mask = (unsigned *)(ring + p.sq_off.ring_mask);
  unsigned *sq_array = (unsigned *)(ring + p.sq_off.array);
  for (unsigned i = 0; i < p.sq_entries; i++) sq_array[i] = i;
  cq_head = (unsigned *)(ring + p.cq_off.head); cq_tail = (unsigned *)(ring + p.cq_off.tail);
  cq_mask = (unsigned *)(ring + p.cq_off.ring_mask); cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);
  sq_local = submitted = *sq_tail;

  bufs = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mem = mmap(NULL, (size_t)NBUF * BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)bufs, .ring_entries = NBUF, .bgid = 0};
  if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) { perror("pbuf ring"); return 1; }
  for (unsigned i = 0; i < NBUF; i++) give_buffer((uint16_t)i);
  publish_buffers();

  arm_accept(lfd);
  printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  while (!stop) {
    __atomic_store_n(sq_tail, sq_local, __ATOMIC_RELEASE);
    int r = (int)syscall(__NR_io_uring_enter, ring_fd, sq_local - submitted, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    if (r < 0) { if (errno == EINTR) continue; perror("io_uring_enter"); return 1; }
    submitted += (unsigned)r;
    unsigned head = *cq_head, tail = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE), recycled = 0;
    for (; head != tail; head++) {
      struct io_uring_cqe *c = &cqes[head & *cq_mask];
      int op = (int)(c->user_data >> 56), fd = (int)(uint32_t)c->user_data;
      if (op == OP_ACCEPT) {
        if (c->res >= 0) { setsockopt(c->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); arm_recv(c->res); }
        if (!(c->flags & IORING_CQE_F_MORE)) arm_accept(lfd);
      } else if (op == OP_RECV) {
        if (c->res > 0) { /* echo the buffer back; it returns to the ring when sent */
          uint16_t bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
          struct io_uring_sqe *e = sqe();
          e->opcode = IORING_OP_SEND; e->fd = fd; e->addr = (uint64_t)(mem + (size_t)bid * BUFSZ);
          e->len = (unsigned)c->res; e->msg_flags = MSG_NOSIGNAL | MSG_WAITALL; e->user_data = UD(OP_SEND, bid, fd);
        }
        if (!(c->flags & IORING_CQE_F_MORE)) {
          if (c->res == -ENOBUFS || c->res > 0) arm_recv(fd); /* out of buffers: try again */
          else close(fd);                                     /* EOF or error */
        }
      } else if (op == OP_SEND) {
        give_buffer((uint16_t)(c->user_data >> 32));
        recycled++;
      }
    }
    __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    if (recycled) publish_buffers();
  }
  close(ring_fd); close(lfd);
  return 0;
}
