/**
 * One worker of examples/multicore: an echo server on the shared port,
 * prefixing each reply with its thread id so clients can see the spread.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { map } from 'rxjs';
import { Reactor, serve, type BackendName } from '../../index';

const { host, port, backend } = workerData as { host: string; port: number; backend: BackendName };
const reactor = new Reactor({ backend });
const server = serve({ host, port, reusePort: true, reactor }, (conn) =>
  conn.data$.pipe(map((chunk) => Buffer.concat([Buffer.from(`worker ${threadId}: `), chunk]))),
);
server.listening.then(
  () => parentPort!.postMessage({ type: 'ready' }),
  (err: Error) => {
    process.stderr.write(`worker ${threadId}: ${err.message}\n`);
    process.exit(1);
  },
);
parentPort!.on('message', (msg: { type?: string }) => {
  if (msg.type !== 'shutdown') return;
  server.shutdown({ timeoutMs: 2000 }).then(() => {
    reactor.close();
    parentPort!.close();
  });
});
