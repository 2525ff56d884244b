// The TLS stage of the native data path: per-fd TLS sessions between the
// socket's bytes and the batch. No N-API and no libuv; tls_addon.cc is the
// glue to JavaScript, tls_context.h configures the contexts sessions are
// made from.
//
// Contract with the reactor (the whole of it, so another data path — an
// io_uring ring delivering ciphertext in its own buffers — calls the same):
//
//   input(fd, bytes, n, out, room, &events)
//     n > 0 ciphertext bytes arrived for fd (0: the peer's FIN, < 0: -errno
//     of the read). The stage drives the handshake, decrypts into out, sends
//     what the session had to say (handshake flights, tickets, alerts) and
//     returns the batch length: plaintext bytes (> 0), 0 for the end of the
//     stream, -errno, or RX_NOT_READ when nothing is for JavaScript. It ORs
//     RX_TLS_* status bits (abi.h) into events. `room` must be at least
//     n + RX_TLS_RECORD_PLAINTEXT: one incomplete record may wait in the
//     session from an earlier read, and everything decryptable is decrypted
//     now, so no plaintext ever waits inside the session while the socket is
//     quiet (a level-triggered reactor would never come back for it).
//
// Why memory, not an fd BIO: OpenSSL never touches the socket. The reactor
// keeps its read loop (budget, EOF and errno handling, one read per wakeup),
// ciphertext can come from any data path, and the records a batch's writes
// make leave in one send(2) per connection instead of one per record, which
// is what an fd BIO does. The cost is one copy of the ciphertext each way,
// small beside AES-GCM. The BIO is rxnet's own (not BIO_s_mem): reads take
// the caller's buffer in place, and writes collect in one buffer shared by
// all sessions, so an idle connection owns no output buffer at all; only
// ciphertext the kernel refused is copied into the session.
//
// Threads: the loop thread only. Writes are made by JavaScript during a
// batch and flushed at its end (write(), send_file(), shutdown()).
#ifndef RXNET_TLS_H_
#define RXNET_TLS_H_

#include <openssl/ssl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "abi.h"
#include "tls_context.h"

namespace rxnet {

// How one connection's session is made (tlsAttach's arguments).
struct TlsSessionOptions {
  bool server = false;
  // Server: ask for a client certificate.
  bool request_cert = false;
  // Fail the handshake (with an alert) when the peer's certificate does not
  // verify (client: or does not match verify_host).
  bool reject_unauthorized = true;
  // Server: pause at the ClientHello for JavaScript's SNICallback.
  bool sni_callback = false;
  // Client: the SNI name sent ("" for none: Node sends none for an IP).
  std::string servername;
  // Client: the host name or IP the certificate must match ("" for none).
  std::string verify_host;
  // ALPN, wire format: the client's offer, or the server's choices best first.
  std::string alpn;
  // Client: a session to resume (i2d_SSL_SESSION bytes).
  std::string session;
};

// What a completed handshake agreed (Connection.tls).
struct TlsInfo {
  std::string protocol;          // "TLSv1.3"
  std::string cipher;            // OpenSSL's name
  std::string cipher_standard;   // the IANA name
  std::string cipher_version;    // "TLSv1.3", "TLSv1.2"
  std::string alpn;              // "" for none
  std::string servername;        // server: the client's SNI; client: what was sent
  bool peer_verified = false;    // the peer's certificate verified (and, client, matched)
  std::string authorization_error;  // Node's code when it did not, "" otherwise
  bool session_reused = false;
  std::string peer_certificate;  // DER, "" for none
};

class TlsStage {
 public:
  TlsStage();
  ~TlsStage();  // frees every session still attached
  TlsStage(const TlsStage&) = delete;
  TlsStage& operator=(const TlsStage&) = delete;

  // False if OpenSSL could not make the BIO method (out of memory).
  bool ok() const { return bio_method_ != nullptr; }

  // Makes fd's session from ctx. 0, or -errno with *failure set.
  int attach(int fd, SSL_CTX* ctx, const TlsSessionOptions& options, tls::Failure* failure);
  // Frees fd's session (before the fd is closed). Idempotent.
  void detach(int fd);

  // The data path (see the contract above).
  uint8_t* read_buffer() { return read_buffer_.data(); }
  int32_t input(int fd, const uint8_t* data, ssize_t n, uint8_t* out, size_t room, uint32_t* events);

  // Advances the handshake with what the session already holds: a client's
  // first flight, or a server's after its SNICallback answered. Returns
  // RX_TLS_* bits, or -errno.
  int64_t handshake(int fd);
  // Encrypts the chunks (small ones coalesced into full records) in rounds of
  // RX_TLS_WRITE_ROUND and sends each round; stops at the first the kernel
  // does not take whole. Returns the plaintext bytes taken (encrypted, sent
  // or waiting in the session), -EAGAIN when ciphertext from before still
  // waits, or -errno (-EPROTO: the session failed; failure() says how).
  int64_t write(int fd, const struct iovec* iov, int iovcnt);
  // The same for count bytes of file_fd from offset, read with pread(2).
  // Returns the file bytes taken, 0 at the end of the file, -EAGAIN, -errno.
  int64_t send_file(int fd, int file_fd, int64_t offset, int64_t count);
  // Sends close_notify (once) and whatever waits. 0, -EAGAIN, or -errno.
  int shutdown(int fd);
  // Ciphertext waiting for the kernel.
  size_t pending(int fd) const;
  // Sessions attached now (reactor.stats.tlsSessions: a leak shows here).
  size_t count() const { return count_; }

  bool info(int fd, TlsInfo* out) const;
  // Why fd's session failed; null if it has not.
  const tls::Failure* failure(int fd) const;
  // The session for a later resumption (i2d_SSL_SESSION); false if none is resumable yet.
  bool session_bytes(int fd, std::string* out) const;
  // Server: the SNI name the paused handshake asks about.
  const std::string* requested_servername(int fd) const;
  // Server: the SNICallback's answer (ctx null: keep the default); the
  // handshake then resumes with handshake(). 0 or -errno.
  int use_context(int fd, SSL_CTX* ctx);

 private:
  struct Session;

  Session* get(int fd) const;
  bool handshake_step(Session* s, uint32_t* events);
  int32_t read_plaintext(Session* s, uint8_t* out, size_t room, uint32_t* events);
  bool encrypt(Session* s, const uint8_t* data, size_t len);
  int settle_output(Session* s);
  void fail(Session* s);

  static int BioWrite(BIO* bio, const char* data, int len);
  static int BioRead(BIO* bio, char* buf, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);
  static int BioCreate(BIO* bio);
  static int BioDestroy(BIO* bio);

  std::vector<Session*> sessions_;  // by fd
  size_t count_ = 0;
  BIO_METHOD* bio_method_ = nullptr;
  // Ciphertext read for the session being fed (RX_READ_BUDGET bytes); also
  // file bytes for send_file, which never runs while a read is being fed.
  std::vector<uint8_t> read_buffer_;
  // Small writes gathered into one record.
  std::vector<uint8_t> staging_;
  // Every session's ciphertext goes here first, and is offered to the kernel
  // at the end of the operation that made it.
  std::vector<uint8_t> out_;
};

}  // namespace rxnet

#endif  // RXNET_TLS_H_
