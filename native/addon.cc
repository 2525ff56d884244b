// N-API glue: the only file that knows about JavaScript values. Entry points
// are named JS_*; they unpack arguments, call reactor.cc or sys.cc and return
// numbers (>= 0 or -errno) without throwing. The reactor's bridge to
// JavaScript (its callback, async context and cleanup hook) lives here too;
// reactor.cc knows only libuv and the backends. Argument checking with precise
// messages happens in TypeScript (reactor/sys.ts) before any call gets here,
// the better-sqlite3 way; the checks below only keep a misuse of this private
// binding from crashing the process.
//
// No mutable globals: every piece of state belongs to a Reactor, which belongs
// to one environment (the main thread or one worker); the environment's table
// of its reactors is its instance data.
#include <napi.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "abi.h"
#include "reactor.h"
#include "sys.h"
#include "tls_addon.h"

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
  const Factory factories[] = {create_io_uring_backend, create_epoll_backend, create_kqueue_backend,
                               create_poll_backend, create_select_backend};
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

// backendError(name) -> 0 | -errno: why a backend cannot be created here
// (ENOSYS: not compiled or no such syscall; EPERM: refused, e.g. by a seccomp
// filter; EOPNOTSUPP: the kernel lacks a feature it needs).
Value JS_backendError(const CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int err = 0;
  Backend* b = nullptr;
  if (name == "io_uring") b = create_io_uring_backend(&err);
  else if (name == "epoll") b = create_epoll_backend(&err);
  else if (name == "kqueue") b = create_kqueue_backend(&err);
  else if (name == "poll") b = create_poll_backend(&err);
  else if (name == "select") b = create_select_backend(&err);
  else err = -EINVAL;
  delete b;
  return Num(info.Env(), b != nullptr ? 0 : err);
}

// Chunks of a JavaScript array as iovecs (at most RX_IOV_MAX); false after
// throwing for a chunk that is not a Uint8Array.
bool Iovecs(const CallbackInfo& info, size_t i, struct iovec* iov, uint32_t* count) {
  auto arr = info[i].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > RX_IOV_MAX) n = RX_IOV_MAX;
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsTypedArray()) {
      Napi::TypeError::New(info.Env(), "rxnet native: expected Uint8Array chunks").ThrowAsJavaScriptException();
      return false;
    }
    auto u8 = v.As<Napi::Uint8Array>();
    iov[k].iov_base = u8.Data();
    iov[k].iov_len = u8.ByteLength();
  }
  *count = n;
  return true;
}

// The async contexts JavaScript makes for its listeners, datagram sockets and
// outgoing connections (reactor/asyncScope.ts), by id (0: none). A batch
// whose events all belong to one of them is called into JavaScript inside
// it, in place of the reactor's own: JavaScript then runs the batch without
// entering a context of its own. Entering one there (AsyncResource's
// runInAsyncScope) cost more than the push itself: its entry lands at index 1
// of Node's JS-side stack of resources, past a hole at 0 (ours, held natively),
// and leaving the outer MakeCallback then truncates that array through a
// generic property set (4.6% of a -P 1 echo's user time).
struct AsyncScopes {
  std::vector<napi_async_context> by_id{nullptr};
  std::vector<uint32_t> free_ids;
  // Ids entered by a batch or a run, innermost last; a scope destroyed while
  // entered is released once left.
  std::vector<uint32_t> entered;
  std::vector<uint32_t> doomed;
  size_t live = 0;

  napi_async_context get(uint32_t id) const { return id < by_id.size() ? by_id[id] : nullptr; }

  uint32_t add(napi_async_context ctx) {
    live++;
    if (!free_ids.empty()) {
      uint32_t id = free_ids.back();
      free_ids.pop_back();
      by_id[id] = ctx;
      return id;
    }
    by_id.push_back(ctx);
    return static_cast<uint32_t>(by_id.size() - 1);
  }

  void destroy(napi_env env, uint32_t id) {
    if (get(id) == nullptr) return;
    if (std::find(entered.begin(), entered.end(), id) != entered.end()) {
      doomed.push_back(id);
      return;
    }
    release(env, id);
  }

  void enter(uint32_t id) { entered.push_back(id); }

  void leave(napi_env env) {
    entered.pop_back();
    for (size_t i = 0; i < doomed.size();) {
      uint32_t id = doomed[i];
      if (std::find(entered.begin(), entered.end(), id) != entered.end()) {
        i++;
        continue;
      }
      doomed.erase(doomed.begin() + static_cast<std::ptrdiff_t>(i));
      release(env, id);
    }
  }

 private:
  void release(napi_env env, uint32_t id) {
    napi_async_destroy(env, by_id[id]);
    by_id[id] = nullptr;
    free_ids.push_back(id);
    live--;
  }
};

