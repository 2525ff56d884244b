/**
 * TCP echo: every byte a client sends comes back.
 *
 *   node dist/examples/tcp-echo/main.js [--host 127.0.0.1] [--port 7000] [--backend epoll]
 *        [--tls-cert cert.pem --tls-key key.pem]
 *        [--proxy-protocol v1|v2|any] [--trusted-proxies CIDR,...] [--handoff PATH]
 *   nc 127.0.0.1 7000
 *   openssl s_client -connect 127.0.0.1:7000      # with --tls-cert/--tls-key
 *
 * The handler's return value *is* the reply stream: serve() writes it with
 * backpressure (a client that sends but never reads gets its input paused
 * instead of growing our memory) and half-closes when the client does.
 */
import { serve } from '../../index';
import { exampleArgs, runServer, SERVER_FLAGS, TLS_FLAGS, tlsFromFlags } from '../common/cli';

const args = exampleArgs('tcp-echo', { port: 7000 }, [...TLS_FLAGS, ...SERVER_FLAGS]);
const tls = tlsFromFlags('tcp-echo', args.extra);
void runServer('tcp-echo', args, (listen) => serve({ ...listen, tls }, (conn) => conn.data$), { timeoutMs: 2000, label: tls ? '(tls)' : '' });
