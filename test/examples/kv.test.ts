/**
 * examples/kv with real clients: ioredis (npm), and redis-cli and
 * redis-benchmark where installed, for what clients do; raw node:net sockets
 * for what they never do (garbage, truncated and oversized frames). After
 * every bad connection another connection must still be served.
 */
import test, { type ExecutionContext } from 'ava';
import Redis from 'ioredis';
import { RawClient, run, withClient } from '../helpers/clients';
import { startExample, type RunningExample } from '../helpers/example';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);

let ex: RunningExample;

// One server for the file (starting node costs more than these tests); the
// shutdown tests at the end start their own.
test.before(async () => {
  ex = await startExample('kv/main.js'); // the file's shared server: stopped by the last test
});

test.after.always(async () => {
  // Only if a test failed before the last one stopped it.
  if (ex?.proc.exitCode === null) await ex.stop('SIGKILL');
});

async function cli(...args: string[]): Promise<string> {
  const r = await run('redis-cli', ['-h', ex.host, '-p', String(ex.port), ...args]);
  if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  // Error replies print with an extra blank line.
  return r.stdout.replace(/\n+$/, '');
}

/** FLUSHALL on a connection of its own, so the next test starts empty. */
async function flushAll(): Promise<void> {
  const c = await RawClient.connect(ex.port);
  try {
    c.write('FLUSHALL\r\n');
    await c.waitFor(/\+OK\r\n/);
  } finally {
    await c.destroy();
  }
}

/** Asserts that a fresh connection is served: the server survived whatever came before. */
async function stillServing(t: ExecutionContext): Promise<void> {
  const c = await RawClient.connect(ex.port);
  try {
    c.write('PING\r\n');
    t.is(await c.waitFor(/\r\n/), '+PONG\r\n', 'another connection still works');
  } finally {
    await c.destroy();
  }
}

