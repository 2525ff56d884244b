import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import test from 'ava';
import { firstValueFrom, of } from 'rxjs';
import { connect } from '../../index';
import * as io from '../../reactor/io';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, readAll, stopServer, within } from '../helpers/streams';
import { ids, startTlsServer } from '../helpers/tls';

/**
 * A node:tls client over a TCP socket it does not fully control: the
 * wrapper can keep the client's end() from sending a FIN (close_notify
 * only), and keeps the server's FIN from reaching the TLS layer, so that
 * what the TLS layer sees as the end can only have been close_notify.
 */
function wrappedClient(port: number, options: { finOnEnd: boolean }) {
  const raw = net.connect(port, HOST);
  const order: string[] = [];
  const wrapper = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      raw.write(chunk, callback);
    },
    final(callback) {
      if (options.finOnEnd) raw.end();
      callback();
    },
  });
  raw.on('data', (chunk) => wrapper.push(chunk));
  raw.on('end', () => order.push('FIN'));
  raw.on('error', () => {});
  const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
  const socket = tls.connect({ socket: wrapper, ca: ids.CA_CERT, servername: 'localhost' });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('end', () => order.push('close_notify'));
  socket.on('error', (err) => order.push(`error ${(err as NodeJS.ErrnoException).code}`));
  const secure = new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
  return { raw, socket, order, closed, secure, text: () => Buffer.concat(chunks).toString() };
}

test.serial("end() sends close_notify, then the FIN: the peer's TLS layer sees the end with TCP's FIN kept from it", (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, () => of('goodbye'));
    const client = wrappedClient(port, { finOnEnd: true });
    await within(client.secure, 5000, 'the handshake');
    await until(() => client.order.includes('FIN'), "the server's FIN");
    t.is(client.text(), 'goodbye');
    t.deepEqual(client.order.slice(0, 2), ['close_notify', 'FIN']);
    client.raw.end();
    await within(client.closed, 5000, 'the client to close');
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial("the peer's close_notify completes data$ while its TCP side stays open; the server's own end follows", (t) =>
  withReactor(t, async (reactor) => {
    let completions = 0;
    const { server, port } = await startTlsServer(reactor, (conn) => {
      // Answers only once the peer's stream has ended.
      conn.data$.subscribe({
        complete: () => {
          completions++;
          conn.end('you said goodbye');
        },
      });
    });
    const client = wrappedClient(port, { finOnEnd: false });
    await within(client.secure, 5000, 'the handshake');
    client.socket.end(); // close_notify only: the wrapper sends no FIN
    await until(() => client.order.includes('FIN'), 'the server to end in turn');
    t.is(completions, 1, "data$ completed on close_notify, with the client's TCP side still open");
    t.is(client.text(), 'you said goodbye');
    t.deepEqual(client.order.slice(0, 2), ['close_notify', 'FIN']);
    client.raw.end();
    await within(client.closed, 5000, 'the client to close');
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('a FIN without close_notify ends data$ too, as node:tls does', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT } }));
    const got = readAll(conn);
    conn.write('half');
    // shutdown(SHUT_WR) under the TLS layer: no close_notify.
    await until(() => conn.bytesWritten > 0, 'the write to leave');
    io.shutdownWrite(conn.fd);
    t.is((await got).toString(), 'half');
    conn.close();
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));
