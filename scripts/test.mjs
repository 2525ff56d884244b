#!/usr/bin/env node
// Runs the whole ava suite once per backend this machine has (mio's CI forces
// its poll backend the same way), then prints one closing line
// "rxnet: N passed, N failed" over all runs. Extra arguments go to ava, e.g.
// `npm test -- dist/test/reactor/watch.test.js`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { Reactor } = require('../dist/index.js');
const only = process.env.RXNET_TEST_BACKENDS?.split(',').filter(Boolean);
const backends = Reactor.available.filter((b) => !only || only.includes(b));
// ava's "exports" map does not expose its CLI entry point, so find it next to
// the main entry point (node_modules/ava/entrypoints/).
const ava = path.join(path.dirname(require.resolve('ava')), 'cli.mjs');

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const backend of backends) {
  console.log(`\n=== backend: ${backend} ===`);
  const run = spawnSync(process.execPath, [ava, '--tap', ...process.argv.slice(2)], {
    env: { ...process.env, RXNET_BACKEND: backend },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(run.stdout);
  const count = (name) => Number((run.stdout.match(new RegExp(`^# ${name} (\\d+)$`, 'm')) ?? [0, 0])[1]);
  const p = count('pass');
  const f = count('fail');
  const s = count('skip');
  passed += p;
  failed += f;
  skipped += s;
  if (run.status !== 0 && f === 0) {
    // ava failed before counting (a crash, a timeout, an uncaught error).
    failed += 1;
    failures.push(`${backend}: ava exited with ${run.status ?? run.signal}`);
  } else if (f > 0) {
    failures.push(`${backend}: ${f} failed`);
  }
}
console.log('');
// The example tests drive the demos with clients from Node and npm always,
// and with these Debian command-line clients where installed
// (test/helpers/clients.ts); .ci/run installs them and requires them.
const onPath = (tool) => (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
  try {
    fs.accessSync(path.join(dir || '.', tool), fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
const openbsdNc = () => onPath('nc') && /OpenBSD netcat/.test(`${spawnSync('nc', ['-h'], { encoding: 'utf8' }).stderr}`);
// redis-py counts only where a python3 on PATH can import it (any of them:
// a pyenv or venv python3 may come first and lack it).
const redisPy = () =>
  (process.env.PATH ?? '').split(path.delimiter).some((dir) => spawnSync(path.join(dir || '.', 'python3'), ['-c', 'import redis'], { timeout: 10_000 }).status === 0);
// [what the tests call it, whether it is there, the Debian package]
const clients = [
  ['nc (netcat-openbsd)', openbsdNc, 'netcat-openbsd'],
  ['curl', () => onPath('curl'), 'curl'],
  ['dig', () => onPath('dig'), 'dnsutils'],
  ['redis-cli', () => onPath('redis-cli'), 'redis-tools'],
  ['redis-benchmark', () => onPath('redis-benchmark'), 'redis-tools'],
  ['redis-server', () => onPath('redis-server'), 'redis-server'],
  ['redis-py', redisPy, 'python3-redis'],
  ['openssl', () => onPath('openssl'), 'openssl'],
  ['haproxy', () => onPath('haproxy'), 'haproxy'],
  ['wrk', () => onPath('wrk'), 'wrk'],
];
const missing = clients.filter(([, there]) => !there());
if (missing.length > 0 && process.env.RXNET_REQUIRE_CLIENTS !== '1') {
  const packages = [...new Set(missing.map(([, , pkg]) => pkg))].join(' ');
  console.log(`Not installed, so their tests were left out: ${missing.map(([name]) => name).join(', ')} (apt-get install ${packages}; RXNET_REQUIRE_CLIENTS=1 makes them required)`);
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`rxnet: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
