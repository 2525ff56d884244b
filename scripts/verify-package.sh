#!/usr/bin/env bash
# Installs the packed tarball the way users will, and proves it loads without
# a compiler: a new app for npm, one for pnpm 10 and one for Bun (as the
# package manager; both skip install scripts by default), each on a PATH
# where g++, cc, make and python3 are hidden, then require() and import with
# an echo round trip under node. Needs the npm registry (rxjs, pnpm, and
# Bun's binary from the npm package @oven/bun-linux-x64); nothing else is
# downloaded.
#
#   scripts/verify-package.sh [path/to/rxnet-X.Y.Z.tgz]
#
# Without an argument it runs `npm pack` (whose prepack builds the
# TypeScript and the prebuild for this machine).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/rxnet-verify.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tarball="${1:-}"
if [[ -z "$tarball" ]]; then
  tarball="$root/$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -1)"
  tarball="$work/$(basename "$tarball")"
fi
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"
echo "verify-package: $tarball"
tar -tzf "$tarball" > "$work/files.txt"
grep -q '^package/prebuilds/' "$work/files.txt" || { echo "verify-package: the tarball has no prebuilds/" >&2; exit 1; }

# Tools: pnpm 10 and Bun from the npm registry, into a directory of their own.
tools="$work/tools"
mkdir -p "$tools"
(cd "$tools" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund pnpm@10 @oven/bun-linux-x64 >/dev/null)
bun="$tools/node_modules/@oven/bun-linux-x64/bin/bun"

# The machine's PATH as one directory of links, less every compiler, make
# and python, plus pnpm and bun.
bin="$work/bin"
mkdir -p "$bin"
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [[ -d "$dir" ]] || continue
  for exe in "$dir"/*; do
    name="$(basename "$exe")"
    case "$name" in
      gcc* | g++* | cc | c++ | cpp* | clang* | *-gcc* | *-g++* | make | gmake | python*) continue ;;
    esac
    [[ -x "$exe" && ! -e "$bin/$name" ]] && ln -s "$exe" "$bin/$name"
  done
done
ln -sf "$tools/node_modules/.bin/pnpm" "$bin/pnpm"
ln -sf "$bun" "$bin/bun"
for tool in g++ gcc cc c++ make python3 python; do
  if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then echo "verify-package: $tool is still on the PATH" >&2; exit 1; fi
done

cat > "$work/check.cjs" <<'JS'
const { serve, connect, Reactor } = require('rxnet');
const { firstValueFrom } = require('rxjs');
(async () => {
  const server = serve({ host: '127.0.0.1', port: 0 }, (conn) => conn.data$);
  const { port } = await server.listening;
  const conn = await firstValueFrom(connect({ host: '127.0.0.1', port }));
  const reply = firstValueFrom(conn.data$);
  conn.write('ping');
  const got = String(await reply);
  conn.close();
  await server.close();
  if (got !== 'ping') throw new Error(`echo: ${got}`);
  console.log(`  require: ok (${Reactor.available.join(', ')})`);
})();
JS
cat > "$work/check.mjs" <<'JS'
import { serve, Reactor } from 'rxnet';
const server = serve({ host: '127.0.0.1', port: 0 }, (conn) => conn.data$);
await server.listening;
await server.close();
console.log(`  import: ok (${Reactor.default().backend})`);
JS

app() {
  local name="$1"
  shift
  local dir="$work/app-$name"
  mkdir -p "$dir"
  cp "$work/check.cjs" "$work/check.mjs" "$dir/"
  echo '{ "name": "app", "version": "1.0.0", "private": true }' > "$dir/package.json"
  echo "verify-package: $name"
  (cd "$dir" && PATH="$bin" "$@" >"$dir/install.log" 2>&1) || { cat "$dir/install.log"; exit 1; }
  (cd "$dir" && PATH="$bin" node check.cjs && PATH="$bin" node check.mjs)
}

app npm npm install --no-audit --no-fund "$tarball" rxjs
app pnpm pnpm add "$tarball" rxjs
app bun bun add "$tarball" rxjs
echo "verify-package: npm, pnpm and bun installs load the prebuilt addon with no compiler on the PATH"
