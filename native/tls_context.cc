#include "tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace rxnet {
namespace tls {

namespace {

// What rxnet keeps in an SSL_CTX besides OpenSSL's own state; freed with the
// SSL_CTX's last reference (see free_context_data).
struct ContextData {
  // SNI without a callback: lower-case name or "*.suffix" -> context (a reference each).
  std::vector<std::pair<std::string, SSL_CTX*>> servernames;
  bool have_ticket_keys = false;
  unsigned char ticket_name[16];
  unsigned char ticket_hmac[16];
  unsigned char ticket_aes[16];
};

void free_context_data(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                       void* /*argp*/) {
  auto* data = static_cast<ContextData*>(ptr);
  if (data == nullptr) return;
  for (auto& entry : data->servernames) SSL_CTX_free(entry.second);
  OPENSSL_cleanse(data->ticket_hmac, sizeof data->ticket_hmac);
  OPENSSL_cleanse(data->ticket_aes, sizeof data->ticket_aes);
  delete data;
}

// The ex_data slot is a process-wide number OpenSSL hands out once; after
// that it is only read, so every environment (worker) may share it.
int context_index() {
  static std::once_flag once;
  static int index = -1;
  std::call_once(once, [] { index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_context_data); });
  return index;
}

ContextData* context_data(SSL_CTX* ctx, bool create) {
  int index = context_index();
  if (index < 0) return nullptr;
  auto* data = static_cast<ContextData*>(SSL_CTX_get_ex_data(ctx, index));
  if (data == nullptr && create) {
    data = new ContextData();
    if (SSL_CTX_set_ex_data(ctx, index, data) != 1) {
      delete data;
      return nullptr;
    }
  }
  return data;
}

SessionPolicy* policy(const SSL* ssl) { return static_cast<SessionPolicy*>(SSL_get_app_data(ssl)); }

std::string upper_code(const char* reason) {
  std::string code;
  for (const char* c = reason; *c != '\0'; c++) {
    code += *c == ' ' || *c == '-' ? '_' : static_cast<char>(toupper(static_cast<unsigned char>(*c)));
  }
  return code;
}

// Node's prefix per OpenSSL library (src/crypto/crypto_util.cc,
// OSSL_ERROR_CODES_MAP): ERR_SSL_<REASON> for libssl, ERR_OSSL_<LIB>_<REASON>
// for the others it names, ERR_OSSL_<REASON> for the rest (providers).
const char* library_prefix(int lib) {
  switch (lib) {
#define RXNET_LIB(name) \
  case ERR_LIB_##name:  \
    return #name "_";
    RXNET_LIB(SYS)
    RXNET_LIB(BN)
    RXNET_LIB(RSA)
    RXNET_LIB(DH)
    RXNET_LIB(EVP)
    RXNET_LIB(BUF)
    RXNET_LIB(OBJ)
    RXNET_LIB(PEM)
    RXNET_LIB(DSA)
    RXNET_LIB(X509)
    RXNET_LIB(ASN1)
    RXNET_LIB(CONF)
    RXNET_LIB(CRYPTO)
    RXNET_LIB(EC)
    RXNET_LIB(BIO)
    RXNET_LIB(PKCS7)
    RXNET_LIB(X509V3)
    RXNET_LIB(PKCS12)
    RXNET_LIB(RAND)
    RXNET_LIB(DSO)
    RXNET_LIB(OCSP)
    RXNET_LIB(UI)
    RXNET_LIB(COMP)
    RXNET_LIB(ECDSA)
    RXNET_LIB(ECDH)
    RXNET_LIB(OSSL_STORE)
    RXNET_LIB(CMS)
    RXNET_LIB(TS)
    RXNET_LIB(HMAC)
    RXNET_LIB(CT)
    RXNET_LIB(ASYNC)
    RXNET_LIB(KDF)
    RXNET_LIB(SM2)
    RXNET_LIB(USER)
#undef RXNET_LIB
    default:
      return "";
  }
}

// Node's names of X509 verification results (src/crypto/crypto_common.cc).
const char* x509_name(long result) {
  switch (result) {
#define RXNET_X509(name)   \
  case X509_V_ERR_##name: \
    return #name;
    RXNET_X509(UNABLE_TO_GET_ISSUER_CERT)
    RXNET_X509(UNABLE_TO_GET_CRL)
    RXNET_X509(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    RXNET_X509(UNABLE_TO_DECRYPT_CRL_SIGNATURE)
    RXNET_X509(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    RXNET_X509(CERT_SIGNATURE_FAILURE)
    RXNET_X509(CRL_SIGNATURE_FAILURE)
    RXNET_X509(CERT_NOT_YET_VALID)
    RXNET_X509(CERT_HAS_EXPIRED)
    RXNET_X509(CRL_NOT_YET_VALID)
    RXNET_X509(CRL_HAS_EXPIRED)
    RXNET_X509(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    RXNET_X509(ERROR_IN_CERT_NOT_AFTER_FIELD)
    RXNET_X509(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    RXNET_X509(ERROR_IN_CRL_NEXT_UPDATE_FIELD)
    RXNET_X509(OUT_OF_MEM)
    RXNET_X509(DEPTH_ZERO_SELF_SIGNED_CERT)
    RXNET_X509(SELF_SIGNED_CERT_IN_CHAIN)
    RXNET_X509(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    RXNET_X509(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    RXNET_X509(CERT_CHAIN_TOO_LONG)
    RXNET_X509(CERT_REVOKED)
    RXNET_X509(INVALID_CA)
    RXNET_X509(PATH_LENGTH_EXCEEDED)
    RXNET_X509(INVALID_PURPOSE)
    RXNET_X509(CERT_UNTRUSTED)
    RXNET_X509(CERT_REJECTED)
#undef RXNET_X509
    default:
      return "UNSPECIFIED";
  }
}

// The subjectAltName extension as Node prints it ("DNS:localhost, IP Address:127.0.0.1").
std::string altnames(X509* cert) {
  int i = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  if (i < 0) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  std::string out;
  if (X509V3_EXT_print(bio, X509_get_ext(cert, i), 0, 0) == 1) {
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio, &mem);
    if (mem != nullptr) out.assign(mem->data, mem->length);
  }
  BIO_free(bio);
  return out;
}

// The SNI host_name of a ClientHello (RFC 6066 3), lower-cased; "" if none.
std::string hello_servername(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) return "";
  size_t list = (static_cast<size_t>(p[0]) << 8) | p[1];
  if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name) return "";
  size_t n = (static_cast<size_t>(p[3]) << 8) | p[4];
  if (n == 0 || n + 5 > len) return "";
  std::string name(reinterpret_cast<const char*>(p + 5), n);
  for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return name;
}

SSL_CTX* servername_context(SSL_CTX* ctx, const std::string& name) {
  ContextData* data = context_data(ctx, false);
  if (data == nullptr || data->servernames.empty()) return nullptr;
  for (auto& entry : data->servernames) {
    if (entry.first == name) return entry.second;
  }
  size_t dot = name.find('.');
  if (dot == std::string::npos) return nullptr;
  std::string wildcard = "*" + name.substr(dot);
  for (auto& entry : data->servernames) {
    if (entry.first == wildcard) return entry.second;
  }
  return nullptr;
}

// Runs at the ClientHello, before anything is chosen: the place to switch
// the context (OpenSSL's SSL_CTX_set_client_hello_cb documents it for that).
// A JavaScript SNICallback pauses the handshake here (RETRY) and is asked;
// the handshake resumes through this same callback once it has answered.
int client_hello_callback(SSL* ssl, int* /*alert*/, void* /*arg*/) {
  SessionPolicy* p = policy(ssl);
  if (p == nullptr) return SSL_CLIENT_HELLO_SUCCESS;
  if (p->sni_answered) {
    if (p->sni_context != nullptr && SSL_set_SSL_CTX(ssl, p->sni_context) == nullptr) return SSL_CLIENT_HELLO_ERROR;
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  std::string name = hello_servername(ssl);
  if (name.empty()) return SSL_CLIENT_HELLO_SUCCESS;
  p->requested_servername = name;
  if (SSL_CTX* other = servername_context(SSL_get_SSL_CTX(ssl), name)) {
    if (SSL_set_SSL_CTX(ssl, other) == nullptr) return SSL_CLIENT_HELLO_ERROR;
  }
  if (p->sni_callback) {
    p->sni_waiting = true;
    return SSL_CLIENT_HELLO_RETRY;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// The server's choice: its first protocol the client offers. No overlap is a
// fatal no_application_protocol alert, as RFC 7301 3.2 asks and Node does
// since v19 (nodejs/node#44031).
int alpn_select_callback(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                         unsigned int inlen, void* /*arg*/) {
  SessionPolicy* p = policy(ssl);
  if (p == nullptr || p->alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  int r = SSL_select_next_proto(&selected, &selected_len, reinterpret_cast<const unsigned char*>(p->alpn.data()),
                                static_cast<unsigned int>(p->alpn.size()), in, inlen);
  if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
  // SAFETY: points into p->alpn, which lives as long as the session.
  *out = selected;
  *outlen = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

// Node's ticketKeys layout and cipher (AES-128-CBC, HMAC-SHA256), so that
// keys shared between node:tls and rxnet servers, or between the workers of
// one rxnet server, resume each other's sessions.
int ticket_key_callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int encrypt) {
  SessionPolicy* p = policy(ssl);
  ContextData* data = p != nullptr && p->initial_context != nullptr ? context_data(p->initial_context, false) : nullptr;
  if (data == nullptr || !data->have_ticket_keys) return encrypt ? -1 : 0;
  if (encrypt) {
    memcpy(key_name, data->ticket_name, sizeof data->ticket_name);
    if (RAND_bytes(iv, 16) <= 0 || EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, data->ticket_aes, iv) <= 0) {
      return -1;
    }
  } else {
    // Another key's ticket: not an error, just a full handshake.
    if (memcmp(key_name, data->ticket_name, sizeof data->ticket_name) != 0) return 0;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, data->ticket_aes, iv) <= 0) return -1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(mac, data->ticket_hmac, sizeof data->ticket_hmac, params) <= 0) return -1;
  return 1;
}

int version_number(const std::string& name) {
  if (name == "TLSv1") return TLS1_VERSION;
  if (name == "TLSv1.1") return TLS1_1_VERSION;
  if (name == "TLSv1.2") return TLS1_2_VERSION;
  if (name == "TLSv1.3") return TLS1_3_VERSION;
  return -1;
}

// PEM passwords come from the options, never from a terminal prompt (the
// default callback would read the controlling tty).
int passphrase_callback(char* buf, int size, int /*rwflag*/, void* u) {
  if (u == nullptr) return 0;
  const char* pass = static_cast<const char*>(u);
  size_t len = strlen(pass);
  if (len > static_cast<size_t>(size)) len = static_cast<size_t>(size);
  memcpy(buf, pass, len);
  return static_cast<int>(len);
}

BIO* pem_bio(const std::string& pem) { return BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())); }

bool fail(Failure* failure, const char* fallback) {
  *failure = failure_from_queue(fallback);
  return false;
}

}  // namespace

Failure failure_from_queue(const char* fallback) {
  Failure f;
  // The earliest error, as Node's ThrowCryptoError takes it (ERR_get_error):
  // the cause, where later entries are its consequences ("bad decrypt"
  // before "pkcs12 cipherfinal error").
  unsigned long e = ERR_peek_error();
  if (e == 0) {
    f.reason = fallback;
    f.code = "ERR_SSL_" + upper_code(fallback);
    f.message = fallback;
    return f;
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  f.message = buf;
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  f.library = lib != nullptr ? lib : "";
  f.reason = reason != nullptr ? reason : fallback;
  int lib_number = ERR_GET_LIB(e);
  f.code = lib_number == ERR_LIB_SSL ? "ERR_SSL_" : std::string("ERR_OSSL_") + library_prefix(lib_number);
  f.code += upper_code(f.reason.c_str());
  ERR_clear_error();
  return f;
}

Failure verify_failure(long result, SSL* ssl, const std::string& host) {
  Failure f;
  if (result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    // Node checks the name in JavaScript (tls.checkServerIdentity) and names
    // it so; rxnet lets OpenSSL check it during the handshake, so that a
    // rejected server also gets an alert, and names it the same.
    SessionPolicy* p = policy(ssl);
    std::string names = p != nullptr ? p->mismatched_altnames : "";
    if (names.empty()) {
      X509* cert = SSL_get1_peer_certificate(ssl);
      if (cert != nullptr) names = altnames(cert);
      if (cert != nullptr) X509_free(cert);
    }
    f.code = "ERR_TLS_CERT_ALTNAME_INVALID";
    f.reason = result == X509_V_ERR_IP_ADDRESS_MISMATCH ? "IP: " + host + " is not in the cert's list: " + names
                                                        : "Host: " + host + ". is not in the cert's altnames: " + names;
    f.message = "Hostname/IP does not match certificate's altnames: " + f.reason;
    f.host = host;
    return f;
  }
  f.code = x509_name(result);
  f.message = X509_verify_cert_error_string(result);
  return f;
}

SSL_CTX* new_context(Failure* failure) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr) {
    fail(failure, "context creation failed");
    return nullptr;
  }
  // OpenSSL 3 refuses client-initiated renegotiation already; this also
  // makes a client ignore a server's HelloRequest. Renegotiation is a DoS
  // lever (CVE-2011-1473) and TLS 1.3 has none.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Frees each connection's record buffers while it is idle (Node sets it
  // too): an idle TLS connection costs its SSL object, not 34 KiB of buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // As Node: no stateful server-side cache (it would grow with every full
  // handshake); resumption is by tickets, stateless, which OpenSSL issues by
  // default.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL |
                                          SSL_SESS_CACHE_NO_AUTO_CLEAR);
  // Required for resumption once client certificates are requested; one
  // value for every rxnet context so an SNI switch keeps sessions valid.
  static const unsigned char kSessionIdContext[] = "rxnet";
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  SSL_CTX_set_client_hello_cb(ctx, client_hello_callback, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select_callback, nullptr);
  return ctx;
}