class Bridge;

// An environment's reactors by id, for the hot calls (registrations and the
// data path), which name their reactor by a number: a plain function and an
// index, where an ObjectWrap method's napi_unwrap (a private-symbol lookup)
// cost more than the epoll_ctl it wrapped (2.9% of a -k 0 echo's user CPU).
// Ids are never reused, so a closed reactor's id finds nullptr, never another
// reactor. Shared by the environment's AddonData and each Bridge: whichever
// goes last at teardown frees it.
using ReactorTable = std::vector<Bridge*>;

// The JavaScript side of one Reactor: the batch callback, the async context
// it runs in, the views it reads, and the environment's cleanup hook. It
// lives exactly as long as the Reactor (freed in on_closed), not as long as
// the JS handle object, which the garbage collector may free first.
class Bridge final : public ReactorHost {
 public:
  Bridge(napi_env env, napi_value callback, napi_value views_keepalive, const int32_t* batch_fds)
      : env_(env), batch_fds_(batch_fds) {
    napi_create_reference(env_, callback, 1, &callback_ref_);
    napi_create_reference(env_, views_keepalive, 1, &views_ref_);
    napi_value name;
    napi_create_string_utf8(env_, "rxnet:Reactor", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env_, nullptr, name, &async_context_);
  }

  // After Reactor::Create succeeded: enters the environment's table.
  void attach(Reactor* reactor, std::shared_ptr<ReactorTable> table, std::shared_ptr<AsyncScopes> scopes) {
    reactor_ = reactor;
    scopes_ = std::move(scopes);
    table_ = std::move(table);
    id_ = static_cast<uint32_t>(table_->size());
    table_->push_back(this);
    // An async hook, not a plain one: at worker exit Node would otherwise
    // unload the addon before uv_close completes, and the uv_close callback
    // would run freed code (exit 139). The hook is removed in on_closed.
    napi_add_async_cleanup_hook(env_, OnCleanupHook, this, &cleanup_hook_);
  }

  // Null once closed: every call checks it (OpenReactor below, the
  // better-sqlite3 REQUIRE_DATABASE_OPEN way), so a closed reactor is an
  // error, not a crash.
  Reactor* reactor() const { return reactor_; }
  uint32_t id() const { return id_; }

  void close() {
    Reactor* r = reactor_;
    if (r == nullptr) return;
    reactor_ = nullptr;
    r->close();
    // Closed from inside the batch callback: the async context is still in
    // use, so its release waits until the callback returns.
    if (!in_callback_) release_js();
  }

  // fd's registration runs in async scope id (0: none), as JavaScript said
  // in reactorAdd.
  void set_scope(int fd, uint32_t id) {
    if (fd < 0) return;
    size_t i = static_cast<size_t>(fd);
    if (i >= scope_of_fd_.size()) {
      if (id == 0) return;
      scope_of_fd_.resize(i + 1, 0);
    }
    scope_of_fd_[i] = id;
  }

  void on_batch(int n) override {
    in_callback_ = true;
    napi_handle_scope scope;
    napi_open_handle_scope(env_, &scope);
    napi_value callback, recv, argv[2], result;
    napi_get_reference_value(env_, callback_ref_, &callback);
    napi_get_global(env_, &recv);  // MakeCallback needs an object receiver.
    napi_create_int32(env_, n, &argv[0]);
    uint32_t entered = batch_scope(n);
    napi_async_context context = entered != 0 ? scopes_->get(entered) : async_context_;
    napi_create_uint32(env_, entered, &argv[1]);
    // MakeCallback: microtasks run afterwards and async_hooks (and so clinic
    // bubbleprof) see the activity under the batch's async context: its
    // events' scope when they share one, else this reactor's.
    if (scopes_) scopes_->enter(entered);
    napi_status status = napi_make_callback(env_, context, recv, callback, 2, argv, &result);
    if (scopes_) scopes_->leave(env_);
    if (status == napi_pending_exception) {
      // We are in a libuv callback with no JS frame to throw into: hand the
      // error to process 'uncaughtException', as Node does for its own handles.
      napi_value error;
      napi_get_and_clear_last_exception(env_, &error);
      napi_fatal_exception(env_, error);
    }
    napi_close_handle_scope(env_, scope);
    in_callback_ = false;
    if (reactor_ == nullptr) release_js();
  }

  void on_closed() override {
    // Removing the hook tells Node this environment may now finish tearing
    // down (and unload the addon); nothing of ours runs after this.
    if (cleanup_hook_ != nullptr) napi_remove_async_cleanup_hook(cleanup_hook_);
    if (table_) (*table_)[id_] = nullptr;
    delete this;
  }

  // Only for a Reactor::Create that failed: on_closed never comes.
  void release_unattached() {
    release_js();
    delete this;
  }

