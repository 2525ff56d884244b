#!/usr/bin/env bash
# Side-by-side CPU per request of the serve() echo in two trees, with the C
# epoll echo in every round: is a change a regression? Servers run one at a
# time, interleaved per round; each is warmed with a fifth of the load, then
# measured (utime + stime from /proc/<pid>/stat over the requests).
#
#   scripts/ab-echo.sh BASELINE_TREE [ROUNDS] [BACKEND] [LOAD] [N]
#   e.g. git worktree add /tmp/base HEAD~3 && (cd /tmp/base && npm ci && npm run build)
#        scripts/ab-echo.sh /tmp/base 5 epoll '-k 0' 20000
#
# Prints one line per run ("round server µs/request") and, at the end, the
# medians and the median per-round ratio to C. Needs redis-benchmark and cc.
set -euo pipefail
base=${1:?usage: scripts/ab-echo.sh BASELINE_TREE [ROUNDS] [BACKEND] [LOAD] [N]}
rounds=${2:-5}
backend=${3:-epoll}
load=${4:--P 1}
n=${5:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/echo_epoll" "$here/bench/c/echo_epoll.c"
# Below the ephemeral range (32768-60999 here): a -k 0 run leaves thousands of
# client ports in TIME_WAIT, and a server port among them may fail to bind.
port=$((20000 + RANDOM % 10000))
for round in $(seq 1 "$rounds"); do
  for server in c base this; do
    port=$((port + 1))
    case $server in
      c) "$work/echo_epoll" "$port" > /dev/null 2>&1 & ;;
      base) node "$base/dist/bench/servers/serve-echo.js" --port "$port" --backend "$backend" > /dev/null 2>&1 & ;;
      this) node "$here/dist/bench/servers/serve-echo.js" --port "$port" --backend "$backend" > /dev/null 2>&1 & ;;
    esac
    pid=$!
    sleep 1
    # redis-benchmark -k 0 spins at 100% CPU forever against a closed port.
    if ! kill -0 "$pid" 2> /dev/null; then echo "$server did not start on port $port" >&2; exit 1; fi
    # shellcheck disable=SC2086 # $load is several arguments
    timeout 300 redis-benchmark -p "$port" -t ping_mbulk -c 50 -n $((n / 5)) $load -q > /dev/null 2>&1
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    # shellcheck disable=SC2086
    timeout 300 redis-benchmark -p "$port" -t ping_mbulk -c 50 -n "$n" $load -q > /dev/null 2>&1
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" 2> /dev/null || true
    ticks=$(getconf CLK_TCK)
    echo "$round $server $(python3 -c "print(round(($after - $before) * 1e6 / $ticks / $n, 3))")"
  done
done | tee "$work/runs"
python3 - "$work/runs" << 'PY'
import sys, statistics as st, collections
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, s, v = line.split()
    rows[r][s] = float(v)
for s in ['c', 'base', 'this']:
    us = st.median(rows[r][s] for r in rows)
    ratio = st.median(rows[r][s] / rows[r]['c'] for r in rows)
    print(f'{s:5} median {us:.2f} us/request, {ratio:.3f}x C (median of per-round ratios)')
PY
