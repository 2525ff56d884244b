/**
 * The floor under serve(): an echo on the reactor's native data path with as
 * little JavaScript per connection as it allows, and no stream layer. The
 * listener accepts in its onReady; each connection is one small object
 * registered with `read: true`, so its bytes arrive with the event, as
 * serve()'s do; a reply is one write, the peer's FIN one deregistration and
 * one close. No Connection, no rxjs, no write queue beyond a partial write's
 * rest, no async context.
 *
 * What it is for: the distance between this and the C epoll echo is what
 * running inside Node costs (N-API crossings, one MakeCallback per batch,
 * libuv's epoll over the reactor's); the distance between serve() and this
 * is what the stream layer costs. bench/streams.ts (`--only tcp`) runs it
 * beside serve() and the C servers.
 *
 *   node dist/bench/servers/datapath-echo.js [--port N] [--backend name]
 *
 * Prints `listening on 127.0.0.1:PORT`; exits 0 on SIGTERM/SIGINT.
 */
import { Reactor, Interest, Ready, copyOut, type BackendName, type Registration } from '../../reactor/reactor';
import * as sys from '../../reactor/sys';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const backend = arg('--backend') as BackendName | undefined;
const reactor = backend ? new Reactor({ backend }) : Reactor.default();
const io = reactor.io;
const NOT_READ = Reactor.NOT_READ;
const open = new Set<Conn>();

class Conn {
  private readonly registration: Registration;
  // What a write did not take; while it waits, reading is paused.
  private rest: Uint8Array | null = null;
  private ended = false;

  constructor(readonly fd: number) {
    this.registration = reactor.register(fd, Interest.Readable, this, { read: true, owned: true });
    open.add(this);
  }

  onReady(events: number, length: number, offset: number): void {
    if (length > 0) {
      const chunk = copyOut(reactor, offset, length);
      // A completion backend (io_uring) may still deliver what its receive
      // had under way when reading paused: it goes after the rest, in order.
      if (this.rest === null) return this.send(chunk);
      this.rest = Buffer.concat([this.rest, chunk]);
    } else if (length === 0 && this.rest !== null) {
      this.ended = true; // the peer's FIN, held by io_uring as above: close once the rest is out
    } else if (length !== NOT_READ) {
      return this.close(); // the peer's FIN, or a read error
    }
    if (this.rest !== null && events & Ready.Writable) this.send(this.rest);
    else if (events & Ready.Error) this.close();
  }

  private send(bytes: Uint8Array): void {
    const n = io.write(this.fd, bytes);
    if (n === bytes.byteLength) {
      if (this.rest !== null) {
        this.rest = null;
        if (this.ended) return this.close();
        this.registration.update(Interest.Readable);
      }
      return;
    }
    if (n < 0 && n !== sys.EAGAIN) return this.close();
    this.rest = bytes.subarray(Math.max(n, 0));
    this.registration.update(Interest.Writable);
  }

  close(): void {
    if (!open.delete(this)) return;
    this.registration.close();
    io.close(this.fd);
  }
}

const lfd = sys.socket('ipv4', 'stream');
sys.setsockopt(lfd, 'SO_REUSEADDR', true);
// Accepted sockets inherit it on Linux, as serve()'s listener arranges.
sys.setsockopt(lfd, 'TCP_NODELAY', true);
sys.bind(lfd, { address: '127.0.0.1', port: Number(arg('--port') ?? 0) });
sys.listen(lfd, 511);
const listener = reactor.register(
  lfd,
  Interest.Readable,
  {
    onReady(): void {
      for (let budget = 128; budget > 0; budget--) {
        const fd = io.accept(lfd);
        if (fd < 0) return;
        if (process.platform !== 'linux') sys.setsockopt(fd, 'TCP_NODELAY', true);
        new Conn(fd);
      }
    },
  },
  { owned: true, accept: true },
);
console.log(`listening on 127.0.0.1:${sys.getsockname(lfd).port} (rxnet data path, ${reactor.backend})`);

function stop(): void {
  listener.close();
  io.close(lfd);
  for (const conn of [...open]) conn.close();
  reactor.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