 private:
  static void OnCleanupHook(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
    auto* self = static_cast<Bridge*>(arg);
    Reactor* r = self->reactor_;
    self->reactor_ = nullptr;
    self->release_js();
    if (r != nullptr) r->close_owned_and_close();
  }

  void release_js() {
    if (callback_ref_) napi_delete_reference(env_, callback_ref_);
    if (views_ref_) napi_delete_reference(env_, views_ref_);
    if (async_context_) napi_async_destroy(env_, async_context_);
    callback_ref_ = views_ref_ = nullptr;
    async_context_ = nullptr;
  }

  // The async scope every event of the batch belongs to, or 0.
  uint32_t batch_scope(int n) const {
    if (!scopes_ || n < 1) return 0;
    uint32_t id = scope_of(batch_fds_[0]);
    if (id == 0) return 0;
    for (int i = 1; i < n; i++) {
      if (scope_of(batch_fds_[i]) != id) return 0;
    }
    return scopes_->get(id) != nullptr ? id : 0;
  }

  uint32_t scope_of(int fd) const {
    size_t i = static_cast<size_t>(fd);
    return fd >= 0 && i < scope_of_fd_.size() ? scope_of_fd_[i] : 0;
  }

  napi_env env_;
  const int32_t* batch_fds_;
  std::vector<uint32_t> scope_of_fd_;
  std::shared_ptr<AsyncScopes> scopes_;
  Reactor* reactor_ = nullptr;
  std::shared_ptr<ReactorTable> table_;
  uint32_t id_ = 0;
  bool in_callback_ = false;
  napi_ref callback_ref_ = nullptr;
  napi_ref views_ref_ = nullptr;
  napi_async_context async_context_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
};

// b's reactor if it is open; otherwise nullptr, after throwing
// ERR_RXNET_REACTOR_CLOSED into JavaScript.
Reactor* OpenReactor(Napi::Env env, Bridge* b) {
  Reactor* r = b != nullptr ? b->reactor() : nullptr;
  if (r == nullptr) {
    Napi::Error e = Napi::Error::New(env, "The reactor is closed");
    e.Set("code", Napi::String::New(env, "ERR_RXNET_REACTOR_CLOSED"));
    e.ThrowAsJavaScriptException();
  }
  return r;
}

// The handle JavaScript holds, for the cold calls (stats, close, ...; the
// hot ones go by id, below). Every method refuses a closed reactor itself
// instead of trusting the caller.
class ReactorHandle final : public Napi::ObjectWrap<ReactorHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeReactor",
                       {
                           InstanceMethod<&ReactorHandle::DatagramSize>("datagramSize"),
                           InstanceMethod<&ReactorHandle::Close>("close"),
                           InstanceMethod<&ReactorHandle::Stats>("stats"),
                           InstanceAccessor<&ReactorHandle::Id>("id"),
                           InstanceAccessor<&ReactorHandle::Backend>("backend"),
                           InstanceAccessor<&ReactorHandle::FdLimit>("fdLimit"),
                           InstanceAccessor<&ReactorHandle::Closed>("closed"),
                       });
  }

  explicit ReactorHandle(const CallbackInfo& info) : Napi::ObjectWrap<ReactorHandle>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      Napi::TypeError::New(info.Env(), "rxnet native: use createReactor()").ThrowAsJavaScriptException();
      return;
    }
    bridge_ = info[0].As<Napi::External<Bridge>>().Data();
    id_ = bridge_->id();
    // Read once: they outlive close(), for error messages.
    backend_ = bridge_->reactor()->backend_name();
    fd_limit_ = bridge_->reactor()->fd_limit();
  }

 private:
  Reactor* Open(const CallbackInfo& info) { return OpenReactor(info.Env(), bridge_); }

  // datagramSize(fd, size): the receive slot of fd's datagram registration.
  Napi::Value DatagramSize(const CallbackInfo& info) {
    Reactor* r = Open(info);
    if (r != nullptr) r->set_datagram_size(I32(info, 0), info[1].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  // close(): idempotent.
  Napi::Value Close(const CallbackInfo& info) {
    if (bridge_ != nullptr) bridge_->close();
    // The Bridge frees itself once the handle has closed.
    bridge_ = nullptr;
    return info.Env().Undefined();
  }

  // stats(Float64Array(6)): wakeups, events, maxBatch, registrations, bytesRead, tlsSessions.
  Napi::Value Stats(const CallbackInfo& info) {
    Reactor* r = Open(info);
    if (r == nullptr) return info.Env().Undefined();
    const ReactorStats& s = r->stats();
    auto out = info[0].As<Napi::Float64Array>();
    if (out.ElementLength() >= 5) {
      out[0] = s.wakeups;
      out[1] = s.events;
      out[2] = s.max_batch;
      out[3] = s.registrations;
      out[4] = s.bytes_read;
    }
    if (out.ElementLength() >= 6) out[5] = static_cast<double>(r->tls_sessions());
    return info.Env().Undefined();
  }

  Napi::Value Id(const CallbackInfo& info) { return Num(info.Env(), id_); }
  Napi::Value Backend(const CallbackInfo& info) { return Napi::String::New(info.Env(), backend_); }
  Napi::Value FdLimit(const CallbackInfo& info) { return Num(info.Env(), fd_limit_); }
  Napi::Value Closed(const CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), bridge_ == nullptr || bridge_->reactor() == nullptr);
  }

  Bridge* bridge_ = nullptr;
  uint32_t id_ = 0;
  const char* backend_ = "";
  int fd_limit_ = -1;
};