bool set_protocol_range(SSL_CTX* ctx, const std::string& min, const std::string& max, Failure* failure) {
  ERR_clear_error();
  int lo = version_number(min), hi = version_number(max);
  if (lo < 0 || hi < 0) {
    failure->code = "ERR_TLS_INVALID_PROTOCOL_VERSION";
    failure->message = "not a TLS version: " + (lo < 0 ? min : max);
    return false;
  }
  if (SSL_CTX_set_min_proto_version(ctx, lo) != 1 || SSL_CTX_set_max_proto_version(ctx, hi) != 1) {
    return fail(failure, "bad protocol version");
  }
  return true;
}

bool set_ciphers(SSL_CTX* ctx, const std::string& ciphers, Failure* failure) {
  ERR_clear_error();
  std::string list, suites;
  size_t start = 0;
  while (start <= ciphers.size()) {
    size_t end = ciphers.find(':', start);
    if (end == std::string::npos) end = ciphers.size();
    std::string name = ciphers.substr(start, end - start);
    if (!name.empty()) {
      std::string& into = name.compare(0, 4, "TLS_") == 0 ? suites : list;
      if (!into.empty()) into += ':';
      into += name;
    }
    start = end + 1;
  }
  if (list.empty() && suites.empty()) {
    failure->code = "ERR_INVALID_ARG_VALUE";
    failure->message = "The argument 'ciphers' is invalid. Received '" + ciphers + "'";
    return false;
  }
  // As Node: TLSv1.3 suites are replaced only when some are named; an empty
  // TLSv1.2 list deliberately leaves only TLSv1.3 suites.
  if (!suites.empty() && SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) return fail(failure, "no cipher match");
  if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    if (!list.empty() || ERR_GET_REASON(ERR_peek_last_error()) != SSL_R_NO_CIPHER_MATCH) {
      return fail(failure, "no cipher match");
    }
    ERR_clear_error();
  }
  return true;
}

