import * as fs from 'node:fs';
import test from 'ava';
import { Interest, Ready, sys, type Reactor } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { drain } from '../helpers/readiness';
import { first, listener } from '../helpers/sockets';

const FD_SETSIZE = 1024;

/** Opens /dev/null until the next descriptor would be `next`; returns what it opened. */
function pushFdsUpTo(next: number): number[] {
  const opened: number[] = [];
  for (;;) {
    const fd = fs.openSync('/dev/null', 'r');
    if (fd >= next) {
      // One too far (or there was no hole to fill): give it back.
      fs.closeSync(fd);
      if (fd === next) return opened;
      throw new Error(`fd ${next} is taken already (got ${fd})`);
    }
    opened.push(fd);
  }
}

/** Connects a new client to `l` and accepts it; the accepted (server) end has data waiting. */
function connectedWithData(reactor: Reactor, l: { fd: number; port: number }): Promise<{ server: number; client: number }> {
  const clientFd = sys.socket('ipv4', 'stream');
  sys.connect(clientFd, { address: '127.0.0.1', port: l.port });
  return first(reactor.watch(l.fd, Interest.Readable)).then(() => {
    const server = sys.accept(l.fd);
    if (server < 0) throw sys.errnoException(server, 'accept');
    sys.write(clientFd, Buffer.from('high'));
    return { server, client: clientFd };
  });
}

test.serial('fds at and above FD_SETSIZE: select refuses them synchronously, epoll and poll watch them', (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    const fillers: number[] = [];
    const sockets: number[] = [];
    try {
      // ~1100 descriptors open: the next sockets land at 1023, 1024 and up.
      fillers.push(...pushFdsUpTo(FD_SETSIZE - 1));
      const last = sys.socket('ipv4', 'stream'); // fd 1023, the highest select can hold
      sockets.push(last);
      t.is(last, FD_SETSIZE - 1);
      const high = await connectedWithData(reactor, l); // server end at 1024 or above
      sockets.push(high.server, high.client);
      t.true(high.server >= FD_SETSIZE, `fd ${high.server} >= FD_SETSIZE`);
      for (let i = 0; i < 70; i++) fillers.push(fs.openSync('/dev/null', 'r'));
      t.true(Math.max(...fillers) > 1090);

      if (backend === 'select') {
        t.is(reactor.fdLimit, FD_SETSIZE);
        const err = t.throws(() => reactor.watch(high.server, Interest.Readable), {
          instanceOf: RangeError,
          code: 'ERR_RXNET_FD_SETSIZE',
        });
        t.regex(err!.message, new RegExp(`fd ${high.server} .*select.*FD_SETSIZE \\(1024\\)`));
        t.throws(() => reactor.register(high.server, Interest.Readable, { onReady: () => {} }), {
          instanceOf: RangeError,
          code: 'ERR_RXNET_FD_SETSIZE',
        });
        // 1023 is still fine.
        const sub = reactor.watch(last, Interest.Readable).subscribe();
        t.is(reactor.stats.registrations, 1);
        sub.unsubscribe();
        t.is(reactor.stats.registrations, 0);
      } else {
        t.is(reactor.fdLimit, Infinity);
        const ready = await first(reactor.watch(high.server, Interest.Readable));
        t.is(ready, Ready.Readable);
        t.is(drain(high.server).bytes.toString(), 'high');
      }
    } finally {
      for (const fd of sockets) sys.close(fd);
      for (const fd of fillers) fs.closeSync(fd);
      sys.close(l.fd);
    }
  }));
