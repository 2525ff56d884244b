/**
 * examples/kv without sockets: the RESP2 parser (chunking never changes what
 * is parsed, limits are enforced before bytes are buffered), the encoder and
 * the store's commands on a fake clock.
 */
import test from 'ava';
import { catchError, from, lastValueFrom, map, of, takeWhile, toArray } from 'rxjs';
import { encode, ErrorReply, OK, ReplyWriter, respRequests, RespParser, RespProtocolError, SimpleString, splitInline, type Reply } from '../../examples/kv/resp';
import { kvReplies } from '../../examples/kv/session';
import { isQuit, Store } from '../../examples/kv/store';

/** Every request in `chunks`, in order, as latin1 strings. */
function parseAll(chunks: Buffer[], parser = new RespParser()): string[][] {
  const out: string[][] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let args; (args = parser.next()) !== null; ) out.push(args.map((a) => a.toString('latin1')));
  }
  return out;
}

function protocolError(t: import('ava').ExecutionContext, input: string | Buffer, message: string, limits = {}): void {
  const parser = new RespParser(limits);
  const error = t.throws(() => parseAll([Buffer.from(input)], parser), { instanceOf: RespProtocolError });
  t.is(error?.message, `Protocol error: ${message}`);
}

// A stream with every shape of request: multibulk (binary, empty and
// CRLF-containing arguments), inline with quotes and escapes, blank lines,
// *0 and *-1 (ignored), a bare-LF inline.
const binary = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0xff, 0x24, 0x2a]);
const STREAM = Buffer.concat([
  Buffer.from('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$8\r\n'),
  binary,
  Buffer.from('\r\n'),
  Buffer.from('*2\r\n$3\r\nGET\r\n$0\r\n\r\n'),
  Buffer.from('PING\r\n\r\n  \r\n'),
  Buffer.from('set "a b" \'it\\\'s\' "\\x41\\n"\r\n'),
  Buffer.from('*0\r\n*-1\r\n'),
  Buffer.from('ECHO bare-lf\n'),
  Buffer.from('*1\r\n$4\r\nPING\r\n'),
]);
const EXPECTED = [
  ['SET', 'key', binary.toString('latin1')],
  ['GET', ''],
  ['PING'],
  ['set', 'a b', "it's", 'A\n'],
  ['ECHO', 'bare-lf'],
  ['PING'],
];

test.serial('parser: the whole stream in one chunk', (t) => {
  const parser = new RespParser();
  t.deepEqual(parseAll([STREAM], parser), EXPECTED);
  t.is(parser.buffered, 0);
});

test.serial('parser: every split into two chunks, and one byte at a time, parse the same', (t) => {
  for (let at = 0; at <= STREAM.length; at++) {
    t.deepEqual(parseAll([STREAM.subarray(0, at), STREAM.subarray(at)]), EXPECTED, `split at ${at}`);
  }
  const bytes = [...STREAM].map((b) => Buffer.from([b]));
  t.deepEqual(parseAll(bytes), EXPECTED);
});

test.serial('parser: random chunkings parse the same (seeded)', (t) => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  for (let round = 0; round < 300; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < STREAM.length; ) {
      const n = 1 + Math.floor(random() * 24);
      chunks.push(STREAM.subarray(at, at + n));
      at += n;
    }
    t.deepEqual(parseAll(chunks), EXPECTED, `round ${round}`);
  }
});

test.serial('parser: a truncated request waits for more bytes (every prefix), then completes', (t) => {
  const request = Buffer.from('*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n');
  for (let at = 0; at < request.length; at++) {
    const parser = new RespParser();
    parser.push(request.subarray(0, at));
    t.is(parser.next(), null, `prefix of ${at} bytes`);
    parser.push(request.subarray(at));
    t.deepEqual(parser.next()?.map(String), ['GET', 'hello']);
  }
});

