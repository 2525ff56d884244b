#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include <climits>

#include "sys.h"

namespace rxnet {

// One connection's TLS state. SSL_get_app_data(ssl) points to its
// SessionPolicy part, which the context callbacks read.
struct TlsStage::Session : tls::SessionPolicy {
  int fd = -1;
  SSL* ssl = nullptr;
  std::vector<uint8_t>* out = nullptr;  // the stage's shared output buffer
  // Input being fed: the caller's buffer, or `held`.
  const uint8_t* in = nullptr;
  size_t in_len = 0;
  // Ciphertext not consumed by the time an input returned (only while a
  // handshake waits for the SNICallback), fed first next time.
  std::string held;
  // Ciphertext the kernel did not take, in order; malloc'd only then.
  uint8_t* pending = nullptr;
  size_t pending_head = 0;
  size_t pending_len = 0;  // bytes from pending_head
  size_t pending_cap = 0;
  bool server = false;
  bool established = false;
  bool failed = false;
  bool close_notify_sent = false;
  bool request_cert = false;
  int write_error = 0;  // -errno of a failed send: nothing more can be sent
  std::string servername;  // client: what was sent
  std::string verify_host;
  tls::Failure failure;

  ~Session() {
    if (ssl != nullptr) SSL_free(ssl);  // frees the BIO too
    if (sni_context != nullptr) SSL_CTX_free(sni_context);
    free(pending);
  }

  void drop_pending() {
    free(pending);
    pending = nullptr;
    pending_head = pending_len = pending_cap = 0;
  }

  bool keep_pending(const uint8_t* data, size_t len) {
    if (len == 0) return true;
    if (pending_head > 0 && pending_len > 0) memmove(pending, pending + pending_head, pending_len);
    pending_head = 0;
    if (pending_len + len > pending_cap) {
      size_t cap = pending_cap == 0 ? len : pending_cap;
      while (cap < pending_len + len) cap *= 2;
      auto* grown = static_cast<uint8_t*>(realloc(pending, cap));
      if (grown == nullptr) return false;
      pending = grown;
      pending_cap = cap;
    }
    memcpy(pending + pending_len, data, len);
    pending_len += len;
    return true;
  }

  // Offers the waiting ciphertext to the kernel: 0 all gone, -EAGAIN, -errno.
  int send_pending() {
    while (pending_len > 0) {
      ssize_t r = sys::write(fd, pending + pending_head, pending_len);
      if (r < 0) return r == -EAGAIN || r == -EWOULDBLOCK ? -EAGAIN : static_cast<int>(r);
      pending_head += static_cast<size_t>(r);
      pending_len -= static_cast<size_t>(r);
    }
    // Drained: an idle connection keeps no buffer.
    drop_pending();
    return 0;
  }

  void feed(const uint8_t* data, size_t n) {
    if (held.empty()) {
      in = data;
      in_len = n;
    } else {
      held.append(reinterpret_cast<const char*>(data), n);
      in = reinterpret_cast<const uint8_t*>(held.data());
      in_len = held.size();
    }
  }

  void feed_held() {
    in = reinterpret_cast<const uint8_t*>(held.data());
    in_len = held.size();
  }

