/**
 * For the demo servers' deadline tests: peers that dribble bytes (the
 * Slowloris pattern) and a count of the sockets a server process holds, to
 * prove it let go of them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { RunningExample } from './example';
import { delay } from './leaks';

/** Sockets the example process holds open (from /proc/<pid>/fd). */
export function serverSockets(ex: RunningExample): number {
  const dir = `/proc/${ex.proc.pid}/fd`;
  let n = 0;
  for (const fd of fs.readdirSync(dir)) {
    try {
      if (fs.readlinkSync(`${dir}/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/**
 * For a failure message: the example's TCP sockets as ss(8) lists them
 * (state, queues, addresses), so a socket left open says which one it is.
 */
export function socketStates(ex: RunningExample): string {
  // Lists every TCP socket of the machine: after a suite's load tests that
  // is tens of thousands in TIME_WAIT, past spawnSync's default 1 MiB.
  const r = spawnSync('ss', ['-tanpH'], { encoding: 'utf8', timeout: 5000, maxBuffer: 256 * 1024 * 1024 });
  if (r.error !== undefined) return (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? '(ss is not installed)' : `(ss failed: ${r.error.message})`;
  if (r.status !== 0) return `(ss failed: ${r.stderr.trim()})`;
  const mine = r.stdout.split('\n').filter((line) => line.includes(`pid=${ex.proc.pid},`));
  return mine.length > 0 ? mine.map((line) => line.replace(/\s+/g, ' ')).join(' | ') : '(no TCP sockets)';
}

/**
 * Connections waiting in the accept queue of the TCP socket listening on
 * `port` (Linux: /proc/net/tcp's rx_queue of a LISTEN socket is its
 * accept backlog). A client such as `nc -z` exits once its handshake is
 * done, before the server may even have accepted: until then the server's
 * socket count is still idle, though the connection is yet to come.
 */
export function acceptQueue(port: number): number {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address:port, f[3] state (0A: LISTEN), f[4] tx_queue:rx_queue
      if (f.length > 4 && f[3] === '0A' && Number.parseInt(f[1].split(':')[1], 16) === port) return Number.parseInt(f[4].split(':')[1], 16);
    }
  }
  return 0;
}

/**
 * Waits up to `ms` for the example to hold exactly `count` sockets with no
 * connection left in its listener's accept queue, seen twice 10 ms apart;
 * returns how many it holds then. The queue matters after a client that has
 * already gone (nc -z exits once its handshake is done): until the server
 * accepts, its count is still the old one though a connection is to come.
 * Twice, because accept(2) takes a connection off the queue a moment before
 * its descriptor shows in /proc/<pid>/fd.
 */
export async function serverSocketsBackTo(ex: RunningExample, count: number, ms = 3000): Promise<number> {
  const deadline = Date.now() + ms;
  let settled = 0;
  while (settled < 2 && Date.now() < deadline) {
    settled = acceptQueue(ex.port) === 0 && serverSockets(ex) === count ? settled + 1 : 0;
    if (settled < 2) await delay(10);
  }
  return serverSockets(ex);
}

/**
 * A peer that sends `first`, then `byte` every `everyMs`, and keeps doing so
 * after the server's FIN (a misbehaving peer does not stop at a FIN), until
 * its writes fail because the server closed the connection, or {@link stop}.
 */
export class Dribbler {
  readonly socket: net.Socket;
  /** Everything received, latin1. */
  received = '';
  /** ms after the first write when the server's FIN arrived; null before. */
  finAfter: number | null = null;
  /** ms after the first write when the connection was gone (a write failed, or a reset); null before. */
  goneAfter: number | null = null;
  readonly closed: Promise<void>;
  private started = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(port: number, first: string, byte: string, everyMs: number) {
    this.socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => (this.received += d));
    this.socket.on('end', () => {
      if (this.finAfter === null) this.finAfter = Date.now() - this.started;
    });
    this.socket.on('error', () => this.gone());
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    this.socket.on('connect', () => {
      this.started = Date.now();
      this.socket.write(first);
      this.timer = setInterval(() => {
        if (!this.socket.destroyed) this.socket.write(byte);
      }, everyMs);
    });
  }

  /** Stops dribbling and closes; resolves once the socket is closed. */
  stop(): Promise<void> {
    this.stopTimer();
    this.socket.destroy();
    return this.closed;
  }

  private gone(): void {
    if (this.goneAfter === null) this.goneAfter = Date.now() - this.started;
    this.stopTimer();
    this.socket.destroy();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
