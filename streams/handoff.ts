/**
 * Zero-downtime handoff of listening sockets from a running process to its
 * successor, over a Unix socket with SCM_RIGHTS (unix(7)).
 *
 * The sequence (both sides may name the same path, so one flag serves every
 * generation of a service):
 *
 * 1. The running server offers: `server.handOff(path)` binds a Unix socket
 *    at `path` (mode 0600) and waits there for a successor.
 * 2. The successor connects: `receiveListeners(path)`. The offering side
 *    takes that one connection, removes `path` (so the successor can offer
 *    there in turn), and sends its listening sockets as SCM_RIGHTS with one
 *    frame describing them.
 * 3. The successor starts accepting on them (`serve({ fd })`) and calls
 *    `handover.ready()`.
 * 4. On "ready", the old server stops accepting (closing its own descriptor
 *    only: the socket lives on in the successor) and drains with
 *    `shutdown()`; its `handOff()` resolves once it has drained.
 *
 * Nobody is refused in between: the listening socket is never closed, its
 * queue is never dropped, and from step 3 on both processes accept from it.
 * If the successor dies or never says ready, the old server keeps serving
 * and `handOff()` rejects.
 *
 * Frames are a 4-byte big-endian length and a JSON object, both ways; the
 * descriptors ride on the first byte of the offer's frame.
 */
import * as fs from 'node:fs';
import type { Subscription } from 'rxjs';
import { errnoException, rxnetError, EAGAIN } from '../reactor/errors';
import * as io from '../reactor/io';
import { Interest, Reactor } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateInteger, validateString } from '../reactor/validate';

/** A listening socket received from another process. */
export interface InheritedListener {
  /** Now this process's; pass it to `serve({ fd })` or `listen({ fd })`, which own it from then on. */
  fd: number;
  address: sys.SocketAddress;
}

/** What `receiveListeners()` resolves with. */
export interface Handover {
  /** The process that sent them. */
  readonly pid: number;
  readonly listeners: readonly InheritedListener[];
  /**
   * Tells the old process this one is accepting: it stops accepting and
   * drains. Call it once `serve({ fd })` is listening.
   */
  ready(): void;
  /** Declines: closes the received descriptors; the old process keeps serving. */
  abort(): void;
}

/** Largest frame either side accepts. */
const MAX_FRAME = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
const PROTOCOL = 'rxnet-handoff/1';

interface OfferFrame {
  protocol: string;
  pid: number;
  listeners: sys.SocketAddress[];
}

interface ReadyFrame {
  protocol: string;
  pid: number;
  ready: true;
}

function frame(message: object): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

function handoffError(message: string): Error {
  return rxnetError(Error, 'ERR_RXNET_HANDOFF', message);
}

/**
 * Reads one frame from a connected Unix socket, collecting descriptors that
 * arrive with it. Resolves with the parsed JSON and the descriptors (the
 * caller's to close), rejects on EOF, error, oversize frame or timeout; in
 * every failure the descriptors received so far are closed.
 */
function readFrame(reactor: Reactor, fd: number, timeoutMs: number): Promise<{ message: unknown; fds: number[] }> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.alloc(MAX_FRAME + 4);
    let have = 0;
    const fds: number[] = [];
    let watching: Subscription | null = null;
    const timer = setTimeout(() => fail(handoffError(`no handoff message within ${timeoutMs} ms`)), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      watching?.unsubscribe();
      watching = null;
    };
    const fail = (error: Error) => {
      done();
      for (const f of fds.splice(0)) io.close(f);
      reject(error);
    };
    const onReadable = () => {
      for (;;) {
        const r = sys.recvFds(fd, buf.subarray(have));
        if (r === EAGAIN) return;
        if (typeof r === 'number') return fail(errnoException(r, 'recvmsg'));
        fds.push(...r.fds);
        if (r.truncated) return fail(handoffError('more descriptors than one handoff carries'));
        if (r.bytes === 0) return fail(handoffError('the other process closed the handoff socket'));
        have += r.bytes;
        if (have < 4) continue;
        const length = buf.readUInt32BE(0);
        if (length > MAX_FRAME) return fail(handoffError(`handoff message of ${length} bytes`));
        if (have < 4 + length) continue;
        let message: unknown;
        try {
          message = JSON.parse(buf.toString('utf8', 4, 4 + length));
        } catch {
          return fail(handoffError('malformed handoff message'));
        }
        done();
        return resolve({ message, fds });
      }
    };
    watching = reactor.watch(fd, Interest.Readable).subscribe({ next: onReadable, error: fail });
    // The fd may be readable already; the first wakeup reports it anyway (level-triggered).
  });
}

/** Sends a whole (small) frame; a Unix stream socket with an empty buffer takes it in one sendmsg. */
function sendFrame(fd: number, message: object, fds: readonly number[]): void {
  const bytes = frame(message);
  const r = sys.sendFds(fd, bytes, fds);
  if (r < 0) throw errnoException(r, 'sendmsg');
  if (r !== bytes.length) throw handoffError(`handoff message cut short (${r} of ${bytes.length} bytes)`);
}

