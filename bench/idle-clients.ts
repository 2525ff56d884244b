/**
 * Holds N idle TCP connections to 127.0.0.1:PORT for the idle-memory
 * benchmark: connects ramped (200 at a time, as opening thousands at once
 * draws ECONNRESET here), prints `ready N`, then waits until stdin closes.
 *
 *   node dist/bench/idle-clients.js PORT N
 */
import * as net from 'node:net';

const port = Number(process.argv[2]);
const total = Number(process.argv[3]);
const sockets: net.Socket[] = [];
let connected = 0;

function batch(): void {
  const n = Math.min(200, total - sockets.length);
  let pending = n;
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1', () => {
      connected++;
      if (--pending > 0) return;
      if (sockets.length < total) setTimeout(batch, 5);
      else process.stdout.write(`ready ${connected}\n`);
    });
    s.on('error', (err) => {
      process.stderr.write(`idle-clients: ${err.message}\n`);
      process.exit(1);
    });
    sockets.push(s);
  }
}

batch();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
// Bounded: never outlive a forgotten benchmark.
setTimeout(() => process.exit(3), 120_000).unref();
