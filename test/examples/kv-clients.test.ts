/**
 * examples/kv with the client libraries applications use: ioredis from npm
 * (plain commands, pipelines, MULTI/EXEC and WATCH, pub/sub, SCAN streams)
 * and redis-py (Debian's python3-redis; its default pipeline() is a
 * MULTI/EXEC transaction) where a python3 on PATH can import it, or
 * wherever RXNET_REQUIRE_CLIENTS=1 makes it required (CI installs it).
 * Everything the redis-py test does, ioredis does too.
 */
import test from 'ava';
import * as path from 'node:path';
import Redis from 'ioredis';
import { pythonWithRedis, run, withClient } from '../helpers/clients';
import { startExample, type RunningExample } from '../helpers/example';

let kv: RunningExample;

test.before(async () => {
  kv = await startExample('kv/main.js');
});

test.after.always(async () => {
  await kv?.stop('SIGKILL');
});

function client(options: Record<string, unknown> = {}): Redis {
  return new Redis({ host: '127.0.0.1', port: kv.port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null, ...options });
}

test.serial('ioredis: connects (INFO ready check, CLIENT SETNAME), plain commands, errors, binary values', async (t) => {
  const r = client({ connectionName: 'ioredis-test' });
  try {
    t.is(await r.ping(), 'PONG');
    t.is(await r.client('GETNAME'), 'ioredis-test');
    t.is(await r.set('k', 'v', 'EX', 100), 'OK');
    t.is(await r.get('k'), 'v');
    t.true((await r.ttl('k')) > 98);
    t.is(await r.incrby('n', 41), 41);
    t.is(await r.incrbyfloat('f', '10.5'), '10.5');
    t.is(await r.incrbyfloat('f', '0.1'), '10.6');
    t.deepEqual(await r.mget('k', 'nope', 'n'), ['v', null, '41']);
    const bytes = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x80]);
    t.is(await r.set(Buffer.from([0xff, 0]), bytes), 'OK');
    t.deepEqual(await r.getBuffer(Buffer.from([0xff, 0])), bytes);
    await t.throwsAsync(r.incr('k'), { message: 'ERR value is not an integer or out of range' });
    await t.throwsAsync(r.call('NO-SUCH-COMMAND'), { message: /^ERR unknown command 'NO-SUCH-COMMAND'/ });
    t.is(await r.getex('k', 'PERSIST'), 'v');
    t.is(await r.ttl('k'), -1);
  } finally {
    r.disconnect();
  }
});

test.serial('ioredis: a pipeline of 1000 commands, and a SCAN stream over 500 keys', async (t) => {
  const r = client();
  try {
    const p = r.pipeline();
    for (let i = 0; i < 500; i++) p.set(`scan:${i}`, String(i));
    for (let i = 0; i < 500; i++) p.incr('counter');
    const results = await p.exec();
    t.is(results!.length, 1000);
    t.deepEqual(results![999], [null, 500]);
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      r.scanStream({ match: 'scan:*', count: 37 })
        .on('data', (keys: string[]) => seen.push(...keys))
        .on('end', resolve)
        .on('error', reject);
    });
    t.is(new Set(seen).size, 500);
  } finally {
    r.disconnect();
  }
});

test.serial('ioredis: multi().exec() is atomic; a refused command aborts it; WATCH makes it fail after another client writes', async (t) => {
  const r = client();
  const other = client();
  try {
    t.deepEqual(await r.multi().set('tx', '1').incr('tx').get('tx').exec(), [
      [null, 'OK'],
      [null, 2],
      [null, '2'],
    ]);
    // A command the server refuses while queuing: EXEC aborts and nothing is applied.
    const aborted = r.multi();
    aborted.set('tx', 'applied?');
    (aborted as unknown as { call: (...args: string[]) => unknown }).call('NO-SUCH-COMMAND');
    await t.throwsAsync(aborted.exec(), { message: /EXECABORT/ });
    t.is(await r.get('tx'), '2');
    await r.watch('tx');
    await other.set('tx', '100');
    t.is(await r.multi().incr('tx').exec(), null, 'EXEC returns nil: the watched key changed');
    t.is(await r.get('tx'), '100');
  } finally {
    r.disconnect();
    other.disconnect();
  }
});

test.serial('ioredis: subscribe and psubscribe get message and pmessage events; PUBLISH counts deliveries', async (t) => {
  const sub = client();
  const pub = client();
  try {
    await sub.subscribe('news', 'sport');
    await sub.psubscribe('n*');
    const messages: string[] = [];
    const got = new Promise<void>((resolve) => {
      const check = () => messages.length === 3 && resolve();
      sub.on('message', (channel: string, message: string) => {
        messages.push(`message ${channel} ${message}`);
        check();
      });
      sub.on('pmessage', (pattern: string, channel: string, message: string) => {
        messages.push(`pmessage ${pattern} ${channel} ${message}`);
        check();
      });
    });
    t.is(await pub.publish('news', 'hello'), 2);
    t.is(await pub.publish('sport', 'goal'), 1);
    await got;
    t.deepEqual(messages.sort(), ['message news hello', 'message sport goal', 'pmessage n* news hello']);
    t.deepEqual(await pub.pubsub('NUMSUB', 'news', 'sport'), ['news', 1, 'sport', 1]);
    // Named: ioredis resolves an argument-less UNSUBSCRIBE only at a count of 0, which
    // pattern subscriptions prevent (against redis-server too).
    await sub.unsubscribe('news', 'sport');
    await sub.punsubscribe('n*');
    t.is(await pub.publish('news', 'nobody'), 0);
    t.is(await sub.ping(), 'PONG', 'back to normal once unsubscribed');
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
});

if (withClient('redis-py')) test.serial('redis-py: plain commands, transactional and plain pipelines, WATCH retry loop, pub/sub, scan_iter', async (t) => {
  const python = pythonWithRedis();
  // dist/test/examples -> the package root; the script is not compiled.
  const script = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'kv_redis_py.py');
  const r = await run(python, [script, String(kv.port)], { timeoutMs: 30_000 });
  t.is(r.stdout.trim(), 'OK', r.stderr);
  t.is(r.code, 0, r.stderr);
});