/**
 * Connects to a running server's handoff socket at `path` (see
 * `Server#handOff`) and receives its listening sockets. Rejects with the
 * connect error (ENOENT, ECONNREFUSED: nobody offers there, so start
 * fresh) or ERR_RXNET_HANDOFF.
 *
 * @example
 * let fd: number | undefined;
 * let handover: Handover | undefined;
 * try {
 *   handover = await receiveListeners('/run/app/handoff.sock');
 *   fd = handover.listeners[0].fd;
 * } catch { } // nobody to take over from
 * const server = serve(fd === undefined ? { port: 8080 } : { fd }, handler);
 * await server.listening;
 * handover?.ready();                          // the old process drains and exits
 * server.handOff('/run/app/handoff.sock');    // and this one waits for its own successor
 */
export function receiveListeners(path: string, options: { timeoutMs?: number; reactor?: Reactor } = {}): Promise<Handover> {
  validateString(path, 'path');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  validateInteger(timeoutMs, 'options.timeoutMs', 1, 2 ** 31 - 1);
  const reactor = options.reactor ?? Reactor.default();
  let fd: number;
  try {
    fd = sys.socket('unix', 'stream');
  } catch (err) {
    return Promise.reject(err);
  }
  try {
    // A Unix socket connects at once or fails (ENOENT, ECONNREFUSED); a full backlog is EAGAIN.
    sys.connect(fd, { path });
  } catch (err) {
    io.close(fd);
    return Promise.reject(err);
  }
  return readFrame(reactor, fd, timeoutMs).then(
    ({ message, fds }) => {
      const offer = message as Partial<OfferFrame>;
      if (offer.protocol !== PROTOCOL || !Array.isArray(offer.listeners) || offer.listeners.length !== fds.length) {
        for (const f of fds) io.close(f);
        io.close(fd);
        throw handoffError(`unexpected handoff message from ${path}`);
      }
      const listeners = fds.map((f, i) => ({ fd: f, address: offer.listeners![i] }));
      let settled = false;
      return {
        pid: typeof offer.pid === 'number' ? offer.pid : 0,
        listeners,
        ready() {
          if (settled) return;
          settled = true;
          try {
            sendFrame(fd, { protocol: PROTOCOL, pid: process.pid, ready: true } satisfies ReadyFrame, []);
          } finally {
            io.close(fd);
          }
        },
        abort() {
          if (settled) return;
          settled = true;
          for (const l of listeners) io.close(l.fd);
          io.close(fd);
        },
      } satisfies Handover;
    },
    (err: unknown) => {
      io.close(fd);
      throw err;
    },
  );
}

/**
 * The offering side, for `Server#handOff`: waits at `path` for one
 * successor, sends it `fds`, and settles when it says ready (resolves with
 * its pid) or fails (rejects; the caller keeps serving).
 * @internal
 */
export class HandoffOffer {
  private fd = -1;
  private conn = -1;
  private watching: Subscription | null = null;
  private settled = false;
  readonly result: Promise<number>;
  private resolve!: (pid: number) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly reactor: Reactor,
    private readonly path: string,
    private readonly describe: () => { fds: number[]; addresses: sys.SocketAddress[] },
    private readonly timeoutMs: number,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Binds and waits; throws a Node-shaped error if the path cannot be bound. */
  start(): void {
    // A file left by a process that died is stale: the path is ours to take.
    fs.rmSync(this.path, { force: true });
    const fd = sys.socket('unix', 'stream');
    try {
      sys.bind(fd, { path: this.path });
      // Whoever connects gets our listening sockets: only this user may.
      fs.chmodSync(this.path, 0o600);
      sys.listen(fd, 1);
    } catch (err) {
      io.close(fd);
      throw err;
    }
    this.fd = fd;
    this.watching = this.reactor.watch(fd, Interest.Readable).subscribe({ next: () => this.onSuccessor(), error: (err: Error) => this.fail(err) });
  }

  /** Gives up waiting (the server is shutting down); the returned promise rejects. */
  cancel(): void {
    this.fail(handoffError('handoff cancelled'));
  }

  private onSuccessor(): void {
    const conn = sys.accept(this.fd);
    if (conn === EAGAIN) return;
    if (conn < 0) return this.fail(errnoException(conn, 'accept'));
    // One successor per offer: the path is free for it to offer in turn.
    this.closeOffer();
    this.conn = conn;
    const { fds, addresses } = this.describe();
    try {
      sendFrame(conn, { protocol: PROTOCOL, pid: process.pid, listeners: addresses } satisfies OfferFrame, fds);
    } catch (err) {
      return this.fail(err as Error);
    }
    readFrame(this.reactor, conn, this.timeoutMs).then(
      ({ message, fds: stray }) => {
        for (const f of stray) io.close(f);
        const ready = message as Partial<ReadyFrame>;
        if (ready.protocol !== PROTOCOL || ready.ready !== true) return this.fail(handoffError('unexpected reply from the successor'));
        this.settle();
        this.resolve(typeof ready.pid === 'number' ? ready.pid : 0);
      },
      (err: Error) => this.fail(err),
    );
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settle();
    this.reject(error);
  }

  private settle(): void {
    this.settled = true;
    this.closeOffer();
    if (this.conn >= 0) io.close(this.conn);
    this.conn = -1;
  }

  private closeOffer(): void {
    this.watching?.unsubscribe();
    this.watching = null;
    if (this.fd >= 0) {
      io.close(this.fd);
      this.fd = -1;
      fs.rmSync(this.path, { force: true });
    }
  }
}