// Per-environment state (main thread and each worker have their own).
struct AddonData {
  Napi::FunctionReference reactor_handle;
  std::shared_ptr<ReactorTable> reactors = std::make_shared<ReactorTable>();
  std::shared_ptr<AsyncScopes> scopes = std::make_shared<AsyncScopes>();
};

// ---- the hot calls, by reactor id -------------------------------------------
// The first argument names the reactor (its handle's `id`).

Bridge* BridgeOf(const CallbackInfo& info) {
  const ReactorTable& t = *info.Env().GetInstanceData<AddonData>()->reactors;
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  return id < t.size() ? t[id] : nullptr;
}

// The named reactor if it is open, or nullptr after throwing ERR_RXNET_REACTOR_CLOSED.
Reactor* OpenReactor(const CallbackInfo& info) { return OpenReactor(info.Env(), BridgeOf(info)); }

// reactorAdd(id, fd, token, interest, scope) -> 0 | -errno; scope: the
// async scope the registration's events run in (0: none).
Value JS_reactorAdd(const CallbackInfo& info) {
  Bridge* b = BridgeOf(info);
  Reactor* r = OpenReactor(info.Env(), b);
  if (r == nullptr) return info.Env().Undefined();
  int fd = I32(info, 1);
  int result = r->add(fd, info[2].As<Napi::Number>().Uint32Value(), I32(info, 3));
  if (result >= 0) b->set_scope(fd, info[4].As<Napi::Number>().Uint32Value());
  return Num(info.Env(), result);
}

// reactorModify(id, fd, token, interest) -> 0 | -errno
Value JS_reactorModify(const CallbackInfo& info) {
  Reactor* r = OpenReactor(info);
  if (r == nullptr) return info.Env().Undefined();
  return Num(info.Env(), r->modify(I32(info, 1), info[2].As<Napi::Number>().Uint32Value(), I32(info, 3)));
}

// reactorRemove(id, fd) -> 0 | -errno
Value JS_reactorRemove(const CallbackInfo& info) {
  Bridge* b = BridgeOf(info);
  Reactor* r = OpenReactor(info.Env(), b);
  if (r == nullptr) return info.Env().Undefined();
  int fd = I32(info, 1);
  b->set_scope(fd, 0);
  return Num(info.Env(), r->remove(fd));
}

// ---- async scopes ------------------------------------------------------------

