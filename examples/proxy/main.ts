/**
 * A TCP proxy: every accepted connection is relayed to --upstream.
 *
 *   node dist/examples/proxy/main.js --upstream HOST:PORT [--host 127.0.0.1] [--port 7100] [--backend epoll]
 *   curl http://127.0.0.1:7100/          # with --upstream 127.0.0.1:8080 (the http example)
 *
 * Both directions are pipeTo()s, so backpressure couples the two sockets: a
 * slow reader on one side pauses reading on the other instead of buffering.
 * A FIN from either side half-closes the other; a reset resets the other.
 * An upstream that refuses (or does not answer within 5 s) gets the client
 * a FIN and us one line on stderr. Unsubscribing the handler's observable
 * (serve() does when the client closes) aborts a pending connect.
 */
import { catchError, EMPTY, ignoreElements, merge, mergeMap } from 'rxjs';
import { connect, pipeTo, serve } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';

const CONNECT_TIMEOUT_MS = 5000;
/** How long a refused client may take to close its side after our FIN. */
const LINGER_MS = 2000;

const { host, port, reactor, extra } = exampleArgs('proxy', { port: 7100 }, ['upstream']);
const upstream = parseHostPort(extra.upstream);
if (upstream === null) {
  process.stderr.write(
    `proxy: ${extra.upstream === undefined ? '--upstream HOST:PORT is required' : `bad --upstream ${extra.upstream}`}\n` +
      'usage: node proxy --upstream HOST:PORT [--host HOST] [--port N] [--backend epoll|kqueue|poll|select]\n',
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

const server = serve({ host, port, reactor }, (client) =>
  // The client is not read until upstream is connected (pipeTo subscribes
  // its data$), so nothing it sends early is lost or buffered here.
  connect({ ...upstream, reactor, timeout: CONNECT_TIMEOUT_MS }).pipe(
    catchError((err: NodeJS.ErrnoException) => {
      process.stderr.write(`proxy: upstream ${upstream.host}:${upstream.port}: ${err.code ?? err.message}\n`);
      // Completing lets serve() half-close the client and drain its input
      // until its FIN (closing with unread input would send it a reset); a
      // client that never sends one is closed after LINGER_MS.
      const linger = setTimeout(() => client.close(), LINGER_MS);
      linger.unref();
      client.closed$.subscribe(() => clearTimeout(linger));
      return EMPTY;
    }),
    mergeMap((up) =>
      merge(pipeTo(client, up), pipeTo(up, client)).pipe(
        ignoreElements(),
        // pipeTo has already reset the other side; the error is a peer's doing.
        catchError(() => EMPTY),
      ),
    ),
  ),
);

server.listening.then(
  (address) => announce(address),
  (err: Error) => {
    process.stderr.write(`proxy: ${err.message}\n`);
    process.exitCode = 1;
  },
);
onSignals(() => server.shutdown({ timeoutMs: 3000 }));
