/**
 * connect() tries every address a host name resolves to, as net.connect's
 * autoSelectFamily does: a refused address moves on at once, one that hangs
 * after autoSelectFamilyAttemptTimeout; all failing is an AggregateError.
 * And `port` takes what node:net takes.
 */
import test from 'ava';
import type { LookupAddress } from 'node:dns';
import * as net from 'node:net';
import { firstValueFrom } from 'rxjs';
import { connect, listen, serve, sys, type LookupFunction } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';

/** A lookup that answers every name with `addresses`, as dns.lookup with all: true does. */
function fixed(addresses: LookupAddress[]): LookupFunction {
  return (_host, _options, callback) => process.nextTick(callback, null, addresses);
}

const v4 = (address: string): LookupAddress => ({ address, family: 4 });

/** A node:net echo server on 127.0.0.1. */
async function echo(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

test.serial('a refused first address: the next one is tried and connects', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await echo();
    // Nothing listens on 127.0.0.2 at that port: ECONNREFUSED, then 127.0.0.1.
    const conn = await firstValueFrom(connect({ host: 'db.example.test', port, reactor, lookup: fixed([v4('127.0.0.2'), v4('127.0.0.1')]) }));
    t.is(conn.remote.address, '127.0.0.1');
    conn.close();
    await new Promise((resolve) => server.close(resolve));
  }));

test.serial('an address that hangs is given up after autoSelectFamilyAttemptTimeout and the next one connects', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await echo();
    // A listener on 127.0.0.3 at the same port, backlog 0, its queue full: the kernel drops SYNs.
    const fd = sys.socket('ipv4', 'stream');
    sys.bind(fd, { address: '127.0.0.3', port });
    sys.listen(fd, 0);
    const fillers: net.Socket[] = [];
    for (let i = 0; i < 16; i++) {
      const s = net.connect(port, '127.0.0.3');
      s.on('error', () => {});
      fillers.push(s);
      const ok = await Promise.race([new Promise<boolean>((resolve) => s.once('connect', () => resolve(true))), delay(300).then(() => false)]);
      if (!ok) break;
    }
    try {
      const started = Date.now();
      const conn = await firstValueFrom(
        connect({ host: 'db.example.test', port, reactor, autoSelectFamilyAttemptTimeout: 100, lookup: fixed([v4('127.0.0.3'), v4('127.0.0.1')]) }),
      );
      const ms = Date.now() - started;
      t.is(conn.remote.address, '127.0.0.1');
      t.true(ms >= 90 && ms < 2000, `connected after ${ms} ms`);
      conn.close();
    } finally {
      for (const s of fillers) s.destroy();
      sys.close(fd);
      await new Promise((resolve) => server.close(resolve));
    }
  }));

test.serial('every address refused: an AggregateError with each error and the first code; autoSelectFamily false tries the first only', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await echo();
    await new Promise((resolve) => server.close(resolve));
    const all = await t.throwsAsync(firstValueFrom(connect({ host: 'db.example.test', port, reactor, lookup: fixed([v4('127.0.0.2'), v4('127.0.0.1')]) })));
    t.true(all instanceof AggregateError);
    t.is((all as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    t.deepEqual(
      (all as AggregateError).errors.map((e: NodeJS.ErrnoException & { address?: string }) => [e.code, e.address]),
      [
        ['ECONNREFUSED', '127.0.0.2'],
        ['ECONNREFUSED', '127.0.0.1'],
      ],
    );
    const first = await t.throwsAsync(
      firstValueFrom(connect({ host: 'db.example.test', port, reactor, autoSelectFamily: false, lookup: fixed([v4('127.0.0.2'), v4('127.0.0.1')]) })),
    );
    t.false(first instanceof AggregateError);
    t.is((first as NodeJS.ErrnoException & { address?: string }).address, '127.0.0.2');
  }));

test.serial('port: numbers and numeric strings as node:net takes them; anything else is refused the way node:net refuses it', (t) =>
  withReactor(t, async (reactor) => {
    const server = serve({ host: '127.0.0.1', port: '0', reactor }, (conn) => conn.data$);
    const { port } = await server.listening;
    for (const p of [String(port), ` ${port} `, `0x${port.toString(16)}`]) {
      const conn = await firstValueFrom(connect({ host: '127.0.0.1', port: p, reactor }));
      t.is(conn.remote.port, port, JSON.stringify(p));
      conn.close();
    }
    for (const bad of ['', ' ', '1.5', '-1', '65536', 'http', 70000, -1, 1.5, NaN]) {
      const err = t.throws(() => connect({ host: '127.0.0.1', port: bad as never, reactor }), { instanceOf: RangeError }, JSON.stringify(bad));
      t.is((err as NodeJS.ErrnoException | undefined)?.code, 'ERR_SOCKET_BAD_PORT');
      const ours = err?.message;
      const theirs = t.throws(() => net.connect({ host: '127.0.0.1', port: bad as never }))?.message;
      t.is(typeof ours, 'string');
      t.is(typeof theirs, 'string', `node:net refuses ${JSON.stringify(bad)} too`);
    }
    for (const bad of [{}, true, null]) {
      t.throws(() => listen({ port: bad as never, reactor }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    }
    await server.close();
    await until(() => server.connections === 0, 'closed');
  }));