bool set_groups(SSL_CTX* ctx, const std::string& groups, Failure* failure) {
  ERR_clear_error();
  if (groups == "auto") return true;  // OpenSSL's default list, as Node's 'auto'
  if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) {
    ERR_clear_error();
    failure->code = "ERR_CRYPTO_OPERATION_FAILED";
    failure->message = "Failed to set ECDH curve";
    return false;
  }
  return true;
}

bool use_key(SSL_CTX* ctx, const std::string& pem, const char* passphrase, Failure* failure) {
  ERR_clear_error();
  BIO* bio = pem_bio(pem);
  if (bio == nullptr) return fail(failure, "out of memory");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, passphrase_callback, const_cast<char*>(passphrase));
  BIO_free(bio);
  if (key == nullptr) return fail(failure, "bad private key");
  int ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1) return fail(failure, "key values mismatch");
  return true;
}

bool use_certificate_chain(SSL_CTX* ctx, const std::string& pem, Failure* failure) {
  ERR_clear_error();
  BIO* bio = pem_bio(pem);
  if (bio == nullptr) return fail(failure, "out of memory");
  X509* leaf = PEM_read_bio_X509_AUX(bio, nullptr, passphrase_callback, nullptr);
  if (leaf == nullptr) {
    BIO_free(bio);
    return fail(failure, "no certificate");
  }
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) {
    BIO_free(bio);
    return fail(failure, "bad certificate");
  }
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, passphrase_callback, nullptr)) {
    // add0: the context takes this reference.
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      BIO_free(bio);
      return fail(failure, "bad chain certificate");
    }
  }
  BIO_free(bio);
  // The loop ended at the end of the PEM text, which OpenSSL queues as an error.
  ERR_clear_error();
  return true;
}

