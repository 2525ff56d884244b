#include "tls_addon.h"

#include <errno.h>
#include <sys/uio.h>

#include <string>

#include "abi.h"
#include "tls.h"
#include "tls_context.h"

namespace rxnet {
namespace tls_js {

namespace {

using Napi::CallbackInfo;
using Napi::Value;

// Marks SecureContext objects, so a misuse of this private binding (another
// wrapped object where a context belongs) is refused instead of crashing.
const napi_type_tag kSecureContextTag = {0x7278'6e65'742d'746cULL, 0x732d'6374'7800'0001ULL};

Value Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }
// For a CallbackInfo (SecureContext's methods) or an Args (the TLS calls).
template <class A>
int32_t I32(const A& info, size_t i) { return info[i].template As<Napi::Number>().Int32Value(); }
template <class A>
int64_t I64(const A& info, size_t i) { return info[i].template As<Napi::Number>().Int64Value(); }

// A string or a Uint8Array's bytes (PEM text, a session, ALPN wire format).
std::string Bytes(const Napi::Value& v) {
  if (v.IsTypedArray()) {
    auto u8 = v.As<Napi::Uint8Array>();
    return std::string(reinterpret_cast<const char*>(u8.Data()), u8.ByteLength());
  }
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  return std::string();
}

// [code, message, library, reason, host]
Value FailureValue(Napi::Env env, const tls::Failure& f) {
  auto arr = Napi::Array::New(env, 5);
  arr.Set(0u, Napi::String::New(env, f.code));
  arr.Set(1u, Napi::String::New(env, f.message));
  arr.Set(2u, Napi::String::New(env, f.library));
  arr.Set(3u, Napi::String::New(env, f.reason));
  arr.Set(4u, Napi::String::New(env, f.host));
  return arr;
}

Value Result(Napi::Env env, bool ok, const tls::Failure& f) { return ok ? env.Undefined() : FailureValue(env, f); }

// The context JavaScript holds. Its SSL_CTX reference is released when the
// object is collected (or its environment ends); sessions made from it hold
// references of their own.
class SecureContext final : public Napi::ObjectWrap<SecureContext> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SecureContext",
                       {
                           InstanceMethod<&SecureContext::SetProtocols>("setProtocols"),
                           InstanceMethod<&SecureContext::SetCiphers>("setCiphers"),
                           InstanceMethod<&SecureContext::SetGroups>("setGroups"),
                           InstanceMethod<&SecureContext::SetCert>("setCert"),
                           InstanceMethod<&SecureContext::SetKey>("setKey"),
                           InstanceMethod<&SecureContext::AddCA>("addCA"),
                           InstanceMethod<&SecureContext::SetSessionTimeout>("setSessionTimeout"),
                           InstanceMethod<&SecureContext::SetTicketKeys>("setTicketKeys"),
                           InstanceMethod<&SecureContext::SetHonorCipherOrder>("setHonorCipherOrder"),
                           InstanceMethod<&SecureContext::SetSessionIdContext>("setSessionIdContext"),
                           InstanceMethod<&SecureContext::AddServername>("addServername"),
                       });
  }

  explicit SecureContext(const CallbackInfo& info) : Napi::ObjectWrap<SecureContext>(info) {
    tls::Failure f;
    ctx_ = tls::new_context(&f);
    if (ctx_ == nullptr) {
      Napi::Error e = Napi::Error::New(info.Env(), f.message);
      e.Set("code", Napi::String::New(info.Env(), f.code));
      e.ThrowAsJavaScriptException();
      return;
    }
    napi_type_tag_object(info.Env(), info.This(), &kSecureContextTag);
  }

  ~SecureContext() override {
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  // The context of a JavaScript SecureContext, or nullptr for anything else.
  static SSL_CTX* From(Napi::Env env, const Napi::Value& v) {
    if (!v.IsObject()) return nullptr;
    bool tagged = false;
    if (napi_check_object_type_tag(env, v, &kSecureContextTag, &tagged) != napi_ok || !tagged) return nullptr;
    return Unwrap(v.As<Napi::Object>())->ctx_;
  }

 private:
  // setProtocols(min, max)
  Napi::Value SetProtocols(const CallbackInfo& info) {
    tls::Failure f;
    bool ok = tls::set_protocol_range(ctx_, info[0].As<Napi::String>().Utf8Value(),
                                      info[1].As<Napi::String>().Utf8Value(), &f);
    return Result(info.Env(), ok, f);
  }

  Napi::Value SetCiphers(const CallbackInfo& info) {
    tls::Failure f;
    return Result(info.Env(), tls::set_ciphers(ctx_, info[0].As<Napi::String>().Utf8Value(), &f), f);
  }

  Napi::Value SetGroups(const CallbackInfo& info) {
    tls::Failure f;
    return Result(info.Env(), tls::set_groups(ctx_, info[0].As<Napi::String>().Utf8Value(), &f), f);
  }

  Napi::Value SetCert(const CallbackInfo& info) {
    tls::Failure f;
    return Result(info.Env(), tls::use_certificate_chain(ctx_, Bytes(info[0]), &f), f);
  }

  // setKey(pem, passphrase?)
  Napi::Value SetKey(const CallbackInfo& info) {
    tls::Failure f;
    std::string pass;
    bool has_pass = info.Length() > 1 && info[1].IsString();
    if (has_pass) pass = info[1].As<Napi::String>().Utf8Value();
    bool ok = tls::use_key(ctx_, Bytes(info[0]), has_pass ? pass.c_str() : nullptr, &f);
    return Result(info.Env(), ok, f);
  }

  // addCA(pem, nameToClients)
  Napi::Value AddCA(const CallbackInfo& info) {
    tls::Failure f;
    bool names = info.Length() > 1 && info[1].ToBoolean().Value();
    return Result(info.Env(), tls::add_ca(ctx_, Bytes(info[0]), names, &f), f);
  }

  Napi::Value SetSessionTimeout(const CallbackInfo& info) {
    tls::set_session_timeout(ctx_, static_cast<long>(I64(info, 0)));
    return info.Env().Undefined();
  }

  Napi::Value SetTicketKeys(const CallbackInfo& info) {
    tls::Failure f;
    std::string keys = Bytes(info[0]);
    bool ok = tls::set_ticket_keys(ctx_, reinterpret_cast<const unsigned char*>(keys.data()), keys.size(), &f);
    return Result(info.Env(), ok, f);
  }

  Napi::Value SetHonorCipherOrder(const CallbackInfo& info) {
    tls::set_honor_cipher_order(ctx_, info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }

  Napi::Value SetSessionIdContext(const CallbackInfo& info) {
    tls::Failure f;
    return Result(info.Env(), tls::set_session_id_context(ctx_, Bytes(info[0]), &f), f);
  }

  // addServername(name, context)
  Napi::Value AddServername(const CallbackInfo& info) {
    SSL_CTX* other = From(info.Env(), info[1]);
    tls::Failure f;
    f.code = "ERR_INVALID_ARG_TYPE";
    f.message = "not a SecureContext";
    bool ok = other != nullptr && tls::add_servername_context(ctx_, info[0].As<Napi::String>().Utf8Value(), other);
    return Result(info.Env(), ok, f);
  }

  SSL_CTX* ctx_ = nullptr;
};

// status[0] = ciphertext waiting in the session, after an operation that may send.
void SetPending(const Args& info, size_t i, TlsStage* stage, int fd) {
  if (info.Length() <= i || !info[i].IsTypedArray()) return;
  auto status = info[i].As<Napi::Float64Array>();
  if (status.ElementLength() >= 1) status[0] = static_cast<double>(stage->pending(fd));
}

}  // namespace

