// N-API glue: the only file that knows about JavaScript values. Entry points
// are named JS_*; they unpack arguments, call reactor.cc or sys.cc and return
// numbers (>= 0 or -errno) without throwing. Argument checking with precise
// messages happens in TypeScript (reactor/sys.ts) before any call gets here,
// the better-sqlite3 way; the checks below only keep a misuse of this private
// binding from crashing the process.
//
// No mutable globals: every piece of state belongs to a Reactor, which belongs
// to one environment (the main thread or one worker).
#include <napi.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#include <string>
#include <vector>

#include "reactor.h"
#include "sys.h"

namespace rxnet {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

int32_t I32(const CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
int64_t I64(const CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

Value Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

bool Bad(const CallbackInfo& info, size_t argc) {
  if (info.Length() < argc) {
    Napi::TypeError::New(info.Env(), "rxnet native: too few arguments").ThrowAsJavaScriptException();
    return true;
  }
  return false;
}

// A Uint8Array argument as pointer + length, with (offset, length) checked
// against its bounds.
bool Bytes(const CallbackInfo& info, size_t i, size_t off_i, size_t len_i, uint8_t** data,
           size_t* len) {
  if (!info[i].IsTypedArray()) {
    Napi::TypeError::New(info.Env(), "rxnet native: expected a Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  auto arr = info[i].As<Napi::Uint8Array>();
  int64_t off = I64(info, off_i), n = I64(info, len_i);
  if (off < 0 || n < 0 || static_cast<size_t>(off + n) > arr.ByteLength()) {
    Napi::RangeError::New(info.Env(), "rxnet native: range outside the buffer").ThrowAsJavaScriptException();
    return false;
  }
  *data = arr.Data() + off;
  *len = static_cast<size_t>(n);
  return true;
}

Reactor* ReactorOf(const CallbackInfo& info) {
  return info[0].As<Napi::External<Reactor>>().Data();
}

sys::Address AddressArg(const CallbackInfo& info, size_t i) {
  sys::Address a;
  a.family = I32(info, i);
  a.host = info[i + 1].As<Napi::String>().Utf8Value();
  a.port = I32(info, i + 2);
  return a;
}

// [family, host, port]
Value AddressValue(Napi::Env env, const sys::Address& a) {
  auto arr = Napi::Array::New(env, 3);
  arr.Set(0u, Num(env, a.family));
  arr.Set(1u, Napi::String::New(env, a.host));
  arr.Set(2u, Num(env, a.port));
  return arr;
}

// ---- reactor ---------------------------------------------------------------

// Backends that can actually be created on this machine, best first.
Value JS_backends(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env);
  using Factory = Backend* (*)(int*);
  const Factory factories[] = {create_epoll_backend, create_kqueue_backend, create_poll_backend,
                               create_select_backend};
  uint32_t n = 0;
  for (Factory f : factories) {
    int err = 0;
    Backend* b = f(&err);
    if (b == nullptr) continue;
    out.Set(n++, Napi::String::New(env, b->name()));
    delete b;
  }
  return out;
}

// createReactor(backend, tokens, events, offsets, lengths, arena, dgramMeta,
//               dgramAddrs, callback) -> External | -errno
Value JS_createReactor(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 9)) return env.Undefined();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  auto tokens = info[1].As<Napi::Uint32Array>();
  auto events = info[2].As<Napi::Uint32Array>();
  auto offsets = info[3].As<Napi::Uint32Array>();
  auto lengths = info[4].As<Napi::Int32Array>();
  auto arena = info[5].As<Napi::Uint8Array>();
  auto dgram_meta = info[6].As<Napi::Int32Array>();
  auto dgram_addrs = info[7].As<Napi::Uint8Array>();
  size_t cap = tokens.ElementLength();
  size_t dgram_cap = dgram_meta.ElementLength() / kDgramMetaFields;
  if (cap == 0 || events.ElementLength() != cap || offsets.ElementLength() != cap ||
      lengths.ElementLength() != cap || dgram_addrs.ByteLength() < dgram_cap * 16 ||
      !info[8].IsFunction()) {
    Napi::TypeError::New(env, "rxnet native: bad batch views").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BatchViews views{tokens.Data(),      events.Data(),      offsets.Data(),
                   lengths.Data(),     arena.Data(),       arena.ByteLength(),
                   static_cast<int>(cap), dgram_meta.Data(), dgram_addrs.Data(),
                   static_cast<int>(dgram_cap)};
  // One array keeps every view alive for as long as the reactor writes to them.
  auto keep = Napi::Array::New(env, 7);
  for (uint32_t i = 0; i < 7; i++) keep.Set(i, info[i + 1]);
  int err = 0;
  Reactor* r = Reactor::Create(env, name.c_str(), views, info[8], keep, &err);
  if (r == nullptr) return Num(env, err);
  return Napi::External<Reactor>::New(env, r);
}

Value JS_reactorAdd(const CallbackInfo& info) {
  return Num(info.Env(), ReactorOf(info)->add(I32(info, 1), info[2].As<Napi::Number>().Uint32Value(),
                                              I32(info, 3)));
}

Value JS_reactorModify(const CallbackInfo& info) {
  return Num(info.Env(), ReactorOf(info)->modify(I32(info, 1), info[2].As<Napi::Number>().Uint32Value(),
                                                 I32(info, 3)));
}

Value JS_reactorRemove(const CallbackInfo& info) {
  return Num(info.Env(), ReactorOf(info)->remove(I32(info, 1)));
}

Value JS_reactorDatagramSize(const CallbackInfo& info) {
  ReactorOf(info)->set_datagram_size(I32(info, 1), info[2].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Value JS_reactorClose(const CallbackInfo& info) {
  ReactorOf(info)->close();
  return info.Env().Undefined();
}

Value JS_reactorBackend(const CallbackInfo& info) {
  return Napi::String::New(info.Env(), ReactorOf(info)->backend_name());
}

Value JS_reactorFdLimit(const CallbackInfo& info) {
  return Num(info.Env(), ReactorOf(info)->fd_limit());
}

// reactorStats(handle, Float64Array(5)): wakeups, events, maxBatch,
// registrations, bytesRead.
Value JS_reactorStats(const CallbackInfo& info) {
  const ReactorStats& s = ReactorOf(info)->stats();
  auto out = info[1].As<Napi::Float64Array>();
  if (out.ElementLength() >= 5) {
    out[0] = s.wakeups;
    out[1] = s.events;
    out[2] = s.max_batch;
    out[3] = s.registrations;
    out[4] = s.bytes_read;
  }
  return info.Env().Undefined();
}

// ---- sys -------------------------------------------------------------------

Value JS_socket(const CallbackInfo& info) {
  return Num(info.Env(), sys::socket(I32(info, 0), I32(info, 1)));
}

Value JS_bind(const CallbackInfo& info) {
  if (Bad(info, 4)) return info.Env().Undefined();
  return Num(info.Env(), sys::bind(I32(info, 0), AddressArg(info, 1)));
}

Value JS_listen(const CallbackInfo& info) {
  return Num(info.Env(), sys::listen(I32(info, 0), I32(info, 1)));
}

Value JS_accept(const CallbackInfo& info) { return Num(info.Env(), sys::accept(I32(info, 0))); }

Value JS_connect(const CallbackInfo& info) {
  if (Bad(info, 4)) return info.Env().Undefined();
  return Num(info.Env(), sys::connect(I32(info, 0), AddressArg(info, 1)));
}

// read(fd, u8, offset, length)
Value JS_read(const CallbackInfo& info) {
  uint8_t* p;
  size_t n;
  if (Bad(info, 4) || !Bytes(info, 1, 2, 3, &p, &n)) return info.Env().Undefined();
  return Num(info.Env(), static_cast<double>(sys::read(I32(info, 0), p, n)));
}

// write(fd, u8, offset, length)
Value JS_write(const CallbackInfo& info) {
  uint8_t* p;
  size_t n;
  if (Bad(info, 4) || !Bytes(info, 1, 2, 3, &p, &n)) return info.Env().Undefined();
  return Num(info.Env(), static_cast<double>(sys::write(I32(info, 0), p, n)));
}

// writev(fd, Uint8Array[]) — at most IOV_MAX chunks are taken; the return
// value says how many bytes went out, as writev(2) does.
Value JS_writev(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 2) || !info[1].IsArray()) return env.Undefined();
  auto arr = info[1].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > 1024) n = 1024;
  struct iovec iov[1024];
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsTypedArray()) {
      Napi::TypeError::New(env, "rxnet native: expected Uint8Array chunks").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto u8 = v.As<Napi::Uint8Array>();
    iov[i].iov_base = u8.Data();
    iov[i].iov_len = u8.ByteLength();
  }
  return Num(env, static_cast<double>(sys::writev(I32(info, 0), iov, static_cast<int>(n))));
}

// recvfrom(fd, u8, offset, length) -> -errno | [bytes, family, host, port, truncated]
Value JS_recvfrom(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  size_t n;
  if (Bad(info, 4) || !Bytes(info, 1, 2, 3, &p, &n)) return env.Undefined();
  sys::Address from;
  bool truncated = false;
  ssize_t r = sys::recvfrom(I32(info, 0), p, n, &from, &truncated);
  if (r < 0) return Num(env, static_cast<double>(r));
  auto out = Napi::Array::New(env, 5);
  out.Set(0u, Num(env, static_cast<double>(r)));
  out.Set(1u, Num(env, from.family));
  out.Set(2u, Napi::String::New(env, from.host));
  out.Set(3u, Num(env, from.port));
  out.Set(4u, Napi::Boolean::New(env, truncated));
  return out;
}

// sendto(fd, u8, offset, length, family, host, port)
Value JS_sendto(const CallbackInfo& info) {
  uint8_t* p;
  size_t n;
  if (Bad(info, 7) || !Bytes(info, 1, 2, 3, &p, &n)) return info.Env().Undefined();
  return Num(info.Env(), static_cast<double>(sys::sendto(I32(info, 0), p, n, AddressArg(info, 4))));
}

Value JS_shutdown(const CallbackInfo& info) {
  return Num(info.Env(), sys::shutdown(I32(info, 0), I32(info, 1)));
}

Value JS_close(const CallbackInfo& info) { return Num(info.Env(), sys::close(I32(info, 0))); }

Value JS_getsockname(const CallbackInfo& info) {
  sys::Address a;
  int r = sys::getsockname(I32(info, 0), &a);
  return r < 0 ? Num(info.Env(), r) : AddressValue(info.Env(), a);
}

Value JS_getpeername(const CallbackInfo& info) {
  sys::Address a;
  int r = sys::getpeername(I32(info, 0), &a);
  return r < 0 ? Num(info.Env(), r) : AddressValue(info.Env(), a);
}

sys::Option OptionArg(const CallbackInfo& info, size_t i) {
  std::string name = info[i].As<Napi::String>().Utf8Value();
  for (int k = 0; k < sys::OPT_COUNT; k++) {
    if (name == sys::kOptionNames[k]) return static_cast<sys::Option>(k);
  }
  return sys::OPT_COUNT;
}

// setsockopt(fd, name, value) -> 0 | -errno
Value JS_setsockopt(const CallbackInfo& info) {
  sys::Option opt = OptionArg(info, 1);
  if (opt == sys::OPT_COUNT) return Num(info.Env(), -ENOPROTOOPT);
  return Num(info.Env(), sys::setsockopt(I32(info, 0), opt, I32(info, 2)));
}

// getsockopt(fd, name) -> [0, value] | [-errno, 0]
Value JS_getsockopt(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  sys::Option opt = OptionArg(info, 1);
  int value = 0;
  int r = opt == sys::OPT_COUNT ? -ENOPROTOOPT : sys::getsockopt(I32(info, 0), opt, &value);
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Num(env, r));
  out.Set(1u, Num(env, value));
  return out;
}

