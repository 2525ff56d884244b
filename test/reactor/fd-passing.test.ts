/**
 * sys.sendFds / sys.recvFds (SCM_RIGHTS over a Unix stream socket) and
 * sys.describeSocket: descriptors arrive usable and close-on-exec, surplus
 * ones are closed rather than leaked, and bad arguments throw first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { acceptOne, listener } from '../helpers/sockets';

/** A connected pair of Unix stream sockets. */
async function unixPair(watch: Parameters<typeof acceptOne>[0]): Promise<[number, number]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-fds-'));
  const p = path.join(dir, 's');
  const l = sys.socket('unix', 'stream');
  sys.bind(l, { path: p });
  sys.listen(l, 1);
  const a = sys.socket('unix', 'stream');
  sys.connect(a, { path: p });
  const b = await acceptOne(watch, l);
  sys.close(l);
  fs.rmSync(dir, { recursive: true, force: true });
  return [a, b];
}

test.serial('a listening socket sent over SCM_RIGHTS arrives as a working descriptor for the same socket', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await unixPair((fd) => reactor.watch(fd));
    const l = listener();
    t.is(sys.sendFds(a, Buffer.from('x'), [l.fd]), 1);
    const buf = Buffer.alloc(16);
    const got = sys.recvFds(b, buf);
    if (typeof got === 'number') throw sys.errnoException(got, 'recvmsg');
    t.is(got.bytes, 1);
    t.is(got.fds.length, 1);
    t.false(got.truncated);
    const copy = got.fds[0];
    t.not(copy, l.fd);
    t.deepEqual(sys.describeSocket(copy), { type: 'stream', listening: true, address: { address: '127.0.0.1', family: 'IPv4', port: l.port } });
    if (process.platform === 'linux') {
      // fdinfo's flags are octal; O_CLOEXEC is 02000000 (MSG_CMSG_CLOEXEC did it).
      const flags = parseInt(/flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${copy}`, 'utf8'))![1], 8);
      t.true((flags & 0o2000000) !== 0, 'close-on-exec');
    }
    for (const fd of [a, b, l.fd, copy]) sys.close(fd);
  }));

test.serial('descriptors beyond maxFds are closed on arrival and reported as truncated', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await unixPair((fd) => reactor.watch(fd));
    const sent = [sys.socket('ipv4', 'stream'), sys.socket('ipv4', 'dgram'), sys.socket('ipv6', 'stream')];
    t.is(sys.sendFds(a, Buffer.from('abc'), sent), 3);
    for (const fd of sent) sys.close(fd);
    const got = sys.recvFds(b, Buffer.alloc(16), 1);
    if (typeof got === 'number') throw sys.errnoException(got, 'recvmsg');
    t.is(got.fds.length, 1);
    t.true(got.truncated);
    t.is(sys.describeSocket(got.fds[0]).type, 'stream');
    sys.close(got.fds[0]);
    // withReactor checks that the two surplus descriptors did not stay open.
    t.is(sys.recvFds(b, Buffer.alloc(16)), sys.EAGAIN);
    sys.close(a);
    sys.close(b);
  }));

test('bad arguments throw before any syscall', (t) => {
  t.throws(() => sys.sendFds(-1, Buffer.from('x'), []), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => sys.sendFds(0, Buffer.alloc(0), [1]), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => sys.sendFds(0, Buffer.from('x'), new Array<number>(sys.MAX_PASSED_FDS + 1).fill(1)), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => sys.sendFds(0, Buffer.from('x'), 'x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => sys.recvFds(0, Buffer.alloc(1), sys.MAX_PASSED_FDS + 1), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => sys.setsockopt(0, 'SO_TYPE', 1), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => sys.setsockopt(0, 'SO_ACCEPTCONN', 1), { code: 'ERR_INVALID_ARG_VALUE' });
});