// tlsAttach(fd, context, flags, servername, verifyHost, alpn?, session?) -> 0 | -errno
Value tlsAttach(Reactor* reactor, const Args& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) return Num(env, -EINVAL);
  SSL_CTX* ctx = SecureContext::From(env, info[1]);
  TlsStage* stage = reactor->tls();
  if (ctx == nullptr) return Num(env, -EINVAL);
  if (stage == nullptr) return Num(env, -ENOMEM);
  uint32_t flags = info[2].As<Napi::Number>().Uint32Value();
  TlsSessionOptions o;
  o.server = (flags & RX_TLS_ATTACH_SERVER) != 0;
  o.request_cert = (flags & RX_TLS_ATTACH_REQUEST_CERT) != 0;
  o.reject_unauthorized = (flags & RX_TLS_ATTACH_REJECT_UNAUTHORIZED) != 0;
  o.sni_callback = (flags & RX_TLS_ATTACH_SNI_CALLBACK) != 0;
  o.servername = Bytes(info[3]);
  o.verify_host = Bytes(info[4]);
  if (info.Length() > 5) o.alpn = Bytes(info[5]);
  if (info.Length() > 6) o.session = Bytes(info[6]);
  tls::Failure f;
  return Num(env, stage->attach(I32(info, 0), ctx, o, &f));
}

