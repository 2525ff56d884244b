// N-API glue of TLS: the SecureContext class JavaScript makes contexts with,
// and the TLS methods of the native reactor handle. addon.cc's ReactorHandle
// declares one method per name in RXNET_TLS_METHODS; each checks that the
// reactor is open (as every handle method does) and calls the function of
// the same name here with it.
#ifndef RXNET_TLS_ADDON_H_
#define RXNET_TLS_ADDON_H_

#include <napi.h>

#include "reactor.h"

// X(name): the reactor handle's TLS methods (reactor/binding.ts lists their signatures).
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

#define RXNET_TLS_DECLARE(name) Napi::Value name(Reactor* reactor, const Napi::CallbackInfo& info);
RXNET_TLS_METHODS(RXNET_TLS_DECLARE)
#undef RXNET_TLS_DECLARE

// Adds `SecureContext` to exports and the TLS numbers of abi.h to constants.
void Init(Napi::Env env, Napi::Object exports, Napi::Object constants);

}  // namespace tls_js
}  // namespace rxnet

#endif  // RXNET_TLS_ADDON_H_