test.serial('parser: arguments handed out stay intact while later chunks arrive', (t) => {
  const parser = new RespParser();
  parser.push(Buffer.from('*2\r\n$3\r\nSET\r\n$4\r\nab'));
  t.is(parser.next(), null);
  parser.push(Buffer.from('cd\r\n*1\r\n$4\r\nPI'));
  const first = parser.next()!;
  t.deepEqual(first.map(String), ['SET', 'abcd']);
  // Enough partial input to make the parser grow its buffer several times.
  parser.push(Buffer.from('NG\r\n*1\r\n$10000\r\n'));
  t.deepEqual(parser.next()?.map(String), ['PING']);
  for (let i = 0; i < 99; i++) {
    parser.push(Buffer.from('z'.repeat(100)));
    t.is(parser.next(), null);
  }
  t.deepEqual(first.map(String), ['SET', 'abcd'], 'not overwritten by later input');
});

test.serial('parser: malformed input is a protocol error, in the words Redis uses', (t) => {
  protocolError(t, '*abc\r\n', 'invalid multibulk length');
  protocolError(t, '*\r\n', 'invalid multibulk length');
  protocolError(t, '*1\r\n:1\r\n', "expected '$', got ':'");
  protocolError(t, '*1\r\n$x\r\n', 'invalid bulk length');
  protocolError(t, '*1\r\n$-5\r\n', 'invalid bulk length');
  protocolError(t, '*1\r\n$3\r\nabcXY', 'expected CRLF after bulk string');
  protocolError(t, 'set "unterminated\r\n', 'unbalanced quotes in request');
  protocolError(t, 'set "a"b\r\n', 'unbalanced quotes in request');
  // Past Redis' own hard limits too: 512 MB bulks, 2^31 arguments.
  protocolError(t, '*1\r\n$536870913\r\n', 'invalid bulk length');
  protocolError(t, '*2147483648\r\n', 'invalid multibulk length');
});

test.serial('parser: oversized requests are refused from their header, before their bytes are buffered', (t) => {
  const limits = { maxBulkLength: 100, maxArgs: 3, maxInlineLength: 64, maxRequestBytes: 150 };
  protocolError(t, '*1\r\n$101\r\n', 'invalid bulk length', limits);
  protocolError(t, '*4\r\n', 'invalid multibulk length', limits);
  protocolError(t, `*2\r\n$100\r\n${'a'.repeat(100)}\r\n$51\r\n`, 'request larger than 150 bytes', limits);
  // Lines without their end: refused once longer than maxInlineLength.
  const parser = new RespParser(limits);
  const error = t.throws(() => {
    for (let i = 0; i < 100; i++) {
      parser.push(Buffer.from('x'.repeat(10)));
      t.true(parser.buffered <= limits.maxInlineLength + 10, 'never more than the limit plus one chunk');
      parser.next();
    }
  });
  t.is(error?.message, 'Protocol error: too big inline request');
  protocolError(t, `*${'1'.repeat(70)}`, 'too big mbulk count string', limits);
  protocolError(t, `*1\r\n$${'1'.repeat(70)}`, 'too big bulk count string', limits);
  // Within the limits, fine.
  t.deepEqual(parseAll([Buffer.from(`*1\r\n$100\r\n${'b'.repeat(100)}\r\n`)], new RespParser(limits)), [['b'.repeat(100)]]);
});

test.serial('parser: a big bulk or a long line arriving in small chunks costs linear time, not quadratic', (t) => {
  const size = 4 * 1024 * 1024;
  const parser = new RespParser();
  parser.push(Buffer.from(`*2\r\n$3\r\nSET\r\n$${size}\r\n`));
  const piece = Buffer.alloc(1024, 0x61);
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < size; sent += piece.length) {
    parser.push(piece);
    t.is(parser.next(), null);
  }
  parser.push(Buffer.from('\r\n'));
  const args = parser.next();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.is(args?.[1].length, size);
  t.true(ms < 2000, `${ms} ms`); // one copy per chunk of everything so far would take minutes
  // A long line one byte at a time: each byte is scanned once, not once per byte received.
  const line = new RespParser();
  const lineStarted = process.hrtime.bigint();
  const x = Buffer.from('x');
  for (let i = 0; i < 60_000; i++) {
    line.push(x);
    t.is(line.next(), null);
  }
  line.push(Buffer.from('\r\n'));
  t.is(line.next()?.[0].length, 60_000);
  const lineMs = Number(process.hrtime.bigint() - lineStarted) / 1e6;
  t.true(lineMs < 2000, `${lineMs} ms`);
});

