/**
 * A TCP proxy: every accepted connection is relayed to --upstream.
 *
 *   node dist/examples/proxy/main.js --upstream HOST:PORT [--host 127.0.0.1] [--port 7100] [--backend epoll]
 *        [--send-proxy-protocol v1|v2] [--proxy-protocol v1|v2|any] [--trusted-proxies CIDR,...] [--handoff PATH]
 *   curl http://127.0.0.1:7100/          # with --upstream 127.0.0.1:8080 (the http example)
 *
 * Both directions are pipeTo()s, so backpressure couples the two sockets: a
 * slow reader on one side pauses reading on the other instead of buffering.
 * A FIN from either side half-closes the other; a reset resets the other.
 * An upstream that refuses (or does not answer within 5 s) gets the client
 * a FIN and us one line on stderr.
 *
 * While the upstream connect is pending, the client is read (up to its
 * high-water mark, kept and forwarded once connected), so a client that
 * leaves is noticed at once and the connect aborted, instead of both
 * sockets waiting for the connect timeout. "Leaves" means a reset, or a FIN
 * before it sent anything. A FIN after some bytes is relayed as a
 * half-close: TCP cannot tell "sent a request, then shut down its sending
 * side" (printf ... | nc -N) from "sent a request and went away", and
 * aborting would break the first; the second costs at most the connect
 * timeout, or ends when upstream's reply meets the client's reset.
 *
 * --send-proxy-protocol v1|v2 passes the client's address on to the
 * upstream in a PROXY protocol header (HAProxy's send-proxy), so the
 * upstream (e.g. the http example with --proxy-protocol) sees the real
 * client. With --proxy-protocol this proxy itself sits behind another one,
 * and what it passes on is the original client it was told of.
 */
import { catchError, EMPTY, ignoreElements, merge, Observable, type Subscription } from 'rxjs';
import { connect, pipeTo, serve, type Connection, type ConnectOptions } from '../../index';
import { exampleArgs, runServer, SERVER_FLAGS } from '../common/cli';

const CONNECT_TIMEOUT_MS = 5000;
/** How long a refused client may take to close its side after our FIN. */
const LINGER_MS = 2000;

const args = exampleArgs('proxy', { port: 7100 }, ['upstream', 'send-proxy-protocol', ...SERVER_FLAGS]);
const { reactor, extra } = args;
const sendProxyFlag = extra['send-proxy-protocol'];
if (sendProxyFlag !== undefined && sendProxyFlag !== 'v1' && sendProxyFlag !== 'v2') {
  process.stderr.write(`proxy: bad --send-proxy-protocol ${sendProxyFlag} (v1 or v2)\n`);
  process.exit(2);
}
const sendProxy = sendProxyFlag as 'v1' | 'v2' | undefined;
const upstream = parseHostPort(extra.upstream);
if (upstream === null) {
  process.stderr.write(
    `proxy: ${extra.upstream === undefined ? '--upstream HOST:PORT is required' : `bad --upstream ${extra.upstream}`}\n` +
      'usage: node proxy --upstream HOST:PORT [--host HOST] [--port N] [--backend io_uring|epoll|kqueue|poll|select]\n',
  );
  process.exit(2);
}

/** `host:port` or `[v6]:port`; null if malformed. */
function parseHostPort(s: string | undefined): { host: string; port: number } | null {
  const m = s === undefined ? null : /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (m === null) return null;
  const p = Number(m[3]);
  return p > 0 && p < 65536 ? { host: m[1] ?? m[2], port: p } : null;
}

/** With --send-proxy-protocol: a header naming the client (and the address it reached us at). */
function proxyHeaderFor(client: Connection): Partial<ConnectOptions> {
  if (sendProxy === undefined) return {};
  const { remote, local } = client;
  // v1 and v2 carry IP endpoints of one family here; a Unix client is sent as LOCAL.
  if (remote.family === 'unix' || remote.family !== local.family) return { proxyProtocol: sendProxy, proxyHeader: { command: 'LOCAL' } };
  return {
    proxyProtocol: sendProxy,
    proxyHeader: { source: { address: remote.address, port: remote.port }, destination: { address: local.address, port: local.port } },
  };
}

/**
 * Relays `client` to `to` and back; completes when both directions are done
 * (serve() then half-closes the client and drains it until its FIN).
 */
function relay(client: Connection, to: { host: string; port: number }): Observable<never> {
  return new Observable<never>((subscriber) => {
    /** The client's bytes read while connecting, in order. */
    const early: Buffer[] = [];
    let earlyBytes = 0;
    let connected = false;
    let waiting: Subscription | null = null;
    let piping: Subscription | null = null;
    const stopWaiting = () => {
      waiting?.unsubscribe();
      waiting = null;
    };
    const connecting = connect({ ...to, reactor, timeout: CONNECT_TIMEOUT_MS, ...proxyHeaderFor(client) }).subscribe({
      next: (up) => {
        connected = true;
        stopWaiting();
        // Unsubscribing data$ keeps whatever it reads later for the next
        // subscriber, so nothing is lost between here and pipeTo.
        if (client.isPaused) client.resume();
        for (const chunk of early) up.write(chunk);
        early.length = 0;
        piping = merge(pipeTo(client, up), pipeTo(up, client))
          .pipe(
            ignoreElements(),
            // pipeTo has already reset the other side; the error is a peer's doing.
            catchError(() => EMPTY),
          )
          .subscribe(subscriber);
      },
      error: (err: NodeJS.ErrnoException) => {
        stopWaiting();
        early.length = 0;
        process.stderr.write(`proxy: upstream ${to.host}:${to.port}: ${err.code ?? err.message}\n`);
        // Completing lets serve() half-close the client and drain its input
        // until its FIN (closing with unread input would send it a reset); a
        // client that never sends one is closed after LINGER_MS.
        const linger = setTimeout(() => client.close(), LINGER_MS);
        linger.unref();
        client.closed$.subscribe(() => clearTimeout(linger));
        subscriber.complete();
      },
    });
    if (!connected && !subscriber.closed) {
      waiting = client.data$.subscribe({
        next: (chunk) => {
          early.push(chunk);
          earlyBytes += chunk.length;
          // Bounded: past the high-water mark the rest waits in the kernel.
          if (earlyBytes >= client.highWaterMark) client.pause();
        },
        complete: () => {
          waiting = null;
          if (early.length > 0) return; // a half-close after its request: relayed once connected
          connecting.unsubscribe(); // aborts the connect and closes its socket
          subscriber.complete();
        },
        error: () => {
          // A reset: the library has closed the client.
          waiting = null;
          connecting.unsubscribe();
          subscriber.complete();
        },
      });
    }
    return () => {
      stopWaiting();
      connecting.unsubscribe();
      piping?.unsubscribe();
    };
  });
}

void runServer('proxy', args, (listen) => serve(listen, (client) => relay(client, upstream)), { timeoutMs: 3000 });
