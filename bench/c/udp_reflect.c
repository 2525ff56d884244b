/* The C reference for the UDP benchmark: a sockperf-compatible reflector
 * with recvmmsg/sendmmsg batches of 64, epoll level-triggered.
 * Usage: udp_reflect PORT (0 picks one). Prints "listening on 127.0.0.1:PORT". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 2048

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0)};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) { perror("bind"); return 1; }
  socklen_t len = sizeof sin;
  getsockname(fd, (struct sockaddr *)&sin, &len);
  printf("listening on 127.0.0.1:%d (C recvmmsg/sendmmsg)\n", ntohs(sin.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  static char bufs[BATCH][SLOT];
  struct mmsghdr in[BATCH], out[BATCH];
  struct iovec iov[BATCH], oiov[BATCH];
  struct sockaddr_in from[BATCH];
  while (!stop) {
    if (epoll_wait(ep, &ev, 1, 200) <= 0) continue;
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){bufs[i], SLOT};
      in[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
    int k = 0;
    for (int i = 0; i < n; i++) {
      unsigned char *d = (unsigned char *)bufs[i];
      if (in[i].msg_len < 14) continue;
      unsigned flags = (d[8] << 8) | d[9];
      if (!(flags & 0x2)) continue;
      flags &= ~0x1u;
      d[8] = flags >> 8;
      d[9] = flags & 0xff;
      oiov[k] = (struct iovec){d, in[i].msg_len};
      out[k].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = in[i].msg_hdr.msg_namelen, .msg_iov = &oiov[k], .msg_iovlen = 1};
      k++;
    }
    if (k > 0) sendmmsg(fd, out, k, 0);
  }
  return 0;
}
