import * as net from 'node:net';
import test from 'ava';
import { startWorkers } from '../../index';
import { backend, delay, withReactor } from '../helpers/leaks';
import { fixture, workerExit, workerMessage } from '../helpers/processes';
import { closedPort, destroy } from '../helpers/sockets';
import { HOST, receive, rejection, within } from '../helpers/streams';

const CONNECTIONS = 50;

/** Connects, reads the worker's threadId up to the server's FIN. */
async function askThreadId(port: number): Promise<number> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, HOST, () => resolve(s));
    s.once('error', reject);
  });
  const got = receive(socket);
  const text = (await got.end(5000)).toString();
  await destroy(socket);
  return Number(text.trim());
}

test.serial(`startWorkers: ${CONNECTIONS} connections to a reusePort port land on both of 2 workers; they stop and exit with code 0`, (t) =>
  withReactor(t, async () => {
    const port = closedPort();
    const pool = startWorkers(fixture('streams/thread-id-server'), { count: 2, workerData: { port, backend } });
    const exits = pool.workers.map(workerExit);
    try {
      await within(pool.ready, 10_000, 'the workers to listen');
      const threadIds = new Set(pool.workers.map((w) => w.threadId));
      const seen = new Map<number, number>();
      for (let i = 0; i < CONNECTIONS; i += 10) {
        const wave = await Promise.all(Array.from({ length: 10 }, () => askThreadId(port)));
        for (const id of wave) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      t.true([...seen.keys()].every((id) => threadIds.has(id)), `answers came from the workers: ${[...seen.keys()].join(', ')}`);
      t.is(seen.size, 2, `connections per worker: ${JSON.stringify([...seen])}`);

      const stopped = pool.workers.map((w) => workerMessage<{ type: string; accepted: number; registrations: number }>(w));
      for (const w of pool.workers) w.postMessage('stop');
      const reports = await within(Promise.all(stopped), 5000, 'the workers to stop');
      t.deepEqual(
        reports.map((r) => ({ type: r.type, registrations: r.registrations })),
        [
          { type: 'stopped', registrations: 0 },
          { type: 'stopped', registrations: 0 },
        ],
      );
      t.is(reports[0].accepted + reports[1].accepted, CONNECTIONS);
      t.deepEqual(await within(Promise.all(exits), 5000, 'the workers to exit by themselves'), [0, 0]);
      await within(pool.terminate(), 5000, 'terminate() after exit');
      t.is((await rejection(askThreadId(port))).code, 'ECONNREFUSED', 'nothing listens any more');
    } finally {
      await pool.terminate();
    }
  }));

test.serial('startWorkers: terminate() while the workers serve open connections ends the threads without a crash and releases their sockets', (t) =>
  withReactor(t, async () => {
    const port = closedPort();
    const pool = startWorkers(fixture('streams/thread-id-server'), { count: 2, workerData: { port, backend } });
    const held: net.Socket[] = [];
    try {
      await within(pool.ready, 10_000, 'the workers to listen');
      // Connections the workers answered and that stay open (the client does not end).
      for (let i = 0; i < 6; i++) {
        const s = await new Promise<net.Socket>((resolve, reject) => {
          const c = net.connect({ port, host: HOST, allowHalfOpen: true }, () => resolve(c));
          c.once('error', reject);
        });
        s.on('error', () => {});
        await receive(s).end(5000);
        held.push(s);
      }
      const codes = await within(pool.terminate(), 5000, 'terminate()');
      t.deepEqual(codes, [1, 1], 'exit code 1 is what worker.terminate() reports; no crash, no signal');
      await delay(50);
      t.is((await rejection(askThreadId(port))).code, 'ECONNREFUSED', "the terminated workers' listeners are closed");
    } finally {
      for (const s of held) await destroy(s);
      await pool.terminate();
    }
  }));
