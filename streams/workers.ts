import { Worker, type WorkerOptions } from 'node:worker_threads';
import { rxnetError } from '../reactor/errors';
import { validateInteger, validateString } from '../reactor/validate';

export interface WorkerPool {
  readonly workers: readonly Worker[];
  /** Resolves once every worker has posted `{ type: 'ready' }` (or at once if none is awaited). */
  readonly ready: Promise<void>;
  /** Terminates every worker; resolves with their exit codes. */
  terminate(): Promise<number[]>;
}

/**
 * Starts `count` worker_threads running `modulePath`, one reactor each (every
 * thread has its own `Reactor.default()`). Serving one port from several
 * workers takes `reusePort: true` in each worker's serve()/udp(): the kernel
 * then spreads connections and datagrams over their sockets.
 *
 * A worker signals readiness with `parentPort.postMessage({ type: 'ready' })`.
 *
 * @example
 * // main.js
 * const pool = startWorkers(require.resolve('./echo-worker.js'), { count: os.availableParallelism() });
 * await pool.ready;
 * // echo-worker.js
 * serve({ port: 7000, reusePort: true }, (conn) => conn.data$).listening
 *   .then(() => parentPort.postMessage({ type: 'ready' }));
 */
export function startWorkers(
  modulePath: string,
  options: { count: number; workerData?: unknown; awaitReady?: boolean; workerOptions?: WorkerOptions },
): WorkerPool {
  validateString(modulePath, 'modulePath');
  validateInteger(options.count, 'options.count', 1, 1024);
  const workers: Worker[] = [];
  const readies: Promise<void>[] = [];
  for (let i = 0; i < options.count; i++) {
    const worker = new Worker(modulePath, { ...options.workerOptions, workerData: options.workerData });
    workers.push(worker);
    if (options.awaitReady !== false) {
      readies.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (msg: { type?: string }) => {
            if (msg && msg.type === 'ready') {
              worker.off('message', onMessage);
              resolve();
            }
          };
          worker.on('message', onMessage);
          worker.once('error', reject);
          worker.once('exit', (code) => reject(rxnetError(Error, 'ERR_RXNET_WORKER_EXIT', `worker ${i} exited with code ${code} before it was ready`)));
        }),
      );
    }
  }
  const ready = Promise.all(readies).then(() => undefined);
  ready.catch(() => {});
  return {
    workers,
    ready,
    terminate: () => Promise.all(workers.map((w) => w.terminate())),
  };
}
