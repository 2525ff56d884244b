/**
 * dns: an authoritative DNS server for one zone, over UDP and TCP on the
 * same port (RFC 1035 §4.2, RFC 7766).
 *
 *   node dist/examples/dns/main.js [--host 127.0.0.1] [--port 5353] [--backend name] [--zone FILE]
 *        [--tcp-query-timeout MS]
 *   dig @127.0.0.1 -p 5353 www.example.test
 *   dig @127.0.0.1 -p 5353 +tcp example.test MX
 *
 * TCP deadlines, so that no peer holds a connection forever: a connection
 * with nothing received or sent for 10 s closes (RFC 7766 §6.2.3: seconds,
 * not minutes), and each query must arrive whole within --tcp-query-timeout
 * ms of its first byte (default 2000; 0 = no limit), else the connection is
 * reset. The second is what a peer dribbling a byte at a time cannot reset.
 * A query is a few hundred bytes sent in one write, so 2 s is generous even
 * on a slow link, and dig itself gives up on a TCP answer after 5 s.
 *
 * UDP and TCP share one port number, so TCP is bound first (port 0 lets the
 * kernel pick one) and UDP then takes the same number; if that number is
 * taken for UDP by someone else, a fresh TCP port is tried.
 */
import * as path from 'node:path';
import { catchError, EMPTY, map, switchMap, takeWhile, type Subscription } from 'rxjs';
import { lengthPrefix, serve, udp, type Reactor, type Server, type UdpSocket } from '../../index';
import { announce, exampleArgs, msFlag, onSignals } from '../common/cli';
import { respond, type Transport } from './responder';
import { QueryTimeoutError, tcpMessages } from './tcp';
import { loadZone, type Zone } from './zone';

/** The zone file is not compiled, so find it in the source tree from dist/examples/dns/. */
const DEFAULT_ZONE = path.resolve(__dirname, '../../../examples/dns/example.zone');
/** Fresh TCP ports tried when UDP finds the kernel's pick taken. */
const BIND_ATTEMPTS = 5;
/** RFC 7766 §6.2.3: servers close idle TCP connections; seconds, not minutes. */
const TCP_IDLE_MS = 10_000;

interface Bound {
  server: Server;
  /** Unsubscribing closes the UDP socket. */
  udpSubscription: Subscription;
}

async function main(): Promise<void> {
  const args = exampleArgs('dns', { port: 5353 }, ['zone', 'tcp-query-timeout']);
  const queryTimeout = msFlag('dns', 'tcp-query-timeout', args.extra['tcp-query-timeout'], 2000);
  const file = args.extra.zone ?? DEFAULT_ZONE;
  let zone: Zone;
  try {
    zone = loadZone(file);
  } catch (err) {
    process.stderr.write(`dns: cannot load zone: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const bound = await bind(args.host, args.port, args.reactor, zone, queryTimeout);
  // Signal handlers first: whoever reads the listening line may signal at once.
  onSignals(async () => {
    bound.udpSubscription.unsubscribe();
    await bound.server.shutdown({ timeoutMs: 2000 });
  });
  announce(bound.server.address!);
}

/** Binds TCP, then UDP on the same port number, retrying with a new ephemeral port if UDP's is taken. */
async function bind(host: string, port: number, reactor: Reactor, zone: Zone, queryTimeout: number): Promise<Bound> {
  for (let attempt = 1; ; attempt++) {
    const server = serve({ host, port, reactor, idleTimeout: TCP_IDLE_MS }, (conn) =>
      conn.data$.pipe(
        tcpMessages({ timeoutMs: queryTimeout }),
        map((query) => answer(zone, query, 'tcp')),
        // Too short to hold a header: there is no ID to answer to, so close.
        takeWhile((reply): reply is Buffer => reply !== null),
        map((reply) => lengthPrefix(reply)),
        catchError((err: unknown) => {
          // A query that did not arrive in time: the peer may still be
          // dribbling, so a half-close would wait for its FIN forever.
          if (err instanceof QueryTimeoutError) conn.reset();
          // Otherwise the peer closed in the middle of a frame: nothing left
          // to answer. (serve() keeps reading after the output completes, so
          // the peer's FIN is still seen and the connection closes.)
          return EMPTY;
        }),
      ),
    );
    const address = await server.listening;
    try {
      return { server, udpSubscription: await bindUdp(host, address.port, reactor, zone) };
    } catch (err) {
      await server.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (port !== 0 || code !== 'EADDRINUSE' || attempt >= BIND_ATTEMPTS) throw err;
    }
  }
}

/** Binds the UDP socket and answers every datagram on it; resolves once bound. */
function bindUdp(host: string, port: number, reactor: Reactor, zone: Zone): Promise<Subscription> {
  return new Promise((resolve, reject) => {
    let socket: UdpSocket | null = null;
    let subscription: Subscription | null = null;
    const bound = () => {
      if (socket !== null && subscription !== null) resolve(subscription);
    };
    subscription = udp({ type: host.includes(':') ? 'udp6' : 'udp4', host, port, reactor })
      .pipe(
        switchMap((s) => {
          socket = s;
          bound();
          return s.messages$;
        }),
      )
      .subscribe({
        next: (m) => {
          const reply = answer(zone, m.data, 'udp');
          if (reply !== null) socket!.send(reply, m.port, m.address);
        },
        error: reject,
      });
    // udp() emits synchronously for an IP literal, before `subscription` was assigned.
    bound();
  });
}

/** respond(), with a bug in it costing one reply rather than the process. */
function answer(zone: Zone, query: Buffer, transport: Transport): Buffer | null {
  try {
    return respond(zone, query, transport);
  } catch (err) {
    process.stderr.write(`dns: failed to answer a ${transport} query: ${(err as Error).stack}\n`);
    return null;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`dns: ${err.message}\n`);
  process.exit(1);
});