// membership(fd, family, group, iface, add) -> 0 | -errno
Value JS_membership(const CallbackInfo& info) {
  if (Bad(info, 5)) return info.Env().Undefined();
  return Num(info.Env(), sys::membership(I32(info, 0), I32(info, 1), info[2].As<Napi::String>().Utf8Value(),
                                         info[3].As<Napi::String>().Utf8Value(), info[4].ToBoolean().Value()));
}

// sendfile(outFd, inFd, offset, count)
Value JS_sendfile(const CallbackInfo& info) {
  int64_t count = I64(info, 3);
  if (count < 0) return Num(info.Env(), -EINVAL);
  return Num(info.Env(), static_cast<double>(sys::sendfile(I32(info, 0), I32(info, 1), I64(info, 2),
                                                            static_cast<size_t>(count))));
}

// sendDatagrams(fd, chunks: Uint8Array[], families: Int32Array, hosts: string[],
//               ports: Int32Array, start, count) -> datagrams sent | -errno
// Sends chunks[start, start+count) with sendmmsg where available; the caller
// calls again for what was not sent.
Value JS_sendDatagrams(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 7)) return env.Undefined();
  int fd = I32(info, 0);
  auto chunks = info[1].As<Napi::Array>();
  auto families = info[2].As<Napi::Int32Array>();
  auto hosts = info[3].As<Napi::Array>();
  auto ports = info[4].As<Napi::Int32Array>();
  int start = I32(info, 5), count = I32(info, 6);
  if (count > 64) count = 64;
  if (start < 0 || count <= 0 || static_cast<size_t>(start + count) > families.ElementLength() ||
      static_cast<size_t>(start + count) > ports.ElementLength()) {
    return Num(env, -EINVAL);
  }
  sys::Datagram msgs[64];
  for (int i = 0; i < count; i++) {
    Napi::Value v = chunks.Get(static_cast<uint32_t>(start + i));
    if (!v.IsTypedArray()) return Num(env, -EINVAL);
    auto u8 = v.As<Napi::Uint8Array>();
    msgs[i].data = u8.Data();
    msgs[i].capacity = u8.ByteLength();
    sys::Address a;
    a.family = families[start + i];
    a.host = hosts.Get(static_cast<uint32_t>(start + i)).As<Napi::String>().Utf8Value();
    a.port = ports[start + i];
    int len = sys::to_sockaddr(a, &msgs[i].addr);
    if (len < 0) return Num(env, len);
    msgs[i].addr_len = static_cast<socklen_t>(len);
  }
  return Num(env, sys::send_datagrams(fd, msgs, count));
}

