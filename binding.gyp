{
  "variables": {
    # 1: build the kqueue backend without a pollable kqueue fd, so the
    # reactor drives it from its helper thread and wakes it with EVFILT_USER
    # (see native/backend/kqueue.cc). Off by default: on macOS and the BSDs
    # the kqueue fd is watched by uv_poll like epoll's.
    "kqueue_threaded%": "0",
    # A libkqueue install prefix (<dir>/include/kqueue, <dir>/lib): on Linux,
    # compile the kqueue backend against that userspace emulation beside
    # epoll, in threaded mode. Only scripts/test-kqueue-emulated.sh sets it.
    "libkqueue_dir%": "",
    # 1: build with AddressSanitizer and UndefinedBehaviorSanitizer (any
    # finding aborts). Only scripts/test-sanitizers.sh sets it, in a scratch
    # copy; Node itself is not instrumented, so libasan is preloaded there.
    "sanitize%": "0"
  },
  "targets": [
    {
      "target_name": "rxnet",
      "sources": [
        "native/addon.cc",
        "native/reactor.cc",
        "native/sys.cc",
        "native/tls.cc",
        "native/tls_context.cc",
        "native/tls_addon.cc",
        "native/backend/poll.cc",
        "native/backend/select.cc",
        "native/backend/unavailable.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/backend/epoll.cc", "native/backend/io_uring.cc", "native/uring/ring.cc"],
          "defines": ["RXNET_HAVE_EPOLL", "RXNET_HAVE_IO_URING"]
        }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", {
          "sources": ["native/backend/kqueue.cc"],
          "defines": ["RXNET_HAVE_KQUEUE"]
        }],
        ["sanitize=='1'", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }],
        ["kqueue_threaded=='1'", {
          "defines": ["RXNET_KQUEUE_THREADED"]
        }],
        # libkqueue's kqueue fd cannot be watched by uv_poll: on Linux it is
        # the write end of a pipe that only serves to notice close()
        # (src/linux/platform.c, linux_kqueue_init: kq_id = pipefd[1]); the
        # events wait in a private epoll fd. So the emulated build is always
        # threaded.
        ["OS=='linux' and libkqueue_dir!=''", {
          "sources": ["native/backend/kqueue.cc"],
          "defines": ["RXNET_HAVE_KQUEUE", "RXNET_KQUEUE_THREADED"],
          "include_dirs": ["<(libkqueue_dir)/include/kqueue"],
          "libraries": [
            "-L<(libkqueue_dir)/lib",
            "-lkqueue",
            "-Wl,-rpath,<(libkqueue_dir)/lib"
          ]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "WARNING_CFLAGS": ["-Wall", "-Wextra"],
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }]
      ]
    }
  ]
}
