import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { readExactly } from '../helpers/readiness';
import { acceptOne, first } from '../helpers/sockets';

test.serial('a Unix domain stream socket binds, listens, connects, accepts and carries data', (t) =>
  withReactor(t, async (reactor) => {
    const socketPath = path.join(os.tmpdir(), `rxnet-${process.pid}-${Date.now()}.sock`);
    const l = sys.socket('unix', 'stream');
    const c = sys.socket('unix', 'stream');
    let s = -1;
    try {
      sys.bind(l, { path: socketPath });
      sys.listen(l, 16);
      t.true(fs.statSync(socketPath).isSocket());
      t.deepEqual(sys.getsockname(l), { family: 'unix', address: socketPath, port: 0 });

      const connected = sys.connect(c, { path: socketPath });
      if (!connected) await first(reactor.watch(c, Interest.Writable));
      t.is(sys.socketError(c), null);
      s = await acceptOne((fd) => reactor.watch(fd), l);
      t.deepEqual(sys.getpeername(c), { family: 'unix', address: socketPath, port: 0 });
      t.is(sys.getpeername(s).family, 'unix');

      t.is(sys.write(c, Buffer.from('over unix')), 9);
      t.is((await readExactly(reactor, s, 9)).toString(), 'over unix');
      t.is(sys.write(s, Buffer.from('back')), 4);
      t.is((await readExactly(reactor, c, 4)).toString(), 'back');
      sys.close(s);
      s = -1;
      const ready = await first(reactor.watch(c, Interest.Readable));
      t.true((ready & Ready.Readable) !== 0);
      t.is(sys.read(c, Buffer.alloc(4)), 0);

      // A path in use cannot be bound again.
      const again = sys.socket('unix', 'stream');
      try {
        const err = t.throws(() => sys.bind(again, { path: socketPath }));
        t.is((err as NodeJS.ErrnoException).code, 'EADDRINUSE');
        t.is((err as NodeJS.ErrnoException & { address?: string }).address, socketPath);
        t.is((err as NodeJS.ErrnoException & { port?: number }).port, undefined);
        t.is(err!.message, `bind EADDRINUSE ${socketPath}`);
      } finally {
        sys.close(again);
      }
    } finally {
      if (s >= 0) sys.close(s);
      sys.close(c);
      sys.close(l);
      fs.rmSync(socketPath, { force: true });
    }
  }));

test.serial('connecting to a Unix path nobody listens on fails with ENOENT', (t) =>
  withReactor(t, () => {
    const c = sys.socket('unix', 'stream');
    const missing = path.join(os.tmpdir(), `rxnet-missing-${process.pid}-${Date.now()}.sock`);
    try {
      const err = t.throws(() => sys.connect(c, { path: missing }));
      t.is((err as NodeJS.ErrnoException).code, 'ENOENT');
      t.is((err as NodeJS.ErrnoException).syscall, 'connect');
      t.is(err!.message, `connect ENOENT ${missing}`);
    } finally {
      sys.close(c);
    }
  }));