  // After an input: what OpenSSL did not consume stays for the next one.
  void keep_unconsumed() {
    const auto* base = reinterpret_cast<const uint8_t*>(held.data());
    if (in_len == 0) {
      held.clear();
    } else if (!held.empty() && in >= base && in < base + held.size()) {
      held.erase(0, static_cast<size_t>(in - base));
    } else {
      held.assign(reinterpret_cast<const char*>(in), in_len);
    }
    in = nullptr;
    in_len = 0;
  }
};

namespace {

// Most ciphertext a session holds unconsumed while its handshake waits for
// the SNICallback: a ClientHello is far smaller, so more is a peer flooding.
constexpr size_t kMaxHeld = 2 * RX_READ_BUDGET;

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

// ---- the BIO: input from the session's feed, output into the shared buffer --

int TlsStage::BioWrite(BIO* bio, const char* data, int len) {
  auto* s = static_cast<Session*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  // Same element type on both sides, so this is one memmove (from char
  // iterators it was a byte-by-byte conversion loop: a third of a bulk
  // send's CPU).
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  s->out->insert(s->out->end(), bytes, bytes + len);
  return len;
}

int TlsStage::BioRead(BIO* bio, char* buf, int len) {
  auto* s = static_cast<Session*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (s->in_len == 0) {
    // Nothing more now: OpenSSL keeps its partial record and reports WANT_READ.
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t n = s->in_len < static_cast<size_t>(len) ? s->in_len : static_cast<size_t>(len);
  memcpy(buf, s->in, n);
  s->in += n;
  s->in_len -= n;
  return static_cast<int>(n);
}

long TlsStage::BioCtrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  auto* s = static_cast<Session*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      // OpenSSL flushes after each handshake flight; the stage sends at the
      // end of the operation instead, in one send(2).
      return 1;
    case BIO_CTRL_PENDING:
      return s != nullptr ? static_cast<long>(s->in_len) : 0;
    default:
      return 0;
  }
}

int TlsStage::BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int TlsStage::BioDestroy(BIO* /*bio*/) { return 1; }

// ---- the stage ----------------------------------------------------------------

TlsStage::TlsStage() : read_buffer_(RX_READ_BUDGET), staging_(RX_TLS_RECORD_PLAINTEXT) {
  out_.reserve(RX_TLS_WRITE_ROUND + 4096);
  bio_method_ = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rxnet");
  if (bio_method_ == nullptr) return;
  BIO_meth_set_write(bio_method_, BioWrite);
  BIO_meth_set_read(bio_method_, BioRead);
  BIO_meth_set_ctrl(bio_method_, BioCtrl);
  BIO_meth_set_create(bio_method_, BioCreate);
  BIO_meth_set_destroy(bio_method_, BioDestroy);
}

TlsStage::~TlsStage() {
  for (Session* s : sessions_) delete s;
  sessions_.clear();
  // SAFETY: after the sessions: their BIOs use this method until SSL_free.
  if (bio_method_ != nullptr) BIO_meth_free(bio_method_);
  ERR_clear_error();
}

TlsStage::Session* TlsStage::get(int fd) const {
  if (fd < 0 || static_cast<size_t>(fd) >= sessions_.size()) return nullptr;
  return sessions_[fd];
}

int TlsStage::attach(int fd, SSL_CTX* ctx, const TlsSessionOptions& o, tls::Failure* failure) {
  if (fd < 0) return -EBADF;
  if (bio_method_ == nullptr) return -ENOMEM;
  detach(fd);
  ERR_clear_error();
  auto* s = new Session();
  s->fd = fd;
  s->out = &out_;
  s->ssl = SSL_new(ctx);
  BIO* bio = s->ssl != nullptr ? BIO_new(bio_method_) : nullptr;
  if (bio == nullptr) {
    *failure = tls::failure_from_queue("out of memory");
    delete s;
    return -ENOMEM;
  }
  BIO_set_data(bio, s);
  SSL_set_bio(s->ssl, bio, bio);  // one reference, both directions
  SSL_set_app_data(s->ssl, static_cast<tls::SessionPolicy*>(s));
  s->initial_context = ctx;
  s->server = o.server;
  s->reject_unauthorized = o.reject_unauthorized;
  s->request_cert = o.request_cert;
  bool ok = true;
  if (o.server) {
    s->alpn = o.alpn;
    s->sni_callback = o.sni_callback;
    SSL_set_accept_state(s->ssl);
    int mode = SSL_VERIFY_NONE;
    if (o.request_cert) mode = SSL_VERIFY_PEER | (o.reject_unauthorized ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_set_verify(s->ssl, mode, tls::verify_callback);
  } else {
    SSL_set_connect_state(s->ssl);
    // Always verified, so authorized/authorizationError are known; whether a
    // failure fails the handshake is verify_callback's (reject_unauthorized).
    SSL_set_verify(s->ssl, SSL_VERIFY_PEER, tls::verify_callback);
    s->servername = o.servername;
    s->verify_host = o.verify_host;
    if (!o.servername.empty()) ok = ok && SSL_set_tlsext_host_name(s->ssl, o.servername.c_str()) == 1;
    if (!o.verify_host.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(s->ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = ok && (is_ip(o.verify_host) ? X509_VERIFY_PARAM_set1_ip_asc(param, o.verify_host.c_str())
                                       : X509_VERIFY_PARAM_set1_host(param, o.verify_host.c_str(), 0)) == 1;
    }
    // SSL_set_alpn_protos returns 0 on success.
    if (!o.alpn.empty()) {
      ok = ok && SSL_set_alpn_protos(s->ssl, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                                     static_cast<unsigned int>(o.alpn.size())) == 0;
    }
    if (ok && !o.session.empty()) {
      const auto* p = reinterpret_cast<const unsigned char*>(o.session.data());
      SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(o.session.size()));
      // A session that does not parse is not an error: a full handshake follows.
      if (session != nullptr) {
        SSL_set_session(s->ssl, session);
        SSL_SESSION_free(session);
      }
      ERR_clear_error();
    }
  }
  if (!ok) {
    *failure = tls::failure_from_queue("bad session options");
    delete s;
    return -EINVAL;
  }
  if (static_cast<size_t>(fd) >= sessions_.size()) sessions_.resize(static_cast<size_t>(fd) + 1, nullptr);
  sessions_[fd] = s;
  count_++;
  return 0;
}

void TlsStage::detach(int fd) {
  Session* s = get(fd);
  if (s == nullptr) return;
  sessions_[fd] = nullptr;
  count_--;
  delete s;
  ERR_clear_error();
}

void TlsStage::fail(Session* s) {
  s->failed = true;
  long verify = SSL_get_verify_result(s->ssl);
  unsigned long e = ERR_peek_last_error();
  if (verify != X509_V_OK && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    // Our own verification refused the peer: name the reason as Node does
    // (CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, ...).
    s->failure = tls::verify_failure(verify, s->ssl, s->verify_host);
    ERR_clear_error();
  } else {
    s->failure = tls::failure_from_queue("handshake failure");
  }
}

// Returns false once the session has failed.
bool TlsStage::handshake_step(Session* s, uint32_t* events) {
  if (s->sni_waiting && !s->sni_answered) return true;  // JavaScript has not answered yet
  int r = SSL_do_handshake(s->ssl);
  if (r == 1) {
    s->established = true;
    *events |= RX_TLS_HANDSHAKE_DONE;
    return true;
  }
  switch (SSL_get_error(s->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return true;
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
      // The ClientHello callback paused for the SNICallback; tell JavaScript once.
      *events |= RX_TLS_SERVERNAME;
      return true;
    default:
      fail(s);
      *events |= RX_TLS_FAILED;
      return false;
  }
}

int32_t TlsStage::read_plaintext(Session* s, uint8_t* out, size_t room, uint32_t* events) {
  size_t got = 0;
  while (got < room) {
    size_t ask = room - got;
    if (ask > INT_MAX) ask = INT_MAX;
    int r = SSL_read(s->ssl, out + got, static_cast<int>(ask));
    if (r > 0) {
      got += static_cast<size_t>(r);
      // All fed and nothing buffered, not even part of a record: another
      // SSL_read could only fail with WANT_READ, after setting up (and,
      // with SSL_MODE_RELEASE_BUFFERS, allocating and freeing) a read
      // buffer. One record per wakeup is the common case of a
      // request/response protocol.
      if (s->in_len == 0 && SSL_has_pending(s->ssl) == 0) break;
      continue;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      // close_notify: the peer's stream ends after what came before it.
      *events |= RX_TLS_END;
      s->in_len = 0;  // nothing after close_notify counts
      if (got == 0) return 0;
      break;
    }
    fail(s);
    *events |= RX_TLS_FAILED;
    break;
  }
  return got > 0 ? static_cast<int32_t>(got) : RX_NOT_READ;
}

// Offers what the last operation made (out_) to the kernel, after anything
// already waiting. 0: all of it was taken; -EAGAIN: the rest waits in the
// session; -errno: sending failed and the session can send no more.
int TlsStage::settle_output(Session* s) {
  int r = 0;
  size_t sent = 0;
  if (s->write_error != 0) {
    r = s->write_error;
  } else {
    if (s->pending_len > 0) r = s->send_pending();
    while (r == 0 && sent < out_.size()) {
      ssize_t w = sys::write(s->fd, out_.data() + sent, out_.size() - sent);
      if (w < 0) {
        r = w == -EAGAIN || w == -EWOULDBLOCK ? -EAGAIN : static_cast<int>(w);
      } else {
        sent += static_cast<size_t>(w);
      }
    }
    if (r == -EAGAIN && !s->keep_pending(out_.data() + sent, out_.size() - sent)) r = -ENOMEM;
    if (r < 0 && r != -EAGAIN) {
      s->write_error = r;
      s->drop_pending();
    }
  }
  out_.clear();
  // A round of a big write can leave the shared buffer large; give it back.
  if (out_.capacity() > 4 * RX_TLS_WRITE_ROUND) {
    std::vector<uint8_t>().swap(out_);
    out_.reserve(RX_TLS_WRITE_ROUND + 4096);
  }
  return r;
}

int32_t TlsStage::input(int fd, const uint8_t* data, ssize_t n, uint8_t* out, size_t room, uint32_t* events) {
  Session* s = get(fd);
  // A TLS registration without a session is a bug above; the bytes were
  // read, so the connection must go rather than spin.
  if (s == nullptr) return n < 0 ? static_cast<int32_t>(n) : -EPROTO;
  if (n <= 0) return static_cast<int32_t>(n);  // the peer's FIN (node:tls ends too without close_notify), or -errno
  if (s->failed) return RX_NOT_READ;
  ERR_clear_error();
  s->feed(data, static_cast<size_t>(n));
  int32_t result = RX_NOT_READ;
  bool alive = s->established || handshake_step(s, events);
  if (alive && s->established) result = read_plaintext(s, out, room, events);
  s->keep_unconsumed();
  if (s->held.size() > kMaxHeld) {
    s->held.clear();
    s->failed = true;
    s->failure.code = "ERR_SSL_EXCESSIVE_MESSAGE_SIZE";
    s->failure.message = "the peer sent too much while its handshake waited for the SNICallback";
    s->failure.reason = "excessive message size";
    *events |= RX_TLS_FAILED;
  }
  // After a failure too: the alert OpenSSL queued should reach the peer.
  // (Failures empty the error queue as they are recorded, and success adds
  // nothing to it, so the queue is left clean without another clear.)
  if (settle_output(s) == -EAGAIN) *events |= RX_TLS_WANT_WRITE;
  return result;
}

int64_t TlsStage::handshake(int fd) {
  Session* s = get(fd);
  if (s == nullptr) return -EBADF;
  if (s->failed) return RX_TLS_FAILED;
  ERR_clear_error();
  uint32_t events = 0;
  s->feed_held();
  if (!s->established) handshake_step(s, &events);
  s->keep_unconsumed();
  int r = settle_output(s);
  if (r == -EAGAIN) events |= RX_TLS_WANT_WRITE;
  if (r < 0 && r != -EAGAIN && !(events & RX_TLS_FAILED)) return r;
  return events;
}

bool TlsStage::encrypt(Session* s, const uint8_t* data, size_t len) {
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : static_cast<int>(len);
    // The BIO takes every byte, so SSL_write never wants to be retried.
    int r = SSL_write(s->ssl, data, chunk);
    if (r <= 0) {
      fail(s);
      return false;
    }
    data += r;
    len -= static_cast<size_t>(r);
  }
  return true;
}

int64_t TlsStage::write(int fd, const struct iovec* iov, int iovcnt) {
  Session* s = get(fd);
  if (s == nullptr) return -EBADF;
  if (!s->established) return -ENOTCONN;
  if (s->failed) return -EPROTO;
  if (s->write_error != 0) return s->write_error;
  ERR_clear_error();
  int r = settle_output(s);  // what waits from before goes first
  if (r < 0) return r;
  int64_t taken = 0;
  int i = 0;
  size_t off = 0;
  while (i < iovcnt) {
    size_t round = 0;
    size_t staged = 0;
    uint8_t* staging = staging_.data();
    while (i < iovcnt && round < RX_TLS_WRITE_ROUND) {
      const uint8_t* p = static_cast<const uint8_t*>(iov[i].iov_base) + off;
      size_t len = iov[i].iov_len - off;
      if (len > RX_TLS_WRITE_ROUND - round) len = RX_TLS_WRITE_ROUND - round;
      size_t used;
      if (staged == 0 && len >= RX_TLS_RECORD_PLAINTEXT) {
        // Whole records straight from the caller's memory.
        used = len - len % RX_TLS_RECORD_PLAINTEXT;
        if (!encrypt(s, p, used)) return -EPROTO;
      } else {
        // Small writes (a pipelined protocol's replies) share a record.
        used = RX_TLS_RECORD_PLAINTEXT - staged;
        if (used > len) used = len;
        memcpy(staging + staged, p, used);
        staged += used;
        if (staged == RX_TLS_RECORD_PLAINTEXT) {
          if (!encrypt(s, staging, staged)) return -EPROTO;
          staged = 0;
        }
      }
      off += used;
      round += used;
      taken += static_cast<int64_t>(used);
      if (off == iov[i].iov_len) {
        i++;
        off = 0;
      }
    }
    if (staged > 0 && !encrypt(s, staging, staged)) return -EPROTO;
    r = settle_output(s);
    if (r == -EAGAIN) break;  // taken: it waits in the session
    if (r < 0) return r;
  }
  return taken;
}

int64_t TlsStage::send_file(int fd, int file_fd, int64_t offset, int64_t count) {
  Session* s = get(fd);
  if (s == nullptr) return -EBADF;
  if (!s->established) return -ENOTCONN;
  if (s->failed) return -EPROTO;
  ERR_clear_error();
  int r = settle_output(s);
  if (r < 0) return r;
  int64_t done = 0;
  while (done < count) {
    int64_t want = count - done;
    if (want > static_cast<int64_t>(RX_TLS_WRITE_ROUND)) want = RX_TLS_WRITE_ROUND;
    if (want > static_cast<int64_t>(read_buffer_.size())) want = static_cast<int64_t>(read_buffer_.size());
    ssize_t got = sys::pread(file_fd, read_buffer_.data(), static_cast<size_t>(want), offset + done);
    if (got < 0) return done > 0 ? done : got;
    if (got == 0) break;  // the file is shorter than asked
    if (!encrypt(s, read_buffer_.data(), static_cast<size_t>(got))) return -EPROTO;
    done += got;
    r = settle_output(s);
    if (r == -EAGAIN) break;
    if (r < 0) return r;
  }
  return done;
}

int TlsStage::shutdown(int fd) {
  Session* s = get(fd);
  if (s == nullptr) return -EBADF;
  ERR_clear_error();
  if (s->established && !s->failed && !s->close_notify_sent) {
    s->close_notify_sent = true;
    // 0 (sent, the peer's not yet seen) or 1 (both seen); rxnet does not
    // wait for the peer's, as node:tls does not.
    SSL_shutdown(s->ssl);
  }
  int r = settle_output(s);
  ERR_clear_error();
  return r;
}

size_t TlsStage::pending(int fd) const {
  const Session* s = get(fd);
  return s == nullptr ? 0 : s->pending_len;
}

bool TlsStage::info(int fd, TlsInfo* out) const {
  Session* s = get(fd);
  if (s == nullptr || !s->established) return false;
  SSL* ssl = s->ssl;
  out->protocol = SSL_get_version(ssl);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
    out->cipher = SSL_CIPHER_get_name(c);
    const char* standard = SSL_CIPHER_standard_name(c);
    out->cipher_standard = standard != nullptr ? standard : out->cipher;
    out->cipher_version = SSL_CIPHER_get_version(c);
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  out->alpn.assign(reinterpret_cast<const char*>(alpn), alpn != nullptr ? alpn_len : 0);
  if (s->server) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    out->servername = name != nullptr ? name : "";
  } else {
    out->servername = s->servername;
  }
  out->session_reused = SSL_session_reused(ssl) == 1;
  X509* peer = SSL_get0_peer_certificate(ssl);
  out->peer_certificate.clear();
  if (peer != nullptr) {
    int len = i2d_X509(peer, nullptr);
    if (len > 0) {
      out->peer_certificate.resize(static_cast<size_t>(len));
      auto* p = reinterpret_cast<unsigned char*>(&out->peer_certificate[0]);
      i2d_X509(peer, &p);
    }
  }
  // As node:tls: a server that did not ask for a certificate has no opinion;
  // otherwise the verification result, where a TLSv1.3 resumption (no
  // certificate is sent again) counts as the original handshake's success
  // and no certificate at all is UNABLE_TO_GET_ISSUER_CERT (Node's
  // TLSWrap::VerifyError default).
  out->peer_verified = false;
  out->authorization_error.clear();
  if (!s->server || s->request_cert) {
    long result = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
    if (peer != nullptr) {
      result = SSL_get_verify_result(ssl);
    } else if (SSL_version(ssl) == TLS1_3_VERSION && out->session_reused) {
      result = X509_V_OK;
    }
    if (result == X509_V_OK) {
      out->peer_verified = true;
    } else {
      out->authorization_error = tls::verify_failure(result, ssl, s->verify_host).code;
    }
  }
  ERR_clear_error();
  return true;
}

const tls::Failure* TlsStage::failure(int fd) const {
  Session* s = get(fd);
  return s != nullptr && s->failed ? &s->failure : nullptr;
}

bool TlsStage::session_bytes(int fd, std::string* out) const {
  Session* s = get(fd);
  if (s == nullptr || !s->established) return false;
  SSL_SESSION* session = SSL_get1_session(s->ssl);
  if (session == nullptr) return false;
  bool ok = SSL_SESSION_is_resumable(session) == 1;
  int len = ok ? i2d_SSL_SESSION(session, nullptr) : 0;
  if (len > 0) {
    out->resize(static_cast<size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(&(*out)[0]);
    i2d_SSL_SESSION(session, &p);
  }
  SSL_SESSION_free(session);
  ERR_clear_error();
  return len > 0;
}

const std::string* TlsStage::requested_servername(int fd) const {
  Session* s = get(fd);
  return s == nullptr ? nullptr : &s->requested_servername;
}

int TlsStage::use_context(int fd, SSL_CTX* ctx) {
  Session* s = get(fd);
  if (s == nullptr) return -EBADF;
  if (!s->sni_waiting || s->sni_answered) return -EINVAL;
  if (ctx != nullptr) SSL_CTX_up_ref(ctx);
  s->sni_context = ctx;
  s->sni_answered = true;
  return 0;
}

}  // namespace rxnet
