/**
 * TCP echo: every byte a client sends comes back.
 *
 *   node dist/examples/tcp-echo/main.js [--host 127.0.0.1] [--port 7000] [--backend epoll]
 *        [--tls-cert cert.pem --tls-key key.pem]
 *   nc 127.0.0.1 7000
 *   openssl s_client -connect 127.0.0.1:7000      # with --tls-cert/--tls-key
 *
 * The handler's return value *is* the reply stream: serve() writes it with
 * backpressure (a client that sends but never reads gets its input paused
 * instead of growing our memory) and half-closes when the client does.
 */
import { serve } from '../../index';
import { announce, exampleArgs, onSignals, TLS_FLAGS, tlsFromFlags } from '../common/cli';

const { host, port, reactor, extra } = exampleArgs('tcp-echo', { port: 7000 }, TLS_FLAGS);
const tls = tlsFromFlags('tcp-echo', extra);
const server = serve({ host, port, reactor, tls }, (conn) => conn.data$);

server.listening.then((address) => announce(address, tls ? '(tls)' : ''), (err: Error) => {
  process.stderr.write(`tcp-echo: ${err.message}\n`);
  process.exitCode = 1;
});
onSignals(() => server.shutdown({ timeoutMs: 2000 }));
