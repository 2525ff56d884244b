/**
 * io_uring is first in Reactor.available where it works, and absent without
 * a word where it does not: a seccomp filter refusing io_uring_setup with
 * EPERM (Docker's default profile) or ENOSYS leaves epoll as the default,
 * and asking for io_uring then fails with an error that says why.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { Reactor } from '../../index';
import { assertNoFdLeak, openFds } from '../helpers/leaks';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SOURCE = path.join(ROOT, 'test', 'fixtures', 'c', 'deny-syscalls.c');

// What a child reports about its reactors, as one JSON line.
const PROBE = `
const { Reactor } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
const out = { available: Reactor.available, default: Reactor.default().backend };
Reactor.default().close();
try { new Reactor({ backend: 'io_uring' }).close(); out.forced = 'ok'; }
catch (e) { out.forced = { code: e.code, message: e.message }; }
console.log(JSON.stringify(out));
`;

interface Probe {
  available: string[];
  default: string;
  forced: 'ok' | { code: string; message: string };
}

function probe(prefix: string[]): Probe {
  const env = { ...process.env };
  delete env.RXNET_BACKEND;
  const r = spawnSync(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '-e', PROBE], {
    encoding: 'utf8',
    env,
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`probe exited ${r.status ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
}

/** io_uring_disabled: 0 allows everyone, 1 a group, 2 nobody (Linux 6.6+). */
function ioUringAllowed(): boolean {
  try {
    return fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0';
  } catch {
    return true; // older kernels have no such switch
  }
}

if (process.platform !== 'linux') {
  test('io_uring is Linux only: not available here, and asking for it says so', (t) => {
    t.false(Reactor.available.includes('io_uring'));
    t.throws(() => new Reactor({ backend: 'io_uring' }), { code: 'ERR_RXNET_BACKEND_UNAVAILABLE' });
  });
} else {
  test('without a filter, io_uring comes first where the kernel has it; with one refusing io_uring_setup, epoll is the default and forcing io_uring says why', (t) => {
    const before = openFds();
    const plain = probe([]);
    const kernel = os.release().split('.').map(Number);
    const modern = kernel[0] > 6 || (kernel[0] === 6 && kernel[1] >= 1);
    if (modern && ioUringAllowed()) {
      t.is(plain.available[0], 'io_uring', `available: ${plain.available}`);
      t.is(plain.default, 'io_uring');
      t.is(plain.forced, 'ok');
    }

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-seccomp-'));
    try {
      const exe = path.join(dir, 'deny-syscalls');
      const cc = spawnSync('cc', ['-O1', '-Wall', '-Wextra', '-o', exe, SOURCE], { encoding: 'utf8' });
      t.is(cc.status, 0, `cc: ${cc.stderr}`);
      for (const errno of ['EPERM', 'ENOSYS']) {
        const denied = probe([exe, errno, 'io_uring_setup']);
        t.false(denied.available.includes('io_uring'), `${errno}: available ${denied.available}`);
        t.is(denied.available[0], 'epoll', `${errno}: available ${denied.available}`);
        t.is(denied.default, 'epoll', errno);
        t.not(denied.forced, 'ok', errno);
        const forced = denied.forced as { code: string; message: string };
        t.is(forced.code, 'ERR_RXNET_BACKEND_UNAVAILABLE');
        t.regex(forced.message, new RegExp(`io_uring_setup: ${errno}`));
        if (errno === 'EPERM') t.regex(forced.message, /seccomp/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return assertNoFdLeak(t, before);
  });
}