Value tlsDetach(Reactor* reactor, const Args& info) {
  if (TlsStage* stage = reactor->tls()) stage->detach(I32(info, 0));
  return info.Env().Undefined();
}

// tlsHandshake(fd, status) -> RX_TLS_* bits | -errno
Value tlsHandshake(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  if (stage == nullptr) return Num(info.Env(), -ENOMEM);
  int fd = I32(info, 0);
  int64_t r = stage->handshake(fd);
  SetPending(info, 1, stage, fd);
  return Num(info.Env(), static_cast<double>(r));
}

// tlsWrite(fd, Uint8Array[], status) -> plaintext bytes taken | -errno
Value tlsWrite(Reactor* reactor, const Args& info) {
  Napi::Env env = info.Env();
  TlsStage* stage = reactor->tls();
  if (stage == nullptr) return Num(env, -ENOMEM);
  if (info.Length() < 2 || !info[1].IsArray()) return Num(env, -EINVAL);
  auto arr = info[1].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > RX_IOV_MAX) n = RX_IOV_MAX;
  struct iovec iov[RX_IOV_MAX];
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsTypedArray()) return Num(env, -EINVAL);
    auto u8 = v.As<Napi::Uint8Array>();
    iov[i].iov_base = u8.Data();
    iov[i].iov_len = u8.ByteLength();
  }
  int fd = I32(info, 0);
  int64_t r = stage->write(fd, iov, static_cast<int>(n));
  SetPending(info, 2, stage, fd);
  return Num(env, static_cast<double>(r));
}

// tlsSendFile(fd, fileFd, offset, count, status) -> file bytes taken | 0 at EOF | -errno
Value tlsSendFile(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  if (stage == nullptr) return Num(info.Env(), -ENOMEM);
  int fd = I32(info, 0);
  int64_t count = I64(info, 3);
  if (count < 0) return Num(info.Env(), -EINVAL);
  int64_t r = stage->send_file(fd, I32(info, 1), I64(info, 2), count);
  SetPending(info, 4, stage, fd);
  return Num(info.Env(), static_cast<double>(r));
}

// tlsShutdown(fd, status) -> 0 | -errno
Value tlsShutdown(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  if (stage == nullptr) return Num(info.Env(), -ENOMEM);
  int fd = I32(info, 0);
  int r = stage->shutdown(fd);
  SetPending(info, 1, stage, fd);
  return Num(info.Env(), r);
}

Value tlsPending(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  return Num(info.Env(), stage == nullptr ? 0 : static_cast<double>(stage->pending(I32(info, 0))));
}

