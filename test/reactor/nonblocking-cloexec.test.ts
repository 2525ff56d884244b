import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import test from 'ava';
import { sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { acceptOne, listener, socketPair } from '../helpers/sockets';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** The open-file flags of `fd` from /proc/self/fdinfo (octal in the file). */
function fdFlags(fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s+([0-7]+)$/m.exec(info);
  if (!m) throw new Error(`no flags in fdinfo of ${fd}: ${info}`);
  return parseInt(m[1], 8);
}

function assertNonBlockingCloexec(t: import('ava').ExecutionContext, fd: number, what: string): void {
  const flags = fdFlags(fd);
  t.true((flags & O_NONBLOCK) !== 0, `${what}: O_NONBLOCK in 0${flags.toString(8)}`);
  t.true((flags & O_CLOEXEC) !== 0, `${what}: O_CLOEXEC in 0${flags.toString(8)}`);
}

test.serial('every socket sys makes is non-blocking and close-on-exec', (t) =>
  withReactor(t, async (reactor) => {
    const made: number[] = [];
    try {
      for (const family of ['ipv4', 'ipv6', 'unix'] as const) {
        for (const type of ['stream', 'dgram'] as const) {
          const fd = sys.socket(family, type);
          made.push(fd);
          assertNonBlockingCloexec(t, fd, `${family}/${type}`);
        }
      }
      const l = listener();
      made.push(l.fd);
      const c = sys.socket('ipv4', 'stream');
      made.push(c);
      sys.connect(c, { address: '127.0.0.1', port: l.port });
      const accepted = await acceptOne((fd) => reactor.watch(fd), l.fd);
      made.push(accepted);
      assertNonBlockingCloexec(t, accepted, 'accepted');
    } finally {
      for (const fd of made) sys.close(fd);
    }
  }));

test.serial('reading an empty socket returns EAGAIN at once instead of blocking', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const udp = sys.socket('ipv4', 'dgram');
    try {
      sys.bind(udp, { address: '127.0.0.1', port: 0 });
      t.is(sys.read(b, Buffer.alloc(16)), sys.EAGAIN);
      t.is(sys.read(a, Buffer.alloc(16)), sys.EAGAIN);
      t.is(sys.recvfrom(udp, Buffer.alloc(16)), sys.EAGAIN);
      t.is(sys.EAGAIN, -os.constants.errno.EAGAIN);
    } finally {
      for (const fd of [a, b, udp]) sys.close(fd);
    }
  }));

test.serial('a child process does not inherit sys sockets', (t) =>
  withReactor(t, () => {
    const l = listener();
    try {
      // The child lists its own descriptors; l.fd must not be among them.
      const out = execFileSync(process.execPath, ['-e', "process.stdout.write(require('fs').readdirSync('/proc/self/fd').join(','))"], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const fds = out.split(',').map(Number);
      t.false(fds.includes(l.fd), `fd ${l.fd} leaked into the child: ${out}`);
      t.regex(fs.readlinkSync(`/proc/self/fd/${l.fd}`), /^socket:/, 'while it is open here');
    } finally {
      sys.close(l.fd);
    }
  }));
