/* Reference TLS server for bench/tls.ts: level-triggered epoll, non-blocking
 * sockets, OpenSSL (the system's libssl) with its defaults (TLSv1.3, session
 * tickets). What TLS termination costs without a JavaScript runtime: the
 * floor that rxnet's and node:tls's servers are compared with. Modes, as
 * bench/servers/tls-echo.ts has them: echo (every byte read written back),
 * sink (reads and discards until the peer ends), source BYTES (sends BYTES,
 * 64 KiB at a time, then close_notify and FIN).
 * Usage: tls_echo PORT CERT KEY [echo|sink|source BYTES] (PORT 0 picks one;
 * prints "listening on 127.0.0.1:PORT").
 * Build: cc -O2 tls_echo.c -lssl -lcrypto. Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

enum { ECHO, SINK, SOURCE };
static int mode = ECHO;
static long long source_bytes;
static SSL *conns[MAX_FDS];
static long long left[MAX_FDS]; /* source: bytes still to send */

static void drop(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  SSL_free(conns[fd]);
  conns[fd] = NULL;
  close(fd);
}

/* Reads what TLS has for fd and writes it back; 0 to keep the connection. */
static int serve(SSL *ssl) {
  static unsigned char buf[65536];
  ERR_clear_error();
  if (!SSL_is_init_finished(ssl)) {
    int r = SSL_accept(ssl);
    if (r <= 0) {
      int e = SSL_get_error(ssl, r);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
  }
  for (;;) {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) {
      int e = SSL_get_error(ssl, n);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return -1;
      if (mode != SOURCE) return 0;
      /* source: send until the kernel is full (write interest brings us back). */
      long long *rest = &left[SSL_get_fd(ssl)];
      static unsigned char block[65536];
      while (*rest > 0) {
        int w = SSL_write(ssl, block, *rest < (long long)sizeof block ? (int)*rest : (int)sizeof block);
        if (w > 0) { *rest -= w; continue; }
        return SSL_get_error(ssl, w) == SSL_ERROR_WANT_WRITE ? 0 : -1;
      }
      SSL_shutdown(ssl);
      return -1;
    }
    if (mode != ECHO) continue; /* sink (and source) discard what they read */
    /* Replies are small and the peer reads them: the socket buffer does not
     * fill in this benchmark, so a retry loop stands in for write interest. */
    for (int off = 0; off < n;) {
      int w = SSL_write(ssl, buf + off, n - off);
      if (w > 0) { off += w; continue; }
      if (SSL_get_error(ssl, w) != SSL_ERROR_WANT_WRITE) return -1;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: tls_echo PORT CERT KEY [echo|sink|source BYTES]\n"); return 2; }
  int port = atoi(argv[1]), one = 1;
  if (argc > 4 && strcmp(argv[4], "sink") == 0) mode = SINK;
  if (argc > 5 && strcmp(argv[4], "source") == 0) { mode = SOURCE; source_bytes = atoll(argv[5]); }
  struct sigaction sa = {0};
  sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL); signal(SIGPIPE, SIG_IGN);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 511)) { perror("bind/listen"); return 1; }
  getsockname(lfd, (struct sockaddr *)&a, &alen);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if (c >= MAX_FDS) { close(c); continue; }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          SSL *ssl = SSL_new(ctx);
          SSL_set_fd(ssl, c);
          conns[c] = ssl;
          left[c] = source_bytes;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP | (mode == SOURCE ? EPOLLOUT : 0), .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      if (conns[fd] != NULL && serve(conns[fd]) != 0) drop(ep, fd);
    }
  }
  for (int fd = 0; fd < MAX_FDS; fd++) if (conns[fd] != NULL) drop(ep, fd);
  close(ep); close(lfd);
  SSL_CTX_free(ctx);
  return 0;
}