test.serial('splitInline: words, quotes and escapes as redis-cli splits them', (t) => {
  t.deepEqual(splitInline('  SET  k\tv  '), ['SET', 'k', 'v']);
  t.deepEqual(splitInline('"a\\"b" \'c\\\'d\' "\\t\\\\"'), ['a"b', "c'd", '\t\\']);
  t.deepEqual(splitInline("'\\n stays'"), ['\\n stays']);
  t.deepEqual(splitInline('""'), ['']);
  t.deepEqual(splitInline(''), []);
  t.is(splitInline('"open'), null);
});

test.serial('respRequests: emits each request in order from any chunking', async (t) => {
  const chunks = [STREAM.subarray(0, 7), STREAM.subarray(7, 50), STREAM.subarray(50)];
  const requests = await lastValueFrom(from(chunks).pipe(respRequests(), toArray()));
  t.deepEqual(
    requests.map((r) => r.map((a) => a.toString('latin1'))),
    EXPECTED,
  );
  await t.throwsAsync(lastValueFrom(from([Buffer.from('PING\r\n*x\r\n')]).pipe(respRequests())), { instanceOf: RespProtocolError });
});

test.serial('encode: every reply type', (t) => {
  const bytes = (r: Reply) => encode(r).toString('latin1');
  t.is(bytes(OK), '+OK\r\n');
  t.is(bytes(new SimpleString('two\r\nlines')), '+two lines\r\n');
  t.is(bytes(new ErrorReply('ERR bad\r\nthing')), '-ERR bad thing\r\n');
  t.is(bytes(42), ':42\r\n');
  t.is(bytes(-(2n ** 63n)), ':-9223372036854775808\r\n');
  t.is(bytes(null), '$-1\r\n');
  t.is(bytes(Buffer.from('a\r\nb')), '$4\r\na\r\nb\r\n');
  t.is(bytes('é'), '$2\r\né\r\n'.replace('é', Buffer.from('é').toString('latin1')));
  t.is(bytes([]), '*0\r\n');
  t.is(bytes(['a', 1, null, [OK]]), '*4\r\n$1\r\na\r\n:1\r\n$-1\r\n*1\r\n+OK\r\n');
});

// ---- the store -------------------------------------------------------------

function fixture(): { store: Store; clock: { now: number }; run: (...args: string[]) => unknown } {
  const clock = { now: 1_000_000 };
  const store = new Store({ now: () => clock.now });
  const run = (...args: string[]) => {
    const reply = store.execute(args.map((a) => Buffer.from(a)), { id: 7 });
    // Compare replies as plain values: Buffers as strings, errors as '-...'.
    const plain = (r: Reply): unknown =>
      Buffer.isBuffer(r) ? r.toString() : r instanceof ErrorReply ? `-${r.message}` : r instanceof SimpleString ? `+${r.value}` : Array.isArray(r) ? r.map(plain) : r;
    return plain(reply);
  };
  return { store, clock, run };
}

test.serial('store: strings, multi-key commands, DBSIZE, FLUSHALL', (t) => {
  const { run } = fixture();
  t.is(run('PING'), '+PONG');
  t.is(run('ping', 'hi'), 'hi');
  t.is(run('ECHO', 'x y'), 'x y');
  t.is(run('SET', 'a', '1'), '+OK');
  t.is(run('get', 'a'), '1');
  t.is(run('GET', 'nope'), null);
  t.is(run('MSET', 'b', '2', 'c', '3'), '+OK');
  t.deepEqual(run('MGET', 'a', 'x', 'c'), ['1', null, '3']);
  t.is(run('EXISTS', 'a', 'a', 'x'), 2);
  t.is(run('DBSIZE'), 3);
  t.is(run('DEL', 'a', 'x', 'b'), 2);
  t.is(run('DBSIZE'), 1);
  t.is(run('FLUSHALL'), '+OK');
  t.is(run('DBSIZE'), 0);
  t.is(run('FLUSHALL', 'bogus'), '-ERR syntax error');
});

