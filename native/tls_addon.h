// N-API glue of TLS: the SecureContext class JavaScript makes contexts with,
// and the TLS calls of a reactor. addon.cc exports one binding function per
// name in RXNET_TLS_METHODS, taking the reactor's id first; each finds the
// reactor, refuses a closed one (as every call by id does) and calls the
// function of the same name here with it and the rest of its arguments.
#ifndef RXNET_TLS_ADDON_H_
#define RXNET_TLS_ADDON_H_

#include <napi.h>

#include "reactor.h"

// X(name): the binding's TLS functions, each taking the reactor's id first
// (reactor/binding.ts lists their signatures).
#define RXNET_TLS_METHODS(X) \
  X(tlsAttach)               \
  X(tlsDetach)               \
  X(tlsHandshake)            \
  X(tlsWrite)                \
  X(tlsSendFile)             \
  X(tlsShutdown)             \
  X(tlsPending)              \
  X(tlsInfo)                 \
  X(tlsError)                \
  X(tlsSession)              \
  X(tlsServername)           \
  X(tlsUseContext)

namespace rxnet {
namespace tls_js {

// A TLS call's arguments after the reactor's id (the binding's functions
// name their reactor first, as every hot call does; addon.cc): info[0] is
// the call's first own argument, the fd.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, size_t base) : info_(info), base_(base) {}
  Napi::Value operator[](size_t i) const { return info_[base_ + i]; }
  size_t Length() const { return info_.Length() > base_ ? info_.Length() - base_ : 0; }
  Napi::Env Env() const { return info_.Env(); }

 private:
  const Napi::CallbackInfo& info_;
  size_t base_;
};

#define RXNET_TLS_DECLARE(name) Napi::Value name(Reactor* reactor, const Args& info);
RXNET_TLS_METHODS(RXNET_TLS_DECLARE)
#undef RXNET_TLS_DECLARE

// Adds `SecureContext` to exports and the TLS numbers of abi.h to constants.
void Init(Napi::Env env, Napi::Object exports, Napi::Object constants);

}  // namespace tls_js
}  // namespace rxnet

#endif  // RXNET_TLS_ADDON_H_
