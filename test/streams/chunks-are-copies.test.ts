/**
 * data$ and messages$ hand out Buffers the handler may keep: copies of the
 * reactor's arena, which the next batch overwrites. Sizes on both sides of
 * copyOut's small-chunk loop (up to 32 bytes) and of Buffer.allocUnsafe's
 * pool (4 KiB), each checked byte for byte after later batches have reused
 * the arena.
 */
import test from 'ava';
import * as dgram from 'node:dgram';
import type { Connection } from '../../index';
import { udp } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { startServer, stopServer } from '../helpers/streams';

const SIZES = [1, 2, 14, 31, 32, 33, 48, 200, 4095, 4096, 4097, 20000];

/** Bytes that differ between sizes and positions, so a stale or shifted copy shows. */
function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + size) & 0xff;
  return b;
}

test.serial('data$ chunks are Buffers holding exactly the bytes sent, still intact after later reads reuse the arena', (t) =>
  withReactor(t, async (reactor) => {
    const kept: Buffer[] = [];
    let total = 0;
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conns.push(conn);
      conn.data$.subscribe((chunk) => {
        kept.push(chunk);
        total += chunk.length;
      });
    });
    const socket = await client(port);
    let expected = 0;
    const sent: Buffer[] = [];
    for (const size of SIZES) {
      // One size at a time, each read before the next is sent: one chunk per size
      // (a loopback write this small arrives whole), each from a later batch.
      const bytes = pattern(size);
      sent.push(bytes);
      socket.write(bytes);
      expected += size;
      await until(() => total === expected, `${size} bytes to arrive`);
    }
    t.true(kept.every((c) => Buffer.isBuffer(c)), 'every chunk is a Buffer');
    t.true(Buffer.concat(kept).equals(Buffer.concat(sent)), 'the bytes, in order, unchanged by the batches after them');
    if (kept.length === SIZES.length) {
      for (let i = 0; i < SIZES.length; i++) t.true(kept[i].equals(sent[i]), `the ${SIZES[i]}-byte chunk`);
    }
    conns[0].close();
    await destroy(socket);
    await stopServer(server);
  }));

test.serial('messages$ datagrams keep their bytes after later datagrams reuse the arena', (t) =>
  withReactor(t, async (reactor) => {
    const kept: Buffer[] = [];
    let port = 0;
    let socketReady!: () => void;
    const ready = new Promise<void>((resolve) => (socketReady = resolve));
    const sub = udp({ host: '127.0.0.1', port: 0, reactor }).subscribe((socket) => {
      port = socket.address.port;
      socketReady();
      socket.messages$.subscribe((m) => kept.push(m.data));
    });
    await ready;
    const sender = dgram.createSocket('udp4');
    try {
      for (let i = 0; i < SIZES.length; i++) {
        await new Promise<void>((resolve, reject) => sender.send(pattern(SIZES[i]), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
        await until(() => kept.length === i + 1, `datagram ${i + 1}`);
      }
      for (let i = 0; i < SIZES.length; i++) {
        t.true(Buffer.isBuffer(kept[i]), `datagram ${i + 1} is a Buffer`);
        t.true(kept[i].equals(pattern(SIZES[i])), `the ${SIZES[i]}-byte datagram`);
      }
    } finally {
      await new Promise<void>((resolve) => sender.close(() => resolve()));
      sub.unsubscribe();
    }
  }));