test.serial('store: SET NX, XX, EX, PX and their errors', (t) => {
  const { run, clock } = fixture();
  t.is(run('SET', 'k', 'v', 'XX'), null);
  t.is(run('SET', 'k', 'v', 'NX'), '+OK');
  t.is(run('SET', 'k', 'w', 'NX'), null);
  t.is(run('GET', 'k'), 'v');
  t.is(run('SET', 'k', 'w', 'xx', 'px', '1500'), '+OK');
  t.is(run('TTL', 'k'), 2); // 1.5 s rounds like Redis: (ms + 500) / 1000
  clock.now += 1500;
  t.is(run('GET', 'k'), null);
  t.is(run('SET', 'k', 'v', 'EX', '10'), '+OK');
  t.is(run('TTL', 'k'), 10);
  t.is(run('SET', 'k', 'v'), '+OK');
  t.is(run('TTL', 'k'), -1, 'a plain SET clears the TTL');
  t.is(run('SET', 'k', 'v', 'NX', 'XX'), '-ERR syntax error');
  t.is(run('SET', 'k', 'v', 'EX'), '-ERR syntax error');
  t.is(run('SET', 'k', 'v', 'FOO'), '-ERR syntax error');
  t.is(run('SET', 'k', 'v', 'EX', 'ten'), '-ERR value is not an integer or out of range');
  t.is(run('SET', 'k', 'v', 'EX', '0'), "-ERR invalid expire time in 'set' command");
  t.is(run('SET', 'k', 'v', 'PX', '-1'), "-ERR invalid expire time in 'set' command");
  t.is(run('SET', 'k', 'v', 'EX', '9223372036854775807'), "-ERR invalid expire time in 'set' command");
});

test.serial('store: INCR, DECR, INCRBY, DECRBY keep 64-bit integers and the TTL', (t) => {
  const { run, clock } = fixture();
  t.is(run('INCR', 'n'), 1n);
  t.is(run('INCRBY', 'n', '41'), 42n);
  t.is(run('DECR', 'n'), 41n);
  t.is(run('DECRBY', 'n', '-9'), 50n);
  t.is(run('GET', 'n'), '50');
  t.is(run('INCRBY', 'n', '1.5'), '-ERR value is not an integer or out of range');
  t.is(run('SET', 's', 'abc'), '+OK');
  t.is(run('INCR', 's'), '-ERR value is not an integer or out of range');
  t.is(run('SET', 's', '007'), '+OK');
  t.is(run('INCR', 's'), '-ERR value is not an integer or out of range', 'not canonical, as Redis');
  t.is(run('SET', 'max', '9223372036854775807'), '+OK');
  t.is(run('INCR', 'max'), '-ERR increment or decrement would overflow');
  t.is(run('DECRBY', 'n', '-9223372036854775808'), '-ERR increment or decrement would overflow');
  t.is(run('EXPIRE', 'n', '100'), 1);
  t.is(run('INCR', 'n'), 51n);
  clock.now += 10_000;
  t.is(run('TTL', 'n'), 90, 'INCR keeps the TTL');
});

test.serial('store: EXPIRE and TTL, lazy expiry on access, a past deadline deletes at once', (t) => {
  const { run, clock } = fixture();
  t.is(run('EXPIRE', 'missing', '10'), 0);
  t.is(run('TTL', 'missing'), -2);
  run('SET', 'k', 'v');
  t.is(run('TTL', 'k'), -1);
  t.is(run('EXPIRE', 'k', '3'), 1);
  t.is(run('TTL', 'k'), 3);
  clock.now += 2400;
  t.is(run('TTL', 'k'), 1);
  clock.now += 600;
  t.is(run('EXISTS', 'k'), 0);
  t.is(run('DBSIZE'), 0, 'the access deleted it');
  run('SET', 'k', 'v');
  t.is(run('EXPIRE', 'k', '-1'), 1);
  t.is(run('GET', 'k'), null);
  t.is(run('EXPIRE', 'k', 'soon'), '-ERR value is not an integer or out of range');
});

