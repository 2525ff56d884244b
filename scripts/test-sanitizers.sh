#!/usr/bin/env bash
# Runs the suite against an addon built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc or clang on Linux):
#
#   scripts/test-sanitizers.sh [ava args]         # every backend, whole suite
#   RXNET_TEST_BACKENDS=io_uring scripts/test-sanitizers.sh dist/test/streams/echo-round-trip.test.js
#
# The addon is built in a scratch copy of this package with the gyp variable
# sanitize=1 (binding.gyp: -fsanitize=address,undefined, and any UB finding
# aborts), so your own build/ and dist/ are never touched. Node itself is not
# instrumented, so the ASan runtime is preloaded (LD_PRELOAD) into every node
# the tests start; leak detection is off (it would report Node's own
# allocations at exit), everything else is on. Each sanitizer report goes to a
# file in the scratch copy; the script prints them all and fails if there is
# any, after scripts/test.mjs's closing line "rxnet: N passed, N failed".
# The clients the tests run (curl, redis-cli, ...) get no ASan runtime (a
# PATH shim drops LD_PRELOAD for them: curl hangs under it), and tests see
# RXNET_SANITIZERS=1 (an RSS bound does not hold with ASan's quarantine).
# Set KEEP_WORKDIR=1 to keep the scratch copy for a look afterwards.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ ! -d "$root/node_modules" ]]; then
  echo "test-sanitizers: run npm ci first" >&2
  exit 2
fi
cxx="${CXX:-g++}"
asan="$("$cxx" -print-file-name=libasan.so)"
if [[ ! -e "$asan" ]]; then
  echo "test-sanitizers: $cxx has no libasan.so (apt-get install g++, or set CXX)" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/rxnet-sanitizers.XXXXXX")"
if [[ -z "${KEEP_WORKDIR:-}" ]]; then
  trap 'rm -rf "$work"' EXIT
else
  echo "test-sanitizers: scratch copy in $work"
fi

tar -C "$root" --exclude=./.git --exclude=./build --exclude=./dist --exclude=./node_modules \
  --exclude=./.clinic --exclude=./bench/out --exclude=./.scratch -cf - . | tar -C "$work" -xf -
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"

npm exec --offline --no -- node-gyp rebuild --jobs "${JOBS:-2}" -- -Dsanitize=1
npm exec --offline --no -- tsc -p tsconfig.json

mkdir -p "$work/reports"
# The clients the tests run (curl, redis-cli, ...) are not ours: run them
# without the ASan runtime, which LD_PRELOAD would otherwise put into them
# too (curl hangs under it). Tests find them on PATH, so a shim that drops
# LD_PRELOAD and runs the real one goes first.
mkdir -p "$work/shims"
for tool in curl redis-cli redis-server redis-benchmark nc dig haproxy openssl wrk python3 ss sockperf; do
  real="$(command -v "$tool" || true)"
  [[ -n "$real" ]] || continue
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %q "$@"\n' "$real" > "$work/shims/$tool"
  chmod +x "$work/shims/$tool"
done
export PATH="$work/shims:$PATH"
status=0
# handle_segv=0: V8 handles SIGSEGV itself (WebAssembly guard pages).
RXNET_SANITIZERS=1 LD_PRELOAD="$asan" \
  ASAN_OPTIONS="detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:abort_on_error=1:log_path=$work/reports/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$work/reports/ubsan" \
  node scripts/test.mjs "$@" || status=$?

reports=("$work"/reports/*)
if [[ -e "${reports[0]}" ]]; then
  echo "test-sanitizers: ${#reports[@]} sanitizer report(s):"
  for r in "${reports[@]}"; do
    echo "---- $r"
    cat "$r"
  done
  exit 1
fi
echo "test-sanitizers: no sanitizer reports"
exit "$status"
