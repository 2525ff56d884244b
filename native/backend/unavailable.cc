// Factories for the mechanisms this build does not compile. binding.gyp
// compiles epoll.cc and io_uring.cc on Linux and kqueue.cc on macOS and the BSDs (and, for
// tests, kqueue.cc against libkqueue on Linux as well); this file supplies
// whichever factory is missing, so the shared code can ask for any backend by
// name and get -ENOSYS.
#include "backend.h"

#include <errno.h>

namespace rxnet {

#if !defined(RXNET_HAVE_EPOLL)
Backend* create_epoll_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
#endif

#if !defined(RXNET_HAVE_IO_URING)
Backend* create_io_uring_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
#endif

#if !defined(RXNET_HAVE_KQUEUE)
Backend* create_kqueue_backend(int* err) {
  *err = -ENOSYS;
  return nullptr;
}
#endif

}  // namespace rxnet
