/**
 * Multi-core TCP echo: one server per worker_thread, all on one port with
 * SO_REUSEPORT, so the kernel spreads connections over the workers (one
 * reactor each). Each reply line names the worker that served it.
 *
 *   node dist/examples/multicore/main.js [--port 7003] [--workers N] [--backend epoll]
 *   nc 127.0.0.1 7003
 */
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startWorkers, type WorkerPool } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';

const { host, port, reactor, extra } = exampleArgs('multicore', { port: 7003 }, ['workers']);
const count = extra.workers === undefined ? Math.max(2, os.availableParallelism()) : Number(extra.workers);
// The main thread needs no reactor of its own here.
reactor.close();

let pool: WorkerPool | null = null;
// Signals first: a SIGTERM that arrives right after the "listening on" line
// must find its handler installed.
onSignals(async () => {
  if (pool === null) process.exit(0);
  for (const w of pool.workers) w.postMessage({ type: 'shutdown' });
  await Promise.all(pool.workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
});

async function main(): Promise<void> {
  // With --port 0 every worker would pick a different port: pick one here
  // (bind, read, close) and hand the same number to all of them.
  const chosen = port !== 0 ? port : await freePort(host);
  pool = startWorkers(path.join(__dirname, 'worker.js'), {
    count,
    workerData: { host, port: chosen, backend: reactor.backend },
  });
  await pool.ready;
  announce({ address: host, port: chosen }, `(${count} workers)`);
}

function freePort(host: string): Promise<number> {
  // node:net only to ask the kernel for a free port number once, at startup.
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

main().catch((err: Error) => {
  process.stderr.write(`multicore: ${err.message}\n`);
  process.exitCode = 1;
});
