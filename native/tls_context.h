// TLS contexts: an SSL_CTX configured the way node:tls configures one
// (tls.createSecureContext's options), the callbacks every handshake runs
// through, and OpenSSL errors named the way Node names them. No N-API and no
// libuv: tls_addon.cc is the glue to JavaScript, tls.cc the per-connection
// data path.
//
// Why OpenSSL, and this OpenSSL: Node links OpenSSL statically and exports
// its symbols to addons (the addon docs promise it; `nm -D $(which node) |
// grep SSL_new` shows them), and installs its headers with its own
// (<nodedir>/include/node/openssl, on node-gyp's include path). Linking
// against that costs no dependency, no download and no second copy of a TLS
// library in the process, uses the version and the security fixes the user's
// Node already ships (node:tls and rxnet negotiate identically), and keeps
// the default cipher list, versions and root certificates Node's. A bundled
// library (BoringSSL, rustls, s2n, mbedTLS, a second OpenSSL) would be a
// large build-time download, a second set of CVEs to track, and symbol
// clashes with the OpenSSL already loaded.
//
// Lifetime: a context is an SSL_CTX with OpenSSL's own reference count. The
// JavaScript wrapper holds one reference; every SSL made from it holds
// another; ContextData (below) lives in the SSL_CTX's ex_data and is freed
// with the last reference, so a context outlives its wrapper while
// connections use it.
#ifndef RXNET_TLS_CONTEXT_H_
#define RXNET_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <string>

namespace rxnet {
namespace tls {

// A failure as node:tls reports it: `code` (ERR_SSL_WRONG_VERSION_NUMBER,
// ERR_OSSL_PEM_NO_START_LINE, CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID,
// ...), message, and OpenSSL's `library` and `reason` where there are any.
// `host` only for ERR_TLS_CERT_ALTNAME_INVALID.
struct Failure {
  std::string code;
  std::string message;
  std::string library;
  std::string reason;
  std::string host;
  bool set() const { return !code.empty(); }
};

// Names the earliest error on this thread's OpenSSL error queue (as Node
// does), then empties the queue. With nothing queued: `fallback`
// as an ERR_SSL_ code.
Failure failure_from_queue(const char* fallback);
// X509_V_ERR_CERT_HAS_EXPIRED -> "CERT_HAS_EXPIRED", Node's names.
Failure verify_failure(long verify_result, SSL* ssl, const std::string& host);

// What the context callbacks need to know of the connection they run for:
// tls.cc's Session derives from it, and SSL_get_app_data(ssl) points to it.
struct SessionPolicy {
  // A verification failure fails the handshake (with an alert to the peer)
  // instead of being recorded in authorizationError.
  bool reject_unauthorized = false;
  // Server: the ALPN protocols to choose from, in wire format, best first.
  std::string alpn;
  // Server: a JavaScript SNICallback decides the context. The handshake
  // pauses at the ClientHello (SSL_CLIENT_HELLO_RETRY) until JavaScript has
  // answered with use_context().
  bool sni_callback = false;
  bool sni_waiting = false;    // paused; JavaScript has been told
  bool sni_answered = false;   // JavaScript answered; resume
  SSL_CTX* sni_context = nullptr;  // its answer (a reference), or null: keep the default
  std::string requested_servername;
  // The context the session was made from (its SSL holds the reference):
  // ticket keys are that context's even after an SNI switch, because OpenSSL
  // encrypts tickets with the first context's callback.
  SSL_CTX* initial_context = nullptr;
  // Client: the subjectAltName of a certificate that did not match the host,
  // kept by verify_callback (a rejected certificate is never stored in the
  // session) for ERR_TLS_CERT_ALTNAME_INVALID's message.
  std::string mismatched_altnames;
};

// A new context with rxnet's fixed settings (TLS_method, no renegotiation,
// buffers released while idle, Node's session-id context and session cache
// mode) and its callbacks (verification, ALPN, ClientHello). Reference
// count 1; nullptr with *failure set on failure.
SSL_CTX* new_context(Failure* failure);

// Each returns true, or false with *failure set. The names are node:tls's.
// minVersion/maxVersion: "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3".
bool set_protocol_range(SSL_CTX* ctx, const std::string& min, const std::string& max, Failure* failure);
// ciphers: OpenSSL's list; names starting "TLS_" are TLSv1.3 suites (as Node splits them).
bool set_ciphers(SSL_CTX* ctx, const std::string& ciphers, Failure* failure);
bool set_groups(SSL_CTX* ctx, const std::string& groups, Failure* failure);
// key: PEM, possibly encrypted (passphrase; nullptr for none).
bool use_key(SSL_CTX* ctx, const std::string& pem, const char* passphrase, Failure* failure);
// cert: PEM, the leaf first and then its chain.
bool use_certificate_chain(SSL_CTX* ctx, const std::string& pem, Failure* failure);
// ca: PEM, one or more certificates trusted for verification. With
// client_names they are also named in a server's CertificateRequest (the
// `ca` option); Node's root certificates are trusted without being named.
bool add_ca(SSL_CTX* ctx, const std::string& pem, bool client_names, Failure* failure);
void set_session_timeout(SSL_CTX* ctx, long seconds);
// ticketKeys: 48 bytes as Node's (16 name, 16 HMAC-SHA256 key, 16 AES-128 key).
bool set_ticket_keys(SSL_CTX* ctx, const unsigned char* keys, size_t length, Failure* failure);
void set_honor_cipher_order(SSL_CTX* ctx, bool on);
// sessionIdContext: sessions (and tickets) resume only where this matches
// (at most 32 bytes). rxnet's default is "rxnet"; Node's is a hash of argv.
bool set_session_id_context(SSL_CTX* ctx, const std::string& id, Failure* failure);
// SNI without a callback: a ClientHello naming `servername` ("*.example.com"
// matches one label) switches the handshake to `other`. Takes a reference.
bool add_servername_context(SSL_CTX* ctx, const std::string& servername, SSL_CTX* other);

// The verification callback SSL_set_verify installs: records and, unless
// the session rejects unauthorized peers, accepts.
int verify_callback(int preverify_ok, X509_STORE_CTX* store);

}  // namespace tls
}  // namespace rxnet

#endif  // RXNET_TLS_CONTEXT_H_
