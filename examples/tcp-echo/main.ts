/**
 * TCP echo: every byte a client sends comes back.
 *
 *   node dist/examples/tcp-echo/main.js [--host 127.0.0.1] [--port 7000] [--backend epoll]
 *        [--proxy-protocol v1|v2|any] [--trusted-proxies CIDR,...] [--handoff PATH]
 *   nc 127.0.0.1 7000
 *
 * The handler's return value *is* the reply stream: serve() writes it with
 * backpressure (a client that sends but never reads gets its input paused
 * instead of growing our memory) and half-closes when the client does.
 */
import { serve } from '../../index';
import { exampleArgs, runServer, SERVER_FLAGS } from '../common/cli';

const args = exampleArgs('tcp-echo', { port: 7000 }, SERVER_FLAGS);
void runServer('tcp-echo', args, (listen) => serve(listen, (conn) => conn.data$), { timeoutMs: 2000 });
