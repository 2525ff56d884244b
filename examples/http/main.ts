/**
 * A small HTTP/1.1 server: keep-alive, pipelining, static files sent with
 * sendfile(2), byte ranges, conditional GET.
 *
 *   node dist/examples/http/main.js [--host 127.0.0.1] [--port 8080] [--backend epoll]
 *        [--root DIR] [--keep-alive-timeout MS] [--header-timeout MS] [--send-timeout MS]
 *        [--lingering-time MS] [--tls-cert cert.pem --tls-key key.pem]
 *        [--proxy-protocol v1|v2|any] [--trusted-proxies CIDR,...] [--handoff PATH]
 *   curl -i http://127.0.0.1:8080/                 # Hello, World!
 *   curl --cacert cert.pem https://localhost:8080/  # with --tls-cert/--tls-key: HTTPS
 *   curl -i http://127.0.0.1:8080/static/a.txt     # DIR/a.txt
 *   curl http://127.0.0.1:8080/whoami              # 127.0.0.1 54321: the client as the server sees it
 *
 * Only GET and HEAD; a request with a body gets 413 and the connection is
 * closed. Heads are capped at 8 KiB (431) and request-targets at 2 KiB (414).
 *
 * Deadlines (ms; 0 = none), so that no peer holds a connection forever:
 * - --keep-alive-timeout (default 5000, node:http's keepAliveTimeout): a
 *   connection with nothing received or sent and no output pending closes.
 * - --header-timeout (default 20000): a request head must be complete this
 *   long after its first byte, however the bytes trickle in, or it gets 408
 *   and the connection closes. node:http's headersTimeout and nginx's
 *   client_header_timeout default to 60 s; Apache's mod_reqtimeout, made
 *   against Slowloris, to 20 s. A real client sends its head (at most 8 KiB
 *   here) in one segment within milliseconds, so 20 s is generous to slow
 *   links and holds a dribbling peer a third as long as 60 s would.
 * - --send-timeout (default 60000, nginx's send_timeout): output pending and
 *   none of it taken by the peer for this long closes the connection. A
 *   reader that pauses for less than this loses nothing.
 * - --lingering-time (default 2000, like nginx's lingering_time): after the
 *   last response of a connection we close (Connection: close, HTTP/1.0,
 *   errors) has left, how long the peer may take to close first; 0 closes
 *   as soon as it has left.
 *
 * Behind a load balancer (--proxy-protocol, --handoff: see ../common/cli.ts),
 * a drain (SIGTERM, or a successor taking over) answers each connection's
 * next request with `Connection: close`, and gives idle keep-alive
 * connections a second to bring one before their FIN, so that no client
 * loses a request to the race between its next request and our FIN.
 */
import { serve } from '../../index';
import { exampleArgs, msFlag, runServer, SERVER_FLAGS, TLS_FLAGS, tlsFromFlags } from '../common/cli';
import { DEFAULT_TIMEOUTS, serveHttp, type SessionTimeouts } from './session';
import { Site } from './site';
import { StaticRoot } from './static';

const FLAGS = ['root', 'keep-alive-timeout', 'header-timeout', 'send-timeout', 'lingering-time', ...TLS_FLAGS];
const args = exampleArgs('http', { port: 8080 }, [...FLAGS, ...SERVER_FLAGS]);
const { extra } = args;

function fatal(message: string): never {
  process.stderr.write(`http: ${message}\n`);
  process.exit(2);
}

const idleTimeout = msFlag('http', 'keep-alive-timeout', extra['keep-alive-timeout'], 5000);
const sendTimeout = msFlag('http', 'send-timeout', extra['send-timeout'], 60_000);
const timeouts: SessionTimeouts = {
  headerTimeout: msFlag('http', 'header-timeout', extra['header-timeout'], DEFAULT_TIMEOUTS.headerTimeout),
  lingeringTime: msFlag('http', 'lingering-time', extra['lingering-time'], DEFAULT_TIMEOUTS.lingeringTime),
};

let root: StaticRoot | null = null;
if (extra.root !== undefined) {
  try {
    root = new StaticRoot(extra.root);
  } catch (err) {
    fatal(`bad --root: ${(err as Error).message}`);
  }
}

const site = new Site(root);
// HTTPS: ALPN says http/1.1 to clients that ask (curl does); static files
// still go out with sendFile, read and encrypted natively.
const tlsFiles = tlsFromFlags('http', extra);
const tls = tlsFiles && { ...tlsFiles, ALPNProtocols: ['http/1.1'] };
/** How long a keep-alive connection idle at the start of a drain may still bring one more request. */
const IDLE_GRACE_MS = 1000;
void runServer(
  'http',
  args,
  (listen) => {
    const server = serve({ ...listen, idleTimeout, sendTimeout, tls }, (conn) => serveHttp(conn, site, timeouts, () => server.draining));
    return server;
  },
  { timeoutMs: 3000, idleGraceMs: IDLE_GRACE_MS, label: tls ? '(tls)' : '' },
);
