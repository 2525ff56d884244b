import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { assertNoFdLeak, backend, openFds } from '../helpers/leaks';
import { fixture, within, workerExit, workerMessage } from '../helpers/processes';
import { nodeTlsConnect } from '../helpers/tls';

test.serial('a worker terminated with TLS sessions alive (one connected, one mid-handshake) frees them: no crash, its peers see the close, no fd left', async (t) => {
  const before = openFds();
  const worker = new Worker(fixture('tls-worker'), { workerData: { backend } });
  const exit = workerExit(worker);
  try {
    const { port } = await within(workerMessage<{ port: number }>(worker), 10_000, 'the worker to listen');
    const { socket, received } = await nodeTlsConnect(port);
    socket.write('alive');
    await received.until(() => received.text() === 'alive', 'the echo');
    const half = net.connect(port, '127.0.0.1');
    half.on('error', () => {});
    half.resume(); // reading, so its FIN is seen
    const halfClosed = new Promise((resolve) => half.once('close', resolve));
    await new Promise((resolve) => half.once('connect', resolve));
    half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // the start of a ClientHello
    let stats: { tlsSessions: number; connections: number } = { tlsSessions: 0, connections: 0 };
    for (let i = 0; i < 200 && stats.tlsSessions < 2; i++) {
      const reply = workerMessage<typeof stats>(worker);
      worker.postMessage('stats');
      stats = await within(reply, 5000, 'stats');
      if (stats.tlsSessions < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    t.deepEqual(stats, { tlsSessions: 2, connections: 1, type: 'stats' } as typeof stats);
    t.is(await within(worker.terminate(), 10_000, 'terminate()'), 1);
    await received.close();
    await within(halfClosed, 5000, 'the half-done peer to be closed');
    t.is(await exit, 1);
  } finally {
    await worker.terminate();
  }
  await assertNoFdLeak(t, before);
});