// asyncScopeCreate(resource, type) -> id: an async context whose resource
// (what executionAsyncResource() returns inside it, where AsyncLocalStorage
// keeps its stores) is `resource`, held until asyncScopeDestroy.
Value JS_asyncScopeCreate(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 2) || !info[0].IsObject() || !info[1].IsString()) {
    Napi::TypeError::New(env, "rxnet native: asyncScopeCreate(object, string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_async_context ctx = nullptr;
  if (napi_async_init(env, info[0], info[1], &ctx) != napi_ok) return env.Undefined();
  return Num(env, env.GetInstanceData<AddonData>()->scopes->add(ctx));
}

// asyncScopeRun(id, fn, thisArg, ...up to 4 args) -> fn's result, called
// inside the scope (a MakeCallback; nested in a batch it only pushes the
// context). A throw propagates to the caller.
Value JS_asyncScopeRun(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 3) || !info[1].IsFunction() || !info[2].IsObject()) {
    Napi::TypeError::New(env, "rxnet native: asyncScopeRun(id, function, object, ...args)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  AsyncScopes& scopes = *env.GetInstanceData<AddonData>()->scopes;
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  napi_value args[4];
  size_t argc = std::min<size_t>(info.Length() - 3, 4);
  for (size_t i = 0; i < argc; i++) args[i] = info[i + 3];
  napi_value result = nullptr;
  napi_async_context ctx = scopes.get(id);
  if (ctx == nullptr) {
    Napi::Error::New(env, "rxnet native: async scope " + std::to_string(id) + " was destroyed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  scopes.enter(id);
  napi_status status = napi_make_callback(env, ctx, info[2], info[1], argc, args, &result);
  scopes.leave(env);
  if (status != napi_ok) return env.Undefined();  // the exception is pending
  return Napi::Value(env, result);
}

// asyncScopeDestroy(id): emits the scope's destroy hook and releases it
// (once left, if it is entered).
Value JS_asyncScopeDestroy(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  env.GetInstanceData<AddonData>()->scopes->destroy(env, info[0].As<Napi::Number>().Uint32Value());
  return env.Undefined();
}

// asyncScopesLive() -> how many exist (for tests).
Value JS_asyncScopesLive(const CallbackInfo& info) {
  return Num(info.Env(), static_cast<double>(info.Env().GetInstanceData<AddonData>()->scopes->live));
}

// The stream layer's syscalls through the backend's data path (io_uring);
// the reactor/ layer calls these only for such a backend. Each returns >= 0
// or -errno, like the plain ones; a closed reactor falls back to the plain
// syscall, so a connection can still close.
DataPath* PathOf(const CallbackInfo& info) {
  Bridge* b = BridgeOf(info);
  Reactor* r = b != nullptr ? b->reactor() : nullptr;
  return r != nullptr ? r->data_path() : nullptr;
}

// ioWrite(id, fd, u8)
Value JS_ioWrite(const CallbackInfo& info) {
  if (Bad(info, 3) || !info[2].IsTypedArray()) return info.Env().Undefined();
  auto u8 = info[2].As<Napi::Uint8Array>();
  struct iovec iov = {u8.Data(), u8.ByteLength()};
  int fd = I32(info, 1);
  DataPath* p = PathOf(info);
  return Num(info.Env(), static_cast<double>(p ? p->writev(fd, &iov, 1) : sys::writev(fd, &iov, 1)));
}

// ioWritev(id, fd, Uint8Array[])
Value JS_ioWritev(const CallbackInfo& info) {
  if (Bad(info, 3) || !info[2].IsArray()) return info.Env().Undefined();
  struct iovec iov[RX_IOV_MAX];
  uint32_t n = 0;
  if (!Iovecs(info, 2, iov, &n)) return info.Env().Undefined();
  int fd = I32(info, 1);
  DataPath* p = PathOf(info);
  int cnt = static_cast<int>(n);
  return Num(info.Env(), static_cast<double>(p ? p->writev(fd, iov, cnt) : sys::writev(fd, iov, cnt)));
}

// ioSendfile(id, outFd, inFd, offset, count)
Value JS_ioSendfile(const CallbackInfo& info) {
  if (Bad(info, 5)) return info.Env().Undefined();
  int64_t count = I64(info, 4);
  if (count < 0) return Num(info.Env(), -EINVAL);
  if (count > RX_SENDFILE_MAX) count = RX_SENDFILE_MAX;
  int out = I32(info, 1), in = I32(info, 2);
  int64_t off = I64(info, 3);
  DataPath* p = PathOf(info);
  size_t c = static_cast<size_t>(count);
  return Num(info.Env(), static_cast<double>(p ? p->sendfile(out, in, off, c) : sys::sendfile(out, in, off, c)));
}

// ioShutdownWrite(id, fd)
Value JS_ioShutdownWrite(const CallbackInfo& info) {
  int fd = I32(info, 1);
  DataPath* p = PathOf(info);
  return Num(info.Env(), p ? p->shutdown_write(fd) : sys::shutdown(fd, SHUT_WR));
}

// ioClose(id, fd)
Value JS_ioClose(const CallbackInfo& info) {
  int fd = I32(info, 1);
  DataPath* p = PathOf(info);
  return Num(info.Env(), p ? p->close(fd) : sys::close(fd));
}

// ioAccept(id, fd)
Value JS_ioAccept(const CallbackInfo& info) {
  int fd = I32(info, 1);
  DataPath* p = PathOf(info);
  return Num(info.Env(), p ? p->accept(fd) : sys::accept(fd));
}

// ioConnect(id, fd, family, host, port): 0, -EINPROGRESS or -errno
Value JS_ioConnect(const CallbackInfo& info) {
  if (Bad(info, 5)) return info.Env().Undefined();
  int fd = I32(info, 1);
  sys::Address addr = AddressArg(info, 2);
  DataPath* p = PathOf(info);
  return Num(info.Env(), p ? p->connect(fd, addr) : sys::connect(fd, addr));
}

// ioConnectError(id, fd): 0 or -errno, once the connect was reported writable
Value JS_ioConnectError(const CallbackInfo& info) {
  int fd = I32(info, 1);
  DataPath* p = PathOf(info);
  return Num(info.Env(), p ? p->connect_error(fd) : sys::socket_error(fd));
}

// The TLS calls (tls_addon.h): tlsWrite(id, fd, chunks, status) and the
// rest, the reactor's TLS stage doing the work.
#define RXNET_TLS_BY_ID(name)                                                        \
  Value JS_##name(const CallbackInfo& info) {                                        \
    Reactor* r = OpenReactor(info);                                                  \
    return r == nullptr ? info.Env().Undefined() : tls_js::name(r, tls_js::Args(info, 1)); \
  }
RXNET_TLS_METHODS(RXNET_TLS_BY_ID)
#undef RXNET_TLS_BY_ID

// createReactor(backend, fds, tokens, events, offsets, lengths, arena,
//               dgramMeta, dgramAddrs, callback) -> NativeReactor | -errno
Value JS_createReactor(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 10)) return env.Undefined();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  auto fds = info[1].As<Napi::Int32Array>();
  auto tokens = info[2].As<Napi::Uint32Array>();
  auto events = info[3].As<Napi::Uint32Array>();
  auto offsets = info[4].As<Napi::Uint32Array>();
  auto lengths = info[5].As<Napi::Int32Array>();
  auto arena = info[6].As<Napi::Uint8Array>();
  auto dgram_meta = info[7].As<Napi::Int32Array>();
  auto dgram_addrs = info[8].As<Napi::Uint8Array>();
  size_t cap = tokens.ElementLength();
  size_t dgram_cap = dgram_meta.ElementLength() / RX_DGRAM_FIELDS;
  if (cap == 0 || fds.ElementLength() != cap || events.ElementLength() != cap ||
      offsets.ElementLength() != cap || lengths.ElementLength() != cap ||
      dgram_addrs.ByteLength() < dgram_cap * RX_ADDR_SLOT || !info[9].IsFunction()) {
    Napi::TypeError::New(env, "rxnet native: bad batch views").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BatchViews views{fds.Data(),         tokens.Data(),      events.Data(),
                   offsets.Data(),     lengths.Data(),     arena.Data(),
                   arena.ByteLength(), static_cast<int>(cap), dgram_meta.Data(),
                   dgram_addrs.Data(), static_cast<int>(dgram_cap)};
  // One array keeps every view alive for as long as the reactor writes to them.
  auto keep = Napi::Array::New(env, 8);
  for (uint32_t i = 0; i < 8; i++) keep.Set(i, info[i + 1]);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return Num(env, -EINVAL);
  auto* bridge = new Bridge(env, info[9], keep, fds.Data());
  int err = 0;
  Reactor* r = Reactor::Create(loop, name.c_str(), views, bridge, &err);
  if (r == nullptr) {
    bridge->release_unattached();
    return Num(env, err);
  }
  bridge->attach(r, env.GetInstanceData<AddonData>()->reactors, env.GetInstanceData<AddonData>()->scopes);
  return env.GetInstanceData<AddonData>()->reactor_handle.New({Napi::External<Bridge>::New(env, bridge)});
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

// peek(fd, u8, offset, length): read's arguments; the bytes are left in the socket.
Value JS_peek(const CallbackInfo& info) {
  uint8_t* p;
  size_t n;
  if (Bad(info, 4) || !Bytes(info, 1, 2, 3, &p, &n)) return info.Env().Undefined();
  return Num(info.Env(), static_cast<double>(sys::peek(I32(info, 0), p, n)));
}

// write(fd, u8, offset, length)
Value JS_write(const CallbackInfo& info) {
  uint8_t* p;
  size_t n;
  if (Bad(info, 4) || !Bytes(info, 1, 2, 3, &p, &n)) return info.Env().Undefined();
  return Num(info.Env(), static_cast<double>(sys::write(I32(info, 0), p, n)));
}

// writev(fd, Uint8Array[]) — at most RX_IOV_MAX chunks are taken; the return
// value says how many bytes went out, as writev(2) does.
Value JS_writev(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 2) || !info[1].IsArray()) return env.Undefined();
  auto arr = info[1].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > RX_IOV_MAX) n = RX_IOV_MAX;
  struct iovec iov[RX_IOV_MAX];
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

