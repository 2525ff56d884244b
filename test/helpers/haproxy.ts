/**
 * HAProxy (Debian's `haproxy`, installed by .ci/run) as a real PROXY
 * protocol sender: started in the foreground on a config written to a
 * temporary directory, stopped at the end of the test.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ids from '../fixtures/tls/identities';
import { requireTool } from './clients';
import { delay } from './leaks';
import { linesOf, type NodeChild } from './processes';

export interface RunningHaproxy {
  readonly dir: string;
  /** What HAProxy wrote to stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for HAProxy's bind lines). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts on host:port; rejects after `ms`. */
export async function waitForPort(port: number, host = '127.0.0.1', ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${ms} ms`);
    await delay(20);
  }
}

/**
 * The test server identity (test/fixtures/tls/identities.ts: localhost and
 * 127.0.0.1, signed by the test CA) as one PEM file, as HAProxy's `crt`
 * takes it. Committed, not made with `openssl req`: HAProxy is the only
 * program these tests need.
 */
export function serverPem(dir: string): string {
  const pem = path.join(dir, 'site.pem');
  fs.writeFileSync(pem, ids.SERVER_CERT + ids.SERVER_KEY);
  return pem;
}

/**
 * Starts `haproxy -db -f <config>` (foreground); `config(dir)` gets the
 * temporary directory (for certificates) and returns the config text.
 * Resolves once every port in `ready` accepts connections.
 */
export async function startHaproxy(config: (dir: string) => string, ready: number[]): Promise<RunningHaproxy> {
  requireTool('haproxy');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config(dir));
  const check = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8', timeout: 10_000 });
  if (check.status !== 0) throw new Error(`haproxy -c refused the config:\n${check.stdout}${check.stderr}\n${fs.readFileSync(file, 'utf8')}`);
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const proc: NodeChild = linesOf(child, 'haproxy');
  try {
    for (const port of ready) await waitForPort(port);
  } catch (err) {
    await proc.kill();
    throw new Error(`${(err as Error).message}; haproxy said:\n${stderr}`);
  }
  return {
    dir,
    log: () => stderr,
    async stop() {
      if (proc.alive()) child.kill('SIGTERM');
      await proc.exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
