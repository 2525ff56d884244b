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
const missing = ['curl', 'dig', 'redis-cli', 'redis-benchmark'].filter((tool) => !onPath(tool));
if (!openbsdNc()) missing.unshift('nc (netcat-openbsd)');
if (missing.length > 0 && process.env.RXNET_REQUIRE_CLIENTS !== '1') {
  console.log(`Not installed, so their tests were left out: ${missing.join(', ')} (apt-get install curl dnsutils netcat-openbsd redis-tools; RXNET_REQUIRE_CLIENTS=1 makes them required)`);
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`rxnet: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