test.serial('ioredis (npm): commands, expiry, a pipeline, and errors as rejections', async (t) => {
  // No ready check: it asks INFO, which this store does not implement.
  const r = new Redis({ host: ex.host, port: ex.port, enableReadyCheck: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    t.is(await r.ping(), 'PONG');
    t.is(await r.set('io:greeting', 'héllo'), 'OK');
    t.is(await r.get('io:greeting'), 'héllo');
    t.is(await r.incr('io:n'), 1);
    t.is(await r.incrby('io:n', 41), 42);
    t.deepEqual(await r.mget('io:greeting', 'io:nope', 'io:n'), ['héllo', null, '42']);
    t.is(await r.set('io:short', 'x', 'PX', 100), 'OK');
    t.true((await r.ttl('io:short')) <= 1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    t.is(await r.get('io:short'), null);
    const results = await r.pipeline().set('io:p', '1').incr('io:p').get('io:p').exec();
    t.deepEqual(results, [
      [null, 'OK'],
      [null, 2],
      [null, '2'],
    ]);
    await t.throwsAsync(r.incr('io:greeting'), { message: /ERR value is not an integer or out of range/ });
    t.is(await r.del('io:greeting', 'io:n', 'io:p'), 3);
  } finally {
    r.disconnect();
  }
});

if (withClient('redis-cli')) test.serial('redis-cli: PING, ECHO, SET, GET, INCR, DECR, INCRBY, MGET, MSET, EXISTS, DEL, DBSIZE, FLUSHALL', async (t) => {
  t.is(await cli('ping'), 'PONG');
  t.is(await cli('echo', 'hello world'), 'hello world');
  t.is(await cli('set', 'greeting', 'héllo'), 'OK');
  t.is(await cli('get', 'greeting'), 'héllo');
  t.is(await cli('get', 'nothing'), '', 'nil prints as an empty line');
  t.is(await cli('incr', 'counter'), '1');
  t.is(await cli('incrby', 'counter', '41'), '42');
  t.is(await cli('decr', 'counter'), '41');
  t.is(await cli('mset', 'a', '1', 'b', '2'), 'OK');
  t.is(await cli('mget', 'a', 'nope', 'b'), '1\n\n2');
  t.is(await cli('exists', 'a', 'b', 'nope'), '2');
  t.is(await cli('del', 'a', 'nope'), '1');
  t.is(await cli('dbsize'), '3');
  t.is(await cli('flushall'), 'OK');
  t.is(await cli('dbsize'), '0');
});

if (withClient('redis-cli')) test.serial('redis-cli: SET EX/PX/NX/XX, EXPIRE, TTL; keys expire', async (t) => {
  t.is(await cli('set', 'k', 'v', 'NX'), 'OK');
  t.is(await cli('set', 'k', 'w', 'NX'), '');
  t.is(await cli('set', 'other', 'w', 'XX'), '');
  t.is(await cli('ttl', 'k'), '-1');
  t.is(await cli('expire', 'k', '100'), '1');
  t.is(await cli('ttl', 'k'), '100');
  t.is(await cli('ttl', 'missing'), '-2');
  t.is(await cli('set', 'k', 'v', 'EX', '50', 'XX'), 'OK');
  t.is(await cli('ttl', 'k'), '50');
  t.is(await cli('set', 'short', 'v', 'PX', '100'), 'OK');
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is(await cli('get', 'short'), '');
  t.is(await cli('exists', 'short'), '0');
  await cli('flushall');
});

if (withClient('redis-cli')) test.serial('redis-cli: errors come back as RESP errors, Redis-worded', async (t) => {
  t.is(await cli('frobnicate', 'x'), "ERR unknown command 'frobnicate', with args beginning with: 'x' ");
  t.is(await cli('get'), "ERR wrong number of arguments for 'get' command");
  await cli('set', 'word', 'abc');
  t.is(await cli('incr', 'word'), 'ERR value is not an integer or out of range');
  t.is(await cli('set', 'k', 'v', 'EX', 'soon'), 'ERR value is not an integer or out of range');
  t.is(await cli('set', 'k', 'v', 'BOGUS'), 'ERR syntax error');
  await cli('flushall');
});

if (withClient('redis-cli')) test.serial('redis-cli: HELLO 2 is a map-as-array; HELLO 3 is refused so -3 falls back to RESP2', async (t) => {
  t.regex(await cli('hello', '2'), /^server\nrxnet-kv\nversion\n7\.0\.0\nproto\n2\nid\n\d+\nmode\nstandalone\nrole\nmaster\nmodules\n?$/);
  t.is(await cli('hello', '3'), 'NOPROTO unsupported protocol version');
  const r = await run('redis-cli', ['-3', '-h', ex.host, '-p', String(ex.port), 'ping']);
  t.is(r.stdout, 'PONG\n');
  t.regex(r.stderr, /HELLO 3 failed: NOPROTO/);
});

if (withClient('redis-cli')) test.serial('redis-cli reading commands from stdin, and --pipe mass insertion (1000 SETs)', async (t) => {
  const batch = await run('redis-cli', ['-h', ex.host, '-p', String(ex.port)], { input: 'set a 1\nincr a\nget a\nget zz\n' });
  t.is(batch.stdout, 'OK\n2\n2\n\n');
  let protocol = '';
  for (let i = 0; i < 1000; i++) protocol += `*3\r\n$3\r\nSET\r\n$${`key${i}`.length}\r\nkey${i}\r\n$${String(i).length}\r\n${i}\r\n`;
  const pipe = await run('redis-cli', ['-h', ex.host, '-p', String(ex.port), '--pipe'], { input: protocol });
  t.regex(pipe.stdout, /errors: 0, replies: 1000/);
  t.is(await cli('get', 'key999'), '999');
  t.is(await cli('dbsize'), '1001');
  await cli('flushall');
});

function requestsPerSecond(t: ExecutionContext, output: string, test: string): number {
  const m = new RegExp(`${test}: ([\\d.]+) requests per second`).exec(output);
  if (!m) throw new Error(`no "${test}: N requests per second" line in:\n${output}`);
  const rps = Number(m[1]);
  t.true(rps > 0, `${test} rps`);
  return rps;
}

if (withClient('redis-benchmark')) test.serial('redis-benchmark -t set,get -n 2000 -q completes (it reads CONFIG GET save/appendonly first)', async (t) => {
  const r = await run('redis-benchmark', ['-h', ex.host, '-p', String(ex.port), '-t', 'set,get', '-n', '2000', '-q'], { timeoutMs: 30_000 });
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stdout + r.stderr, /Could not fetch server CONFIG|ERR|error/i);
  t.log(`P=1: SET ${requestsPerSecond(t, r.stdout, 'SET')} req/s, GET ${requestsPerSecond(t, r.stdout, 'GET')} req/s`);
});

if (withClient('redis-benchmark') && withClient('redis-cli')) test.serial('redis-benchmark -P 16 (pipelining) for set, get and ping, inline and multibulk', async (t) => {
  const r = await run('redis-benchmark', ['-h', ex.host, '-p', String(ex.port), '-t', 'set,get,ping', '-n', '5000', '-P', '16', '-q'], { timeoutMs: 30_000 });
  t.is(r.code, 0, r.stderr);
  const rates = ['SET', 'GET', 'PING_INLINE', 'PING_MBULK'].map((name) => `${name} ${requestsPerSecond(t, r.stdout, name)}`);
  t.log(`P=16: ${rates.join(', ')} req/s`);
  t.is((await cli('get', 'key:__rand_int__')).length, 3, "redis-benchmark's SETs landed (3-byte values, its -d default)");
  await cli('flushall');
});

/** Sends `bytes` on a fresh connection; expects `reply` and then the server's FIN. */
async function protocolError(t: ExecutionContext, bytes: string | Buffer, reply: string): Promise<void> {
  const bystander = await RawClient.connect(ex.port);
  const bad = await RawClient.connect(ex.port);
  try {
    bad.write(bytes);
    await bad.waitEnded();
    t.is(bad.text, reply);
    // A connection opened before the bad one is unaffected.
    bystander.write('*1\r\n$4\r\nPING\r\n');
    t.is(await bystander.waitFor(/\r\n/), '+PONG\r\n');
  } finally {
    await Promise.all([bad.destroy(), bystander.destroy()]);
  }
  await stillServing(t);
}

test.serial('garbage: *abc gets -ERR Protocol error and a close; other connections go on', async (t) => {
  await protocolError(t, '*abc\r\n', '-ERR Protocol error: invalid multibulk length\r\n');
  await protocolError(t, '*1\r\n:5\r\n', "-ERR Protocol error: expected '$', got ':'\r\n");
  await protocolError(t, 'SET "unbalanced\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n');
  // Requests before the bad one in the same chunk are answered first.
  await protocolError(t, 'PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\n', "+PONG\r\n-ERR wrong number of arguments for 'echo' command\r\n-ERR Protocol error: invalid multibulk length\r\n");
  // Binary noise.
  await protocolError(t, Buffer.from([0x2a, 0xff, 0x0d, 0x0a]), '-ERR Protocol error: invalid multibulk length\r\n');
  // A NUL hides the line end from Redis' strchr(): the request waits until the 64 KiB line limit refuses it.
  await protocolError(t, Buffer.concat([Buffer.from([0x2a, 0x00, 0x0d, 0x0a]), Buffer.alloc(70 * 1024, 0x41)]), '-ERR Protocol error: too big mbulk count string\r\n');
});

test.serial('oversized frames are refused from their header alone, without waiting for (or buffering) the bytes', async (t) => {
  // Only the headers are sent: the refusal cannot depend on receiving the bulk.
  await protocolError(t, '*2\r\n$3\r\nSET\r\n$20000000\r\n', '-ERR Protocol error: invalid bulk length\r\n'); // over our 16 MiB
  await protocolError(t, '*1\r\n$9999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'); // over Redis' 512 MB too
  await protocolError(t, '*99999999\r\n', '-ERR Protocol error: invalid multibulk length\r\n'); // too many items
  // An endless line: refused once past 64 KiB.
  await protocolError(t, 'x'.repeat(100 * 1024), '-ERR Protocol error: too big inline request\r\n');
});

test.serial('a truncated frame waits for the rest; a frame sent one byte at a time is answered once', async (t) => {
  const c = await RawClient.connect(ex.port);
  try {
    c.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel');
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.is(c.text, '', 'no reply to half a request');
    c.write('lo\r\n');
    await c.waitFor(/\+OK\r\n$/);
    for (const byte of '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n') {
      c.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
    t.is(await c.waitFor(/hello\r\n$/), '+OK\r\n$5\r\nhello\r\n');
    t.false(c.ended);
  } finally {
    await c.destroy();
  }
  await flushAll();
});

test.serial('pipelining: 1000 requests in one write get 1000 replies, in order', async (t) => {
  const c = await RawClient.connect(ex.port);
  try {
    let requests = '';
    let expected = '';
    for (let i = 0; i < 1000; i++) {
      requests += i % 2 === 0 ? `*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n` : 'GET n\r\n';
      const n = Math.floor(i / 2) + 1;
      expected += i % 2 === 0 ? `:${n}\r\n` : `$${String(n).length}\r\n${n}\r\n`;
    }
    c.write(requests);
    await c.waitFor(/\$3\r\n500\r\n$/);
    t.is(c.text, expected);
  } finally {
    await c.destroy();
  }
  await flushAll();
});

test.serial('QUIT: +OK, then the server closes the connection; requests after it are not answered', async (t) => {
  if (withClient('redis-cli')) t.is(await cli('quit'), 'OK');
  const c = await RawClient.connect(ex.port);
  try {
    c.write('PING\r\nQUIT\r\nPING\r\n');
    await c.waitEnded();
    t.is(c.text, '+PONG\r\n+OK\r\n');
    c.socket.end();
    await c.closed;
  } finally {
    await c.destroy();
  }
  await stillServing(t);
});

test.serial('SIGTERM: idle clients get a FIN, a request sent after it does not crash the server, exit code 0', async (t) => {
  const own = await start('kv/main.js');
  const c = await RawClient.connect(own.port);
  try {
    c.write('PING\r\n');
    await c.waitFor(/\+PONG\r\n/);
    const exit = own.stop('SIGTERM');
    await c.waitEnded();
    // The client may still send on its half of the connection.
    c.write('PING\r\n');
    c.socket.end();
    t.is(await exit, 0, own.output());
    t.is(c.text, '+PONG\r\n');
  } finally {
    await c.destroy();
  }
  t.is(own.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});

if (withClient('redis-benchmark')) test.serial('SIGINT while redis-benchmark is hammering it: the server still exits with 0 by itself', async (t) => {
  const own = await start('kv/main.js');
  const bench = run('redis-benchmark', ['-h', own.host, '-p', String(own.port), '-t', 'set', '-n', '1000000', '-c', '4', '-q'], { timeoutMs: 20_000 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(await own.stop('SIGINT'), 0, own.output());
  await bench; // it ends, one way or another, once the server is gone
});

test.serial('the shared server, after all of the above, exits with 0 on SIGTERM', async (t) => {
  t.is(await ex.stop(), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});
