/**
 * On io_uring, a FIN requested while a reply was still in the ring went out
 * as an IORING_OP_SHUTDOWN linked behind the send, naming the fd by number;
 * the kernel looks the number up only when it issues the shutdown, after the
 * send completed. A close() in between (kv answers a protocol error, ends,
 * and closes once the reply is handed over, as redis does) freed the number,
 * a new connection got it, and the shutdown hit that connection's socket: a
 * client received a FIN and no reply (12 of 1,200 under load, 1 of 1,000 on a quiet machine). Now the
 * number stays the closed socket's until its linked shutdown completed.
 *
 * The kv demo is the peer here because its close-after-reply is exactly that
 * sequence; four clients at once keep the fd numbers turning over. Runs on
 * every backend: every client must get the whole reply, then the close.
 */
import * as net from 'node:net';
import test from 'ava';
import { startExample } from '../helpers/example';
import { assertNoFdLeak, openFds } from '../helpers/leaks';

const CLIENTS = 4;
const ROUNDS = 500;
const REPLY = '-ERR Protocol error: invalid multibulk length\r\n';

function oneRequest(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`${got}[timeout]`);
    }, 5000);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', (err: NodeJS.ErrnoException) => (got += `[${err.code}]`));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write('*abc\r\n');
  });
}

test.serial(`${CLIENTS} clients x ${ROUNDS}: a reply followed at once by the server's close always arrives whole`, async (t) => {
  const before = openFds();
  const ex = await startExample('kv/main.js');
  try {
    const wrong: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const got = await oneRequest(ex.port);
          if (got !== REPLY) wrong.push(got);
        }
      }),
    );
    t.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${CLIENTS * ROUNDS} clients did not get the reply and a clean close`);
  } finally {
    t.is(await ex.stop(), 0);
  }
  await assertNoFdLeak(t, before);
});