test.serial('store: the sweep removes expired keys nobody reads, a bounded number per call', (t) => {
  const { store, run, clock } = fixture();
  for (let i = 0; i < 2500; i++) run('SET', `v${i}`, 'x', 'PX', '100');
  for (let i = 0; i < 500; i++) run('SET', `p${i}`, 'x');
  run('SET', 'later', 'x', 'EX', '100');
  clock.now += 200;
  t.is(store.size, 3001, 'nothing removed before a sweep');
  t.is(store.sweep(1000), 1000);
  t.is(store.sweep(1000), 1000);
  t.is(store.sweep(1000), 500);
  t.is(store.sweep(1000), 0);
  t.is(run('DBSIZE'), 501);
  t.is(run('GET', 'later'), 'x');
});

test.serial('store: the sweeper timer runs by itself (unref\'d, it never keeps a process alive)', async (t) => {
  const store = new Store();
  store.execute(['SET', 'k', 'v', 'PX', '5'].map((s) => Buffer.from(s)));
  const stop = store.startSweeper(10);
  await new Promise((resolve) => setTimeout(resolve, 100));
  stop();
  t.is(store.size, 0);
});

test.serial('store: unknown commands and wrong arities, as Redis words them', (t) => {
  const { run } = fixture();
  t.is(run('FOO', 'a', 'b'), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
  t.is(run('GET'), "-ERR wrong number of arguments for 'get' command");
  t.is(run('get', 'a', 'b'), "-ERR wrong number of arguments for 'get' command");
  t.is(run('MSET', 'a'), "-ERR wrong number of arguments for 'mset' command");
  t.is(run('MSET', 'a', '1', 'b'), "-ERR wrong number of arguments for 'mset' command");
  t.is(run('PING', 'a', 'b'), "-ERR wrong number of arguments for 'ping' command");
  t.is(run('DEL'), "-ERR wrong number of arguments for 'del' command");
});

test.serial('store: QUIT answers +OK; isQuit tells the server to close after it', (t) => {
  const { run } = fixture();
  t.is(run('quit'), '+OK');
  t.true(isQuit([Buffer.from('QuIt')]));
  t.false(isQuit([Buffer.from('quits')]));
  t.false(isQuit([]));
});

test.serial('store: what clients ask on connecting: COMMAND, CONFIG GET, HELLO', (t) => {
  const { run } = fixture();
  t.deepEqual(run('COMMAND'), []);
  t.deepEqual(run('COMMAND', 'DOCS'), []);
  t.is(run('COMMAND', 'COUNT'), 0);
  t.deepEqual(run('CONFIG', 'GET', 'save'), ['save', '']);
  t.deepEqual(run('CONFIG', 'GET', 'appendonly'), ['appendonly', 'no']);
  t.deepEqual(run('CONFIG', 'GET', '*'), ['save', '', 'appendonly', 'no']);
  t.deepEqual(run('CONFIG', 'GET', 'maxmemory'), []);
  t.is(run('CONFIG', 'SET', 'save', ''), '-ERR CONFIG SET is not supported here');
  t.deepEqual(run('HELLO'), ['server', 'rxnet-kv', 'version', '7.0.0', 'proto', 2, 'id', 7, 'mode', 'standalone', 'role', 'master', 'modules', []]);
  t.deepEqual(run('HELLO', '2'), run('HELLO'));
  t.is(run('HELLO', '3'), '-NOPROTO unsupported protocol version');
  t.is(run('HELLO', 'x'), '-ERR Protocol version is not an integer or out of range');
});

// ---- the server's batched path (session.ts) ----------------------------------

/** What main.ts did before batching, reply by reply: the reference for kvReplies. */
function referenceReplies(store: Store, chunks: Buffer[]): Promise<Buffer[]> {
  return lastValueFrom(
    from(chunks).pipe(
      respRequests(),
      takeWhile((args) => !isQuit(args), true),
      map((args) => encode(store.execute(args, { id: 1 }))),
      catchError((err: unknown) => {
        if (err instanceof RespProtocolError) return of(encode(new ErrorReply(`ERR ${err.message}`)));
        throw err;
      }),
      toArray(),
    ),
  );
}

const SESSION = Buffer.concat([
  Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\na\r\n$3\r\none\r\n*2\r\n$3\r\nget\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n'),
  Buffer.from('*3\r\n$3\r\nset\r\n$3\r\nbig\r\n$100\r\n'),
  Buffer.alloc(100, 0x78),
  Buffer.from('\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n*5\r\n$3\r\nSET\r\n$1\r\nt\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n100\r\n'),
  Buffer.from('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\nPING\r\n*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nx\r\n*1\r\n$3\r\nFOO\r\n*1\r\n$3\r\nGET\r\n'),
  Buffer.from('*3\r\n$3\r\nGET\r\n$1\r\na\r\n$1\r\nb\r\n*2\r\n$3\r\nGET\r\n$1\r\nt\r\n'),
]);

test.serial('kvReplies: the same bytes as reply-by-reply encoding, however the input is split, one Buffer per chunk', async (t) => {
  const withQuit = Buffer.concat([SESSION, Buffer.from('*1\r\n$4\r\nQUIT\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n')]);
  const withError = Buffer.concat([SESSION, Buffer.from('*2\r\n$3\r\nGET\r\n$x\r\n*1\r\n$4\r\nPING\r\n')]);
  for (const input of [SESSION, withQuit, withError]) {
    const expected = Buffer.concat(await referenceReplies(new Store({ now: () => 1000 }), [input]));
    t.true(expected.length > 0);
    for (let at = 0; at <= input.length; at++) {
      const chunks = [input.subarray(0, at), input.subarray(at)];
      const got = await lastValueFrom(from(chunks).pipe(kvReplies(new Store({ now: () => 1000 }), { id: 1 }), toArray()));
      t.true(got.length <= 2, `at most one write per chunk (split at ${at})`);
      t.deepEqual(Buffer.concat(got), expected, `split at ${at}`);
    }
  }
  const one = await lastValueFrom(from([withQuit]).pipe(kvReplies(new Store(), { id: 1 }), toArray()));
  t.is(one.length, 1, 'a pipelined chunk is answered with one Buffer');
  t.true(one[0].toString('latin1').endsWith('+OK\r\n'), 'nothing is answered after QUIT');
});

test.serial('kvReplies: the GET/SET fast path and execute() see the same keyspace', async (t) => {
  const store = new Store();
  store.execute(['SET', 'k\xff', 'slow'].map((s) => Buffer.from(s, 'latin1')));
  const req = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`;
  const replies = await lastValueFrom(
    from([Buffer.from(req('GET', 'k\xff') + req('gEt', 'k\xff') + req('SeT', 'f', 'fast') + req('set', 'k\xff', 'x'), 'latin1')]).pipe(kvReplies(store, { id: 1 })),
  );
  t.is(replies.toString('latin1'), '$4\r\nslow\r\n$4\r\nslow\r\n+OK\r\n+OK\r\n');
  t.is(store.get(Buffer.from('f'))?.value.toString(), 'fast');
  t.is(store.get(Buffer.from('k\xff', 'latin1'))?.value.toString(), 'x');
  // A plain SET on the fast path clears a TTL, as SET does.
  store.execute(['SET', 'v', '1', 'EX', '100'].map((s) => Buffer.from(s)));
  await lastValueFrom(from([Buffer.from(req('SET', 'v', '2'))]).pipe(kvReplies(store, { id: 1 })));
  t.is(store.execute([Buffer.from('TTL'), Buffer.from('v')]), -1);
  t.is(store.sweep(), 0, 'and no longer sweeps it');
});

test.serial('ReplyWriter: encodes as encode() does, batches across slabs stay intact', (t) => {
  const writer = new ReplyWriter(64);
  const replies: Reply[] = [OK, null, 0, 7, -12, 123456789012, 2n ** 63n - 1n, Buffer.alloc(200, 0x61), 'é', new ErrorReply('ERR x'), ['a', [1, null]], []];
  const batches: Buffer[] = [];
  const expected: Buffer[] = [];
  for (const r of replies) {
    writer.reply(r);
    writer.reply(r);
    batches.push(writer.take());
    expected.push(Buffer.concat([encode(r), encode(r)]));
  }
  t.deepEqual(batches, expected, 'and later batches did not overwrite earlier ones');
  t.is(writer.take().length, 0);
});
