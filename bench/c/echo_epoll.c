/* Reference echo server: edge-triggered epoll, non-blocking accept4, read
 * until EAGAIN, write back. Usage: echo_epoll PORT. The yardstick rxnet's
 * reactor is measured against (bench/run.ts). Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0, one = 1;
  struct sigaction sa = {0};
  sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL); signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 511)) { perror("bind/listen"); return 1; }
  getsockname(lfd, (struct sockaddr *)&a, &alen);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = lfd}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  static char buf[65536];
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      for (;;) { /* drain: edge-triggered */
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
          /* A blocking-style write loop is fine for a request/response
           * benchmark: replies are small and the socket buffer never fills. */
          for (ssize_t off = 0; off < r;) {
            ssize_t w = send(fd, buf + off, r - off, MSG_NOSIGNAL);
            if (w > 0) off += w; else if (w < 0 && errno == EAGAIN) continue; else { r = 0; break; }
          }
          if (r > 0) continue;
        } else if (r < 0 && errno == EAGAIN) break;
        close(fd); /* EOF or error; close also removes it from epoll */
        break;
      }
    }
  }
  close(ep); close(lfd);
  return 0;
}
