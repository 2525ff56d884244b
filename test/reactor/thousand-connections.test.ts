import test from 'ava';
import { Interest, sys, type Reactor } from '../../index';
import { withReactor } from '../helpers/leaks';
import { runFixture, within } from '../helpers/processes';
import { until } from '../helpers/readiness';
import { listener } from '../helpers/sockets';

const CLIENTS = 1000;
const RAMP = 100;
const ACCEPT_BUDGET = 64;

interface EchoServer {
  accepted: number;
  open: Map<number, { unsubscribe(): void }>;
  messages: number;
  maxOpen: number;
  errors: string[];
  stop(): void;
}

/** A line echo server written on reactor.watch + sys only. */
function echoServer(reactor: Reactor, lfd: number): EchoServer {
  const buf = Buffer.alloc(64 * 1024);
  const server: EchoServer = {
    accepted: 0,
    open: new Map(),
    messages: 0,
    maxOpen: 0,
    errors: [],
    stop: () => listening.unsubscribe(),
  };
  const closeConnection = (fd: number) => {
    server.open.get(fd)?.unsubscribe();
    server.open.delete(fd);
    sys.close(fd);
  };
  const listening = reactor.watch(lfd, Interest.Readable).subscribe(() => {
    for (let i = 0; i < ACCEPT_BUDGET; i++) {
      const fd = sys.accept(lfd);
      if (fd === sys.EAGAIN) return;
      if (fd < 0) {
        server.errors.push(`accept: ${fd}`);
        return;
      }
      server.accepted++;
      const sub = reactor.watch(fd, Interest.Readable).subscribe({
        next: () => {
          const n = sys.read(fd, buf);
          if (n === sys.EAGAIN) return;
          if (n <= 0) return closeConnection(fd); // end of stream (or a reset)
          server.messages += buf.subarray(0, n).toString().split('\n').length - 1;
          const w = sys.write(fd, buf, 0, n);
          if (w !== n) server.errors.push(`write on ${fd}: ${w} of ${n}`);
        },
        error: (err: Error) => {
          server.errors.push(String(err));
          closeConnection(fd);
        },
      });
      server.open.set(fd, sub);
      server.maxOpen = Math.max(server.maxOpen, server.open.size);
    }
  });
  return server;
}

test.serial(`${CLIENTS} concurrent connections echo through one reactor`, (t) =>
  withReactor(t, async (reactor) => {
    const l = listener(1024);
    const server = echoServer(reactor, l.fd);
    const child = runFixture('echo-clients', [String(l.port), String(CLIENTS), String(RAMP)]);
    try {
      const report = JSON.parse(await child.nextLine(30_000)) as { echoed?: number; open?: number; error?: string };
      t.deepEqual(report, { echoed: CLIENTS, open: CLIENTS }, 'every client got its echo with all connections open');
      t.is(server.maxOpen, CLIENTS, 'the server held every connection at once');
      t.deepEqual(await within(child.exited, 10_000, 'the clients to exit'), { code: 0, signal: null });
    } finally {
      await child.kill();
    }
    // The clients closed; the server saw every end of stream and closed its side.
    await until(() => server.open.size === 0, 'the server to close every connection', 10_000);
    server.stop();
    t.is(server.accepted, CLIENTS);
    t.is(server.messages, CLIENTS);
    t.deepEqual(server.errors, []);
    t.is(reactor.stats.registrations, 0);
    sys.close(l.fd);
  }));