// An option by its name, or by its index in constants.SOCKET_OPTIONS (the
// stream layer's hot path: no string to convert per accepted connection).
sys::Option OptionArg(const CallbackInfo& info, size_t i) {
  if (info[i].IsNumber()) {
    int32_t k = info[i].As<Napi::Number>().Int32Value();
    return k >= 0 && k < sys::OPT_COUNT ? static_cast<sys::Option>(k) : sys::OPT_COUNT;
  }
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

// setNonblockCloexec(fd) -> 0 | -errno
Value JS_setNonblockCloexec(const CallbackInfo& info) {
  return Num(info.Env(), sys::set_nonblock_cloexec(I32(info, 0)));
}

// sendFds(fd, u8, offset, length, fds: Int32Array) -> bytes sent | -errno
Value JS_sendFds(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  size_t n;
  if (Bad(info, 5) || !Bytes(info, 1, 2, 3, &p, &n)) return env.Undefined();
  if (!info[4].IsTypedArray()) return Num(env, -EINVAL);
  auto fds = info[4].As<Napi::Int32Array>();
  if (fds.ElementLength() > static_cast<size_t>(RX_MAX_PASSED_FDS)) return Num(env, -EINVAL);
  return Num(env, static_cast<double>(sys::send_fds(I32(info, 0), p, n, fds.Data(), static_cast<int>(fds.ElementLength()))));
}

// recvFds(fd, u8, offset, length, fds: Int32Array) -> -errno | [bytes, nfds, truncated]
// Received descriptors are written to fds (at most its length).
Value JS_recvFds(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  size_t n;
  if (Bad(info, 5) || !Bytes(info, 1, 2, 3, &p, &n)) return env.Undefined();
  if (!info[4].IsTypedArray()) return Num(env, -EINVAL);
  auto fds = info[4].As<Napi::Int32Array>();
  int max = static_cast<int>(std::min<size_t>(fds.ElementLength(), RX_MAX_PASSED_FDS));
  int got = 0;
  bool truncated = false;
  ssize_t r = sys::recv_fds(I32(info, 0), p, n, fds.Data(), max, &got, &truncated);
  if (r < 0) return Num(env, static_cast<double>(r));
  auto out = Napi::Array::New(env, 3);
  out.Set(0u, Num(env, static_cast<double>(r)));
  out.Set(1u, Num(env, got));
  out.Set(2u, Napi::Boolean::New(env, truncated));
  return out;
}

// sendfile(outFd, inFd, offset, count)
Value JS_sendfile(const CallbackInfo& info) {
  int64_t count = I64(info, 3);
  if (count < 0) return Num(info.Env(), -EINVAL);
  if (count > RX_SENDFILE_MAX) count = RX_SENDFILE_MAX;
  return Num(info.Env(), static_cast<double>(sys::sendfile(I32(info, 0), I32(info, 1), I64(info, 2),
                                                            static_cast<size_t>(count))));
}

// packAddress(family, host, out: Uint8Array, offset) -> 0 | -errno
// An IP literal's bytes (4 or 16, network order) at out[offset]: the form
// sendDatagrams takes its destinations in, parsed once per destination.
Value JS_packAddress(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 4) || !info[2].IsTypedArray()) return env.Undefined();
  sys::Address a;
  a.family = I32(info, 0);
  a.host = info[1].As<Napi::String>().Utf8Value();
  auto out = info[2].As<Napi::Uint8Array>();
  int64_t off = I64(info, 3);
  if (off < 0 || static_cast<size_t>(off) + RX_ADDR_SLOT > out.ByteLength()) return Num(env, -EINVAL);
  return Num(env, sys::pack_ip(a, out.Data() + off));
}

