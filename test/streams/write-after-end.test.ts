import test from 'ava';
import type { Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { closedInfo, dial, readAll, startServer, stopServer } from '../helpers/streams';

test.serial('write() after end() throws ERR_STREAM_WRITE_AFTER_END; end() twice is harmless; what was written before arrives', (t) =>
  withReactor(t, async (reactor) => {
    const received: Promise<Buffer>[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      received.push(readAll(conn));
    });
    const conn: Connection = await dial(reactor, port);
    conn.write('before ');
    conn.end('the end');
    t.throws(() => conn.write('after'), { instanceOf: Error, code: 'ERR_STREAM_WRITE_AFTER_END' });
    t.throws(() => conn.write(Buffer.from('after')), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    t.notThrows(() => conn.end());
    t.notThrows(() => conn.end('ignored'));
    await until(() => received.length === 1, 'the server connection');
    t.is((await received[0]).toString(), 'before the end');
    conn.close();
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await stopServer(server, 500);
  }));

test.serial('write() rejects what is not bytes or a string with ERR_INVALID_ARG_TYPE', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const conn = await dial(reactor, port);
    t.throws(() => conn.write(42 as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => conn.write({} as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.true(conn.write(new Uint8Array([1, 2, 3])), 'a plain Uint8Array is fine');
    conn.close();
    await stopServer(server, 500);
  }));
