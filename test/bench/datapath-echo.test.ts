/**
 * bench/servers/datapath-echo, the floor bench:streams measures serve()
 * against, must be a correct echo or its figures mean nothing: every client
 * gets exactly its bytes back, also when the kernel takes a write only in
 * part (a client that does not read for a while), and SIGTERM exits 0.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);
const SCRIPT = '../bench/servers/datapath-echo.js';

/** Sends `input`, half-closes, reads nothing for `stallMs`, then resolves with all that came back before the server's FIN. */
function echo(port: number, input: Buffer, stallMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    if (stallMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), stallMs);
    }
    socket.end(input);
  });
}

test.serial('8 clients at once get exactly their own bytes back, and SIGTERM exits 0', async (t) => {
  const ex = await start(SCRIPT);
  const inputs = Array.from({ length: 8 }, () => randomBytes(512 * 1024));
  const results = await Promise.all(inputs.map((input) => echo(ex.port, input)));
  results.forEach((r, i) => t.true(r.equals(inputs[i]), `client ${i}: ${r.length} of ${inputs[i].length} bytes`));
  t.is(await ex.stop(), 0, ex.output());
});

test.serial('a client that stops reading: the rest of a partial write waits for writability, nothing is lost', async (t) => {
  const ex = await start(SCRIPT);
  // More than the loopback socket buffers on both sides hold, so the
  // server's writes hit EAGAIN while the client is not reading.
  const input = randomBytes(24 * 1024 * 1024);
  const back = await echo(ex.port, input, 500);
  t.is(back.length, input.length);
  t.true(back.equals(input));
  t.is(await ex.stop(), 0, ex.output());
});
