/**
 * examples/dns's responder on node:dgram instead of rxnet, for bench/examples.ts:
 * UDP only, the same zone (examples/dns/example.zone), the same respond().
 *
 *   node dist/bench/servers/dns-dgram.js [--port N] [--zone FILE]
 *
 * Prints `listening on 127.0.0.1:PORT` once ready; exits 0 on SIGTERM/SIGINT.
 */
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import { respond } from '../../examples/dns/responder';
import { loadZone } from '../../examples/dns/zone';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const zone = loadZone(arg('--zone') ?? path.resolve(__dirname, '../../../examples/dns/example.zone'));
const socket = dgram.createSocket('udp4');

socket.on('message', (query, rinfo) => {
  let reply: Buffer | null;
  try {
    reply = respond(zone, query, 'udp');
  } catch (err) {
    process.stderr.write(`dns-dgram: failed to answer a query: ${(err as Error).stack}\n`);
    return;
  }
  if (reply !== null) socket.send(reply, rinfo.port, rinfo.address);
});
socket.on('error', (err) => {
  process.stderr.write(`dns-dgram: ${err.message}\n`);
  process.exit(1);
});
socket.bind(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${socket.address().port} (node:dgram)`);
});

function shutdown(): void {
  socket.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
