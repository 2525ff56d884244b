/**
 * A sockperf-compatible UDP reflector, on rxnet's udp() or on node:dgram
 * (`--impl dgram`), the same logic in both. sockperf's 14-byte header
 * carries big-endian uint16 flags at offset 8: reply only to datagrams with
 * the pong-request bit (0x2) set, after clearing the client bit (0x1).
 *
 *   node dist/bench/servers/udp-reflect.js [--port N] [--impl rxnet|dgram] [--backend name]
 */
import * as dgram from 'node:dgram';
import { switchMap, tap } from 'rxjs';
import { Reactor, udp, type BackendName } from '../../index';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const impl = arg('--impl') ?? 'rxnet';
const CLIENT = 0x1;
const PONG_REQUEST = 0x2;

/** Turns a ping into its pong in place; false if no reply is wanted. */
function reflect(d: Buffer): boolean {
  if (d.length < 14) return false;
  const flags = d.readUInt16BE(8);
  if (!(flags & PONG_REQUEST)) return false;
  d.writeUInt16BE(flags & ~CLIENT, 8);
  return true;
}

if (impl === 'dgram') {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (d, from) => {
    if (reflect(d)) socket.send(d, from.port, from.address);
  });
  socket.bind(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${socket.address().port} (node:dgram)`));
  process.on('SIGTERM', () => socket.close(() => process.exit(0)));
} else {
  const backend = arg('--backend') as BackendName | undefined;
  const reactor = backend ? new Reactor({ backend }) : Reactor.default();
  // sockperf's -m 64 datagrams fit small slots: more per recvmmsg.
  const sub = udp({ host: '127.0.0.1', port, maxMessageSize: 2048, reactor })
    .pipe(
      switchMap((socket) => {
        console.log(`listening on 127.0.0.1:${socket.address.port} (rxnet udp, ${reactor.backend})`);
        return socket.messages$.pipe(
          tap((m) => {
            if (reflect(m.data)) socket.send(m.data, m.port, m.address);
          }),
        );
      }),
    )
    .subscribe();
  process.on('SIGTERM', () => {
    sub.unsubscribe();
    process.exit(0);
  });
}