// sendDatagrams(fd, chunks: Uint8Array[], families: Int32Array, addrs: Uint8Array,
//               ports: Int32Array, start, count) -> datagrams sent | -errno
// Sends chunks[start, start+count) with sendmmsg where available, datagram i
// to the address bytes at addrs[i * RX_ADDR_SLOT] (packAddress's form); the
// caller calls again for what was not sent.
Value JS_sendDatagrams(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Bad(info, 7) || !info[3].IsTypedArray()) return env.Undefined();
  int fd = I32(info, 0);
  auto chunks = info[1].As<Napi::Array>();
  auto families = info[2].As<Napi::Int32Array>();
  auto addrs = info[3].As<Napi::Uint8Array>();
  auto ports = info[4].As<Napi::Int32Array>();
  int start = I32(info, 5), count = I32(info, 6);
  if (count > RX_DGRAM_BUDGET) count = RX_DGRAM_BUDGET;
  size_t end = static_cast<size_t>(start) + static_cast<size_t>(count);
  if (start < 0 || count <= 0 || end > families.ElementLength() || end > ports.ElementLength() ||
      end * RX_ADDR_SLOT > addrs.ByteLength()) {
    return Num(env, -EINVAL);
  }
  sys::Datagram msgs[RX_DGRAM_BUDGET];
  for (int i = 0; i < count; i++) {
    Napi::Value v = chunks.Get(static_cast<uint32_t>(start + i));
    if (!v.IsTypedArray()) return Num(env, -EINVAL);
    auto u8 = v.As<Napi::Uint8Array>();
    msgs[i].data = u8.Data();
    msgs[i].capacity = u8.ByteLength();
    int k = start + i;
    int len = sys::ip_sockaddr(families[k], addrs.Data() + static_cast<size_t>(k) * RX_ADDR_SLOT, ports[k], &msgs[i].addr);
    if (len < 0) return Num(env, len);
    msgs[i].addr_len = static_cast<socklen_t>(len);
  }
  return Num(env, sys::send_datagrams(fd, msgs, count));
}

