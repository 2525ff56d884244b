/**
 * Echo server written directly on the reactor layer: `reactor.watch()` for
 * readiness and `sys` for the syscalls. No node:net, no streams layer. This is
 * what bench/run.ts measures against the C reference (bench/c/echo_epoll.c)
 * and a node:net echo (bench/servers/net-echo.ts).
 *
 *   node dist/bench/servers/reactor-echo.js [--port N] [--backend epoll|poll|select]
 *
 * Prints `listening on 127.0.0.1:PORT` once ready. SIGTERM/SIGINT close every
 * connection, the listener and the reactor, then exit 0. SIGUSR2 prints one
 * line `stats {...}` with the reactor's counters (bench/run.ts reads it to
 * report wakeups and events per request).
 */
import type { Subscription } from 'rxjs';
import { Reactor, Interest, Ready, sys, type BackendName } from '../../index';

const ACCEPTS_PER_WAKEUP = 64;
/** Reads per connection per wakeup: level-triggered, so stopping early loses nothing. */
const READS_PER_WAKEUP = 4;
const BUF_BYTES = 64 * 1024;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const backend = arg('--backend') as BackendName | undefined;
const reactor = backend ? new Reactor({ backend }) : Reactor.default();

/** One buffer for every read: its bytes are written back before the next read. */
const buf = new Uint8Array(BUF_BYTES);

class Conn {
  reading: Subscription | null = null;
  writing: Subscription | null = null;
  /** Bytes the socket did not take yet; while set, reading is paused. */
  pending: Uint8Array | null = null;
  pendingOff = 0;
  closed = false;

  constructor(readonly fd: number) {}

  start(): void {
    this.reading = reactor.watch(this.fd, Interest.Readable).subscribe({
      next: this.onReadable,
      error: () => this.close(),
    });
  }

  private readonly onReadable = (ready: number): void => {
    const fd = this.fd;
    for (let i = 0; i < READS_PER_WAKEUP; i++) {
      const n = sys.read(fd, buf, 0, BUF_BYTES);
      if (n > 0) {
        const w = sys.write(fd, buf, 0, n);
        if (w === n) {
          if (n < BUF_BYTES) return; // a short read: the socket is most likely drained
          continue;
        }
        if (w < 0 && w !== sys.EAGAIN) return this.close();
        this.queue(buf.slice(Math.max(w , 0), n));
        return;
      }
      if (n === sys.EAGAIN) {
        // Spurious wakeup, or drained. An error/hangup with nothing to read
        // is final.
        if (ready & Ready.Error) this.close();
        return;
      }
      return this.close(); // 0 = end of stream, or a read error
    }
  };

  /** A partial write: keep the rest, stop reading, flush on writability. */
  private queue(rest: Uint8Array): void {
    this.pending = rest;
    this.pendingOff = 0;
    // Subscribe Writable first, then drop Readable: two interest changes on
    // one registration rather than a deregistration and a new registration.
    this.writing = reactor.watch(this.fd, Interest.Writable).subscribe({
      next: this.onWritable,
      error: () => this.close(),
    });
    this.reading?.unsubscribe();
    this.reading = null;
  }

  private readonly onWritable = (ready: number): void => {
    const p = this.pending;
    if (p === null) return;
    const w = sys.write(this.fd, p, this.pendingOff, p.byteLength - this.pendingOff);
    if (w < 0) {
      if (w !== sys.EAGAIN || ready & Ready.Error) this.close();
      return;
    }
    this.pendingOff += w;
    if (this.pendingOff < p.byteLength) return;
    this.pending = null;
    if (this.closed) return;
    this.start(); // resume reading (merges into the registration)...
    this.writing?.unsubscribe(); // ...then narrow it back to Readable
    this.writing = null;
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reading?.unsubscribe();
    this.writing?.unsubscribe();
    this.reading = this.writing = null;
    conns.delete(this);
    sys.close(this.fd);
  }
}

const conns = new Set<Conn>();

const lfd = sys.socket('ipv4', 'stream');
sys.setsockopt(lfd, 'SO_REUSEADDR', true);
sys.bind(lfd, { address: '127.0.0.1', port });
sys.listen(lfd, 511);

const listener = reactor.watch(lfd, Interest.Readable).subscribe({
  next: () => {
    for (let i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
      const fd = sys.accept(lfd);
      if (fd < 0) {
        if (fd !== sys.EAGAIN) console.error(`accept: ${sys.errnoException(fd, 'accept').message}`);
        return; // EMFILE would spin here; not a concern for this benchmark
      }
      sys.setsockopt(fd, 'TCP_NODELAY', true);
      const c = new Conn(fd);
      conns.add(c);
      c.start();
    }
  },
  error: (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
});

console.log(`listening on 127.0.0.1:${sys.getsockname(lfd).port} (backend ${reactor.backend})`);

function shutdown(): void {
  listener.unsubscribe();
  sys.close(lfd);
  for (const c of [...conns]) c.close();
  reactor.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGUSR2', () => {
  console.log(`stats ${JSON.stringify({ ...reactor.stats, connections: conns.size })}`);
});
