// Factories for the mechanisms this OS does not have. binding.gyp compiles
// exactly one of epoll.cc / kqueue.cc per OS and this file supplies the other
// factory, so the shared code can ask for any backend by name and get -ENOSYS.
#include "backend.h"

#include <errno.h>

namespace rxnet {

#if defined(RXNET_HAVE_EPOLL)
Backend* create_kqueue_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
#elif defined(RXNET_HAVE_KQUEUE)
Backend* create_epoll_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
#else
Backend* create_epoll_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
Backend* create_kqueue_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
#endif

}  // namespace rxnet
