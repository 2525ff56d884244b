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

/** Waits up to `ms` for the example to hold exactly `count` sockets; returns how many it holds then. */
export async function serverSocketsBackTo(ex: RunningExample, count: number, ms = 3000): Promise<number> {
  const deadline = Date.now() + ms;
  while (serverSockets(ex) !== count && Date.now() < deadline) await delay(10);
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