bool add_ca(SSL_CTX* ctx, const std::string& pem, bool client_names, Failure* failure) {
  ERR_clear_error();
  BIO* bio = pem_bio(pem);
  if (bio == nullptr) return fail(failure, "out of memory");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, passphrase_callback, nullptr)) {
    X509_STORE_add_cert(store, cert);
    if (client_names) SSL_CTX_add_client_CA(ctx, cert);
    X509_free(cert);
    added++;
  }
  BIO_free(bio);
  if (added == 0) return fail(failure, "no certificate");
  ERR_clear_error();
  return true;
}

void set_session_timeout(SSL_CTX* ctx, long seconds) { SSL_CTX_set_timeout(ctx, seconds); }

bool set_ticket_keys(SSL_CTX* ctx, const unsigned char* keys, size_t length, Failure* failure) {
  ContextData* data = context_data(ctx, true);
  if (length != 48 || data == nullptr) {
    failure->code = "ERR_INVALID_ARG_VALUE";
    failure->message = "ticketKeys must be 48 bytes";
    return false;
  }
  memcpy(data->ticket_name, keys, 16);
  memcpy(data->ticket_hmac, keys + 16, 16);
  memcpy(data->ticket_aes, keys + 32, 16);
  data->have_ticket_keys = true;
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_callback);
  return true;
}

