/**
 * A small HTTP/1.1 server: keep-alive, pipelining, static files sent with
 * sendfile(2), byte ranges, conditional GET.
 *
 *   node dist/examples/http/main.js [--host 127.0.0.1] [--port 8080] [--backend epoll]
 *        [--root DIR] [--idle-timeout MS]
 *   curl -i http://127.0.0.1:8080/                 # Hello, World!
 *   curl -i http://127.0.0.1:8080/static/a.txt     # DIR/a.txt
 *
 * Only GET and HEAD; a request with a body gets 413 and the connection is
 * closed. Heads are capped at 8 KiB (431) and request-targets at 2 KiB (414).
 * Idle keep-alive connections close after --idle-timeout ms (default 5000).
 */
import { serve } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';
import { serveHttp } from './session';
import { Site } from './site';
import { StaticRoot } from './static';

const { host, port, reactor, extra } = exampleArgs('http', { port: 8080 }, ['root', 'idle-timeout']);

function fatal(message: string): never {
  process.stderr.write(`http: ${message}\n`);
  process.exit(2);
}

const idleTimeout = extra['idle-timeout'] === undefined ? 5000 : Number(extra['idle-timeout']);
if (!Number.isInteger(idleTimeout) || idleTimeout < 0) fatal(`bad --idle-timeout ${extra['idle-timeout']}`);

let root: StaticRoot | null = null;
if (extra.root !== undefined) {
  try {
    root = new StaticRoot(extra.root);
  } catch (err) {
    fatal(`bad --root: ${(err as Error).message}`);
  }
}

const site = new Site(root);
const server = serve({ host, port, reactor, idleTimeout }, (conn) => serveHttp(conn, site));

server.listening.then(
  (address) => announce(address),
  (err: Error) => {
    process.stderr.write(`http: ${err.message}\n`);
    process.exitCode = 1;
  },
);
onSignals(() => server.shutdown({ timeoutMs: 3000 }));
