{
  "targets": [
    {
      "target_name": "rxnet",
      "sources": [
        "native/addon.cc",
        "native/reactor.cc",
        "native/sys.cc",
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
          "sources": ["native/backend/epoll.cc"],
          "defines": ["RXNET_HAVE_EPOLL"]
        }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", {
          "sources": ["native/backend/kqueue.cc"],
          "defines": ["RXNET_HAVE_KQUEUE"]
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