Napi::Object Constants(Napi::Env env) {
  auto c = Napi::Object::New(env);
  c.Set("AF_INET", static_cast<double>(AF_INET));
  c.Set("AF_INET6", static_cast<double>(AF_INET6));
  c.Set("AF_UNIX", static_cast<double>(AF_UNIX));
  c.Set("SOCK_STREAM", static_cast<double>(SOCK_STREAM));
  c.Set("SOCK_DGRAM", static_cast<double>(SOCK_DGRAM));
  c.Set("SHUT_RD", static_cast<double>(SHUT_RD));
  c.Set("SHUT_WR", static_cast<double>(SHUT_WR));
  c.Set("SHUT_RDWR", static_cast<double>(SHUT_RDWR));
  c.Set("READABLE", static_cast<double>(RX_READABLE));
  c.Set("WRITABLE", static_cast<double>(RX_WRITABLE));
  c.Set("HANGUP", static_cast<double>(RX_HANGUP));
  c.Set("ERROR", static_cast<double>(RX_ERROR));
  c.Set("READ_TOKEN", static_cast<double>(kReadToken));
  c.Set("DGRAM_TOKEN", static_cast<double>(kDgramToken));
  c.Set("OWNED_TOKEN", static_cast<double>(kOwnedToken));
  c.Set("DGRAM_BUDGET", static_cast<double>(kDgramBudget));
  c.Set("NOT_READ", static_cast<double>(kNotRead));
  c.Set("READ_BUDGET", static_cast<double>(kReadBudget));
#ifdef SO_REUSEPORT
  c.Set("HAVE_REUSEPORT", true);
#else
  c.Set("HAVE_REUSEPORT", false);
#endif
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#define EXPORT(name) exports.Set(#name, Napi::Function::New(env, JS_##name, #name))
  EXPORT(backends);
  EXPORT(createReactor);
  EXPORT(reactorAdd);
  EXPORT(reactorModify);
  EXPORT(reactorRemove);
  EXPORT(reactorClose);
  EXPORT(reactorDatagramSize);
  EXPORT(sendDatagrams);
  EXPORT(reactorBackend);
  EXPORT(reactorFdLimit);
  EXPORT(reactorStats);
  EXPORT(socket);
  EXPORT(bind);
  EXPORT(listen);
  EXPORT(accept);
  EXPORT(connect);
  EXPORT(read);
  EXPORT(write);
  EXPORT(writev);
  EXPORT(recvfrom);
  EXPORT(sendto);
  EXPORT(shutdown);
  EXPORT(close);
  EXPORT(getsockname);
  EXPORT(getpeername);
  EXPORT(setsockopt);
  EXPORT(getsockopt);
  EXPORT(sendfile);
  EXPORT(membership);
#undef EXPORT
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace
}  // namespace rxnet

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return rxnet::Init(env, exports);
}

NODE_API_MODULE(rxnet_native, InitAddon)
