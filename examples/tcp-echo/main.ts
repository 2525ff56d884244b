/**
 * TCP echo: every byte a client sends comes back.
 *
 *   node dist/examples/tcp-echo/main.js [--host 127.0.0.1] [--port 7000] [--backend epoll]
 *   nc 127.0.0.1 7000
 *
 * The handler's return value *is* the reply stream: serve() writes it with
 * backpressure (a client that sends but never reads gets its input paused
 * instead of growing our memory) and half-closes when the client does.
 */
import { serve } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';

const { host, port, reactor } = exampleArgs('tcp-echo', { port: 7000 });
const server = serve({ host, port, reactor }, (conn) => conn.data$);

server.listening.then(announce, (err: Error) => {
  process.stderr.write(`tcp-echo: ${err.message}\n`);
  process.exitCode = 1;
});
onSignals(() => server.shutdown({ timeoutMs: 2000 }));