void set_honor_cipher_order(SSL_CTX* ctx, bool on) {
  if (on) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  } else {
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
}

bool set_session_id_context(SSL_CTX* ctx, const std::string& id, Failure* failure) {
  ERR_clear_error();
  if (id.empty() || id.size() > SSL_MAX_SID_CTX_LENGTH ||
      SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(id.data()),
                                     static_cast<unsigned int>(id.size())) != 1) {
    failure->code = "ERR_INVALID_ARG_VALUE";
    failure->message = "sessionIdContext must be 1 to 32 bytes";
    ERR_clear_error();
    return false;
  }
  return true;
}

bool add_servername_context(SSL_CTX* ctx, const std::string& servername, SSL_CTX* other) {
  ContextData* data = context_data(ctx, true);
  if (data == nullptr) return false;
  std::string name = servername;
  for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  SSL_CTX_up_ref(other);
  for (auto& entry : data->servernames) {
    if (entry.first == name) {
      SSL_CTX_free(entry.second);
      entry.second = other;
      return true;
    }
  }
  data->servernames.emplace_back(name, other);
  return true;
}

int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SessionPolicy* p = ssl != nullptr ? policy(ssl) : nullptr;
  int error = X509_STORE_CTX_get_error(store);
  if (p != nullptr && (error == X509_V_ERR_HOSTNAME_MISMATCH || error == X509_V_ERR_IP_ADDRESS_MISMATCH)) {
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) p->mismatched_altnames = altnames(cert);
  }
  // Accepting keeps the failure in SSL_get_verify_result for
  // authorizationError, as node:tls does; rejecting fails the handshake
  // with the alert the failure calls for.
  return p != nullptr && !p->reject_unauthorized ? 1 : 0;
}

}  // namespace tls
}  // namespace rxnet