// tlsInfo(fd) -> [protocol, cipher, standardName, cipherVersion, alpn, servername,
//                 authorized, authorizationError, sessionReused, peerCertificate?] | undefined
Value tlsInfo(Reactor* reactor, const Args& info) {
  Napi::Env env = info.Env();
  TlsStage* stage = reactor->tls();
  TlsInfo ti;
  if (stage == nullptr || !stage->info(I32(info, 0), &ti)) return env.Undefined();
  auto arr = Napi::Array::New(env, 10);
  arr.Set(0u, Napi::String::New(env, ti.protocol));
  arr.Set(1u, Napi::String::New(env, ti.cipher));
  arr.Set(2u, Napi::String::New(env, ti.cipher_standard));
  arr.Set(3u, Napi::String::New(env, ti.cipher_version));
  arr.Set(4u, Napi::String::New(env, ti.alpn));
  arr.Set(5u, Napi::String::New(env, ti.servername));
  arr.Set(6u, Napi::Boolean::New(env, ti.peer_verified));
  arr.Set(7u, Napi::String::New(env, ti.authorization_error));
  arr.Set(8u, Napi::Boolean::New(env, ti.session_reused));
  if (!ti.peer_certificate.empty()) {
    arr.Set(9u, Napi::Buffer<char>::Copy(env, ti.peer_certificate.data(), ti.peer_certificate.size()));
  }
  return arr;
}

// tlsError(fd) -> [code, message, library, reason, host] | undefined
Value tlsError(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  const tls::Failure* f = stage != nullptr ? stage->failure(I32(info, 0)) : nullptr;
  return f == nullptr ? info.Env().Undefined() : FailureValue(info.Env(), *f);
}

// tlsSession(fd) -> Buffer | undefined
Value tlsSession(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  std::string bytes;
  if (stage == nullptr || !stage->session_bytes(I32(info, 0), &bytes)) return info.Env().Undefined();
  return Napi::Buffer<char>::Copy(info.Env(), bytes.data(), bytes.size());
}

// tlsServername(fd) -> the SNI name a paused handshake asks about ("" for none)
Value tlsServername(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  const std::string* name = stage != nullptr ? stage->requested_servername(I32(info, 0)) : nullptr;
  return Napi::String::New(info.Env(), name != nullptr ? *name : "");
}

// tlsUseContext(fd, context | null) -> 0 | -errno
Value tlsUseContext(Reactor* reactor, const Args& info) {
  TlsStage* stage = reactor->tls();
  if (stage == nullptr) return Num(info.Env(), -ENOMEM);
  SSL_CTX* ctx = nullptr;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) {
    ctx = SecureContext::From(info.Env(), info[1]);
    if (ctx == nullptr) return Num(info.Env(), -EINVAL);
  }
  return Num(info.Env(), stage->use_context(I32(info, 0), ctx));
}

void Init(Napi::Env env, Napi::Object exports, Napi::Object constants) {
  exports.Set("SecureContext", SecureContext::Define(env));
  auto num = [&](const char* name, double v) { constants.Set(name, v); };
  num("TOKEN_TLS", RX_TOKEN_TLS);
  num("TLS_HANDSHAKE_DONE", RX_TLS_HANDSHAKE_DONE);
  num("TLS_END", RX_TLS_END);
  num("TLS_FAILED", RX_TLS_FAILED);
  num("TLS_WANT_WRITE", RX_TLS_WANT_WRITE);
  num("TLS_SERVERNAME", RX_TLS_SERVERNAME);
  num("TLS_RECORD_PLAINTEXT", static_cast<double>(RX_TLS_RECORD_PLAINTEXT));
  num("TLS_WRITE_ROUND", static_cast<double>(RX_TLS_WRITE_ROUND));
  num("TLS_ATTACH_SERVER", RX_TLS_ATTACH_SERVER);
  num("TLS_ATTACH_REQUEST_CERT", RX_TLS_ATTACH_REQUEST_CERT);
  num("TLS_ATTACH_REJECT_UNAUTHORIZED", RX_TLS_ATTACH_REJECT_UNAUTHORIZED);
  num("TLS_ATTACH_SNI_CALLBACK", RX_TLS_ATTACH_SNI_CALLBACK);
}

}  // namespace tls_js
}  // namespace rxnet