Napi::Object Constants(Napi::Env env) {
  auto c = Napi::Object::New(env);
  auto num = [&](const char* name, double v) { c.Set(name, v); };
  num("AF_INET", AF_INET);
  num("AF_INET6", AF_INET6);
  num("AF_UNIX", AF_UNIX);
  num("SOCK_STREAM", SOCK_STREAM);
  num("SOCK_DGRAM", SOCK_DGRAM);
  num("SHUT_RD", SHUT_RD);
  num("SHUT_WR", SHUT_WR);
  num("SHUT_RDWR", SHUT_RDWR);
  num("READABLE", RX_READABLE);
  num("WRITABLE", RX_WRITABLE);
  num("HANGUP", RX_HANGUP);
  num("ERROR", RX_ERROR);
  // abi.h, all of it.
  num("TOKEN_READ", RX_TOKEN_READ);
  num("TOKEN_DGRAM", RX_TOKEN_DGRAM);
  num("TOKEN_OWNED", RX_TOKEN_OWNED);
  num("TOKEN_ACCEPT", RX_TOKEN_ACCEPT);
  num("TOKEN_GENERATION", RX_TOKEN_GENERATION);
  num("NOT_READ", RX_NOT_READ);
  num("BATCH_CAPACITY", RX_BATCH_CAPACITY);
  num("ARENA_BYTES", static_cast<double>(RX_ARENA_BYTES));
  num("DGRAM_CAPACITY", RX_DGRAM_CAPACITY);
  num("READ_BUDGET", static_cast<double>(RX_READ_BUDGET));
  num("DGRAM_BUDGET", RX_DGRAM_BUDGET);
  num("ACCEPT_BUDGET", RX_ACCEPT_BUDGET);
  num("DGRAM_OFFSET", RX_DGRAM_OFFSET);
  num("DGRAM_LENGTH", RX_DGRAM_LENGTH);
  num("DGRAM_PORT", RX_DGRAM_PORT);
  num("DGRAM_FAMILY", RX_DGRAM_FAMILY);
  num("DGRAM_TRUNCATED", RX_DGRAM_TRUNCATED);
  num("DGRAM_FIELDS", RX_DGRAM_FIELDS);
  num("ADDR_SLOT", RX_ADDR_SLOT);
  num("DGRAM_DEFAULT_SIZE", RX_DGRAM_DEFAULT_SIZE);
  num("IOV_MAX", RX_IOV_MAX);
  num("SENDFILE_MAX", static_cast<double>(RX_SENDFILE_MAX));
  num("MAX_PASSED_FDS", RX_MAX_PASSED_FDS);
  auto options = Napi::Array::New(env, sys::OPT_COUNT);
  for (uint32_t k = 0; k < sys::OPT_COUNT; k++) options.Set(k, Napi::String::New(env, sys::kOptionNames[k]));
  c.Set("SOCKET_OPTIONS", options);
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
  EXPORT(backendError);
  EXPORT(createReactor);
  EXPORT(reactorAdd);
  EXPORT(reactorModify);
  EXPORT(reactorRemove);
  EXPORT(asyncScopeCreate);
  EXPORT(asyncScopeRun);
  EXPORT(asyncScopeDestroy);
  EXPORT(asyncScopesLive);
  EXPORT(ioWrite);
  EXPORT(ioWritev);
  EXPORT(ioSendfile);
  EXPORT(ioShutdownWrite);
  EXPORT(ioClose);
  EXPORT(ioAccept);
  EXPORT(ioConnect);
  EXPORT(ioConnectError);
#define RXNET_TLS_EXPORT(name) EXPORT(name);
  RXNET_TLS_METHODS(RXNET_TLS_EXPORT)
#undef RXNET_TLS_EXPORT
  EXPORT(sendDatagrams);
  EXPORT(packAddress);
  EXPORT(socket);
  EXPORT(bind);
  EXPORT(listen);
  EXPORT(accept);
  EXPORT(connect);
  EXPORT(read);
  EXPORT(peek);
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
  EXPORT(setNonblockCloexec);
  EXPORT(sendFds);
  EXPORT(recvFds);
#undef EXPORT
  Napi::Object constants = Constants(env);
  tls_js::Init(env, exports, constants);
  exports.Set("constants", constants);
  auto* data = new AddonData();
  data->reactor_handle = Napi::Persistent(ReactorHandle::Define(env));
  env.SetInstanceData<AddonData>(data);
  return exports;
}

}  // namespace
}  // namespace rxnet

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return rxnet::Init(env, exports);
}

NODE_API_MODULE(rxnet_native, InitAddon)
