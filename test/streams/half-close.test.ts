import * as net from 'node:net';
import test from 'ava';
import { firstValueFrom, map, of, toArray } from 'rxjs';
import { withReactor } from '../helpers/leaks';
import { destroy } from '../helpers/sockets';
import { HOST, closedInfo, dial, readAll, receive, startServer, stopServer } from '../helpers/streams';
import { until } from '../helpers/readiness';

/** A node:net client that keeps its sending side open after the server's FIN. */
function halfOpenClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: HOST, allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Replies, once the request is complete (the client's FIN), with its length and its bytes reversed. */
const replyAfterFin = (chunks: Buffer[]) => {
  const request = Buffer.concat(chunks);
  return Buffer.concat([Buffer.from(`${request.length}:`), Buffer.from(request).reverse()]);
};

test.serial('a node:net client that ends (FIN) still receives the reply the server sends after seeing it', (t) =>
  withReactor(t, async (reactor) => {
    let dataCompleted = false;
    const { server, port } = await startServer(reactor, (conn) =>
      conn.data$.pipe(
        toArray(),
        map((chunks) => {
          dataCompleted = true;
          return replyAfterFin(chunks);
        }),
      ),
    );
    const socket = await halfOpenClient(port);
    const got = receive(socket);
    socket.write('hello ');
    socket.end('world');
    const reply = await got.end();
    t.true(dataCompleted, "data$ completed on the client's FIN");
    t.is(reply.toString(), '11:dlrow olleh');
    await got.close();
    await until(() => server.connections === 0, 'the server to close the connection');
    await destroy(socket);
    await stopServer(server);
  }));

test.serial("the server's output completes (FIN) and the server still receives the client's data until the client's FIN", (t) =>
  withReactor(t, async (reactor) => {
    const received: Promise<Buffer>[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      received.push(readAll(conn));
      // The output completes at once: serve() half-closes the connection.
      return of('greeting, then FIN');
    });
    const socket = await halfOpenClient(port);
    const got = receive(socket);
    t.is((await got.end()).toString(), 'greeting, then FIN', 'the client sees the FIN');
    t.false(got.closed);
    // The client's sending side is still open: the server keeps reading.
    socket.write('late ');
    socket.write('data');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.end(' and FIN');
    t.is((await received[0]).toString(), 'late data and FIN', "the server's data$ got everything, then completed on the FIN");
    await got.close();
    await until(() => server.connections === 0, 'the server to close the connection');
    await destroy(socket);
    await stopServer(server);
  }));

test.serial('rxnet to rxnet: end() on the client half-closes; the client data$ gets the reply and completes on the server FIN', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$.pipe(toArray(), map(replyAfterFin)));
    const conn = await dial(reactor, port);
    const reply = readAll(conn);
    conn.write('ping');
    conn.end();
    t.false(conn.closed, 'ending the sending side does not close the connection');
    t.is((await reply).toString(), '4:gnip');
    t.deepEqual(await closedInfo(conn), { hadError: false }, 'both FINs seen: the connection closes by itself, cleanly');
    await until(() => server.connections === 0, 'the server to close the connection');
    await stopServer(server);
  }));

test.serial('rxnet to rxnet: the server ends first and the client keeps sending until its own end()', (t) =>
  withReactor(t, async (reactor) => {
    const received: Promise<Buffer>[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      received.push(readAll(conn));
      return of('bye');
    });
    const conn = await dial(reactor, port);
    t.is((await readAll(conn)).toString(), 'bye', "the client's data$ completes on the server's FIN");
    t.false(conn.closed);
    t.true(conn.write('still '));
    t.true(conn.write('talking'));
    conn.end();
    t.is((await received[0]).toString(), 'still talking');
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await until(() => server.connections === 0, 'the server to close the connection');
    await stopServer(server);
  }));

test.serial("data$ subscribed after the peer's FIN completes at once and delivers what came before it", (t) =>
  withReactor(t, async (reactor) => {
    const conns: Array<import('../../index').Connection> = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conns.push(conn);
    });
    const socket = await halfOpenClient(port);
    socket.end('sent before anyone read');
    await until(() => conns.length === 1, 'the connection');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const conn = conns[0];
    t.is((await readAll(conn)).toString(), 'sent before anyone read');
    t.is((await firstValueFrom(conn.data$.pipe(toArray()))).length, 0, 'a later subscriber completes at once');
    conn.end();
    const got = receive(socket);
    await got.close();
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await destroy(socket);
    await stopServer(server);
  }));
