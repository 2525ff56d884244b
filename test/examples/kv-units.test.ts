/**
 * examples/kv without sockets: the RESP2 parser (chunking never changes what
 * is parsed, limits are enforced before bytes are buffered, Redis' quirks are
 * kept), the reply output (bounded, by reference, under backpressure), the
 * glob and long double ports, and the commands on a fake clock.
 */
import test, { type ExecutionContext } from 'ava';
import { Client } from '../../examples/kv/client';
import { execute } from '../../examples/kv/commands';
import { KvServer } from '../../examples/kv/context';
import { globMatch } from '../../examples/kv/glob';
import { addLongDouble, formatLongDouble, parseLongDouble } from '../../examples/kv/longdouble';
import { COPY_MAX, encode, Output, SLICE, type Sink } from '../../examples/kv/output';
import { ErrorReply, OK, Raw, Replies, respRequests, RespParser, RespProtocolError, SimpleString, splitArgs, type Reply } from '../../examples/kv/resp';
import { from, lastValueFrom, toArray } from 'rxjs';

/** Every request in `chunks`, in order, as latin1 strings. */
function parseAll(chunks: Buffer[], parser = new RespParser()): string[][] {
  const out: string[][] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let args; (args = parser.next()) !== null; ) out.push(args.map((a) => a.toString('latin1')));
  }
  return out;
}

function protocolError(t: ExecutionContext, input: string | Buffer, message: string, limits = {}): void {
  const parser = new RespParser(limits);
  const error = t.throws(() => parseAll([Buffer.from(input as string, 'latin1')], parser), { instanceOf: RespProtocolError });
  t.is(error?.message, `Protocol error: ${message}`, JSON.stringify(String(input).slice(0, 40)));
}

// A stream with every shape of request: multibulk (binary, empty and
// CRLF-containing arguments), inline with quotes and escapes, blank lines,
// *0 and *-1 (ignored), a bare-LF inline, a quote opening mid-word.
const binary = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0xff, 0x24, 0x2a]);
const STREAM = Buffer.concat([
  Buffer.from('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$8\r\n'),
  binary,
  Buffer.from('\r\n'),
  Buffer.from('*2\r\n$3\r\nGET\r\n$0\r\n\r\n'),
  Buffer.from('PING\r\n\r\n  \r\n'),
  Buffer.from('set "a b" \'it\\\'s\' "\\x41\\n" a"b c"\r\n'),
  Buffer.from('*0\r\n*-1\r\n*-9223372036854775808\r\n'),
  Buffer.from('ECHO bare-lf\n'),
  Buffer.from('*1\r\n$4\r\nPING\r\n'),
]);
const EXPECTED = [['SET', 'key', binary.toString('latin1')], ['GET', ''], ['PING'], ['set', 'a b', "it's", 'A\n', 'ab c'], ['ECHO', 'bare-lf'], ['PING']];

test('parser: the whole stream in one chunk, every split into two, one byte at a time', (t) => {
  const parser = new RespParser();
  t.deepEqual(parseAll([STREAM], parser), EXPECTED);
  t.is(parser.buffered, 0);
  for (let at = 0; at <= STREAM.length; at++) {
    t.deepEqual(parseAll([STREAM.subarray(0, at), STREAM.subarray(at)]), EXPECTED, `split at ${at}`);
  }
  t.deepEqual(parseAll([...STREAM].map((b) => Buffer.from([b]))), EXPECTED);
});

test('parser: random chunkings parse the same (seeded)', (t) => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
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

test('parser: Redis quirks: the byte after a header CR and the two after a bulk are skipped unchecked', (t) => {
  t.deepEqual(parseAll([Buffer.from('*1\rX$4\rYPINGzz')]), [['PING']]);
  t.deepEqual(parseAll([Buffer.from('*1\r\n$3\r\nabcXY*1\r\n$4\r\nPING\r\n')]), [['abc'], ['PING']]);
  // A bare LF after *N: the line runs to the next CR, and is not a number.
  protocolError(t, '*1\n$4\r\nPING\r\n', 'invalid multibulk length');
  protocolError(t, '*01\r\n', 'invalid multibulk length');
  protocolError(t, '*-0\r\n', 'invalid multibulk length');
  protocolError(t, '*+1\r\n', 'invalid multibulk length');
  protocolError(t, '*1\r\n$01\r\nab\r\n', 'invalid bulk length');
  // An empty line where a $ header should be: the CR shows as a space, as Redis' error does.
  protocolError(t, '*1\r\n\r\n', "expected '$', got ' '");
  protocolError(t, '*1\r\n\xff\r\n', "expected '$', got '\xff'");
});

test('parser: a NUL hides the line end (strchr), until the 64 KiB line limit refuses the request', (t) => {
  const parser = new RespParser();
  parser.push(Buffer.from('\x00PING\r\n', 'latin1'));
  t.is(parser.next(), null, 'no request: the line end is behind a NUL');
  for (const [start, error] of [
    ['\x00', 'too big inline request'],
    ['*\x00', 'too big mbulk count string'],
    ['$\x00', 'too big inline request'],
  ]) {
    protocolError(t, start + 'payload'.repeat(10_000), error);
  }
});

test('parser: malformed input is a protocol error, in the words Redis uses', (t) => {
  protocolError(t, '*abc\r\n', 'invalid multibulk length');
  protocolError(t, '*\r\n', 'invalid multibulk length');
  protocolError(t, '*3000000000\r\n', 'invalid multibulk length');
  protocolError(t, '*1\r\n:1\r\n', "expected '$', got ':'");
  protocolError(t, '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', "expected '$', got 'f'");
  protocolError(t, '*1\r\n$x\r\n', 'invalid bulk length');
  protocolError(t, '*1\r\n$-5\r\n', 'invalid bulk length');
  protocolError(t, 'set "unterminated\r\n', 'unbalanced quotes in request');
  protocolError(t, 'set "a"b\r\n', 'unbalanced quotes in request');
  protocolError(t, 'set """test-key""" test-value\r\n', 'unbalanced quotes in request');
  protocolError(t, '*1\r\n$536870913\r\n', 'invalid bulk length');
  protocolError(t, '*2147483648\r\n', 'invalid multibulk length');
});

test('parser: oversized requests are refused from their header, before their bytes are buffered', (t) => {
  const limits = { maxBulkLength: 100, maxArgs: 3, maxInlineLength: 64, maxRequestBytes: 150 };
  protocolError(t, '*1\r\n$101\r\n', 'invalid bulk length', limits);
  protocolError(t, '*4\r\n', 'invalid multibulk length', limits);
  protocolError(t, `*2\r\n$100\r\n${'a'.repeat(100)}\r\n$51\r\n`, 'request larger than 150 bytes', limits);
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
  t.deepEqual(parseAll([Buffer.from(`*1\r\n$100\r\n${'b'.repeat(100)}\r\n`)], new RespParser(limits)), [['b'.repeat(100)]]);
});

test('parser: a big bulk or a long line arriving in small chunks costs linear time, not quadratic', (t) => {
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
  t.is(parser.next()?.[1].length, size);
  const line = new RespParser();
  const x = Buffer.from('x');
  for (let i = 0; i < 60_000; i++) {
    line.push(x);
    t.is(line.next(), null);
  }
  line.push(Buffer.from('\r\n'));
  t.is(line.next()?.[0].length, 60_000);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.true(ms < 3000, `${ms} ms`);
});

test('splitArgs: words, quotes and escapes as Redis splits them (sdssplitargs)', (t) => {
  const split = (s: string) => splitArgs(Buffer.from(s, 'latin1'))?.map((w) => w.toString('latin1')) ?? null;
  t.deepEqual(split('  SET  k\tv  '), ['SET', 'k', 'v']);
  t.deepEqual(split('"a\\"b" \'c\\\'d\' "\\t\\\\"'), ['a"b', "c'd", '\t\\']);
  t.deepEqual(split("'\\n stays'"), ['\\n stays']);
  t.deepEqual(split('"\\x4a\\xzz"'), ['Jxzz']);
  t.deepEqual(split('""'), ['']);
  t.deepEqual(split('a\vb'), ['a\vb'], 'only space, tab, CR, LF end a plain word');
  t.deepEqual(split(''), []);
  t.is(split('"open'), null);
  t.is(split('"a"b'), null);
});

test('respRequests: emits each request in order from any chunking', async (t) => {
  const chunks = [STREAM.subarray(0, 7), STREAM.subarray(7, 50), STREAM.subarray(50)];
  const requests = await lastValueFrom(from(chunks).pipe(respRequests(), toArray()));
  t.deepEqual(
    requests.map((r) => r.map((a) => a.toString('latin1'))),
    EXPECTED,
  );
  await t.throwsAsync(lastValueFrom(from([Buffer.from('PING\r\n*x\r\n')]).pipe(respRequests())), { instanceOf: RespProtocolError });
});

// ---- output ------------------------------------------------------------------

test('encode: every reply type; status and error lines get each CR and LF as a space, text is latin1', (t) => {
  const bytes = (r: Reply) => encode(r).toString('latin1');
  t.is(bytes(OK), '+OK\r\n');
  t.is(bytes(new SimpleString('two\r\nlines')), '+two  lines\r\n');
  t.is(bytes(new ErrorReply('ERR bad\nthing \xff')), '-ERR bad thing \xff\r\n');
  t.is(bytes(42), ':42\r\n');
  t.is(bytes(-(2n ** 63n)), ':-9223372036854775808\r\n');
  t.is(bytes(null), '$-1\r\n');
  t.is(bytes(Buffer.from('a\r\nb')), '$4\r\na\r\nb\r\n');
  t.is(bytes('\xe9'), '$1\r\n\xe9\r\n');
  t.is(bytes([]), '*0\r\n');
  t.is(bytes(['a', 1, null, [OK]]), '*4\r\n$1\r\na\r\n:1\r\n$-1\r\n*1\r\n+OK\r\n');
  t.is(bytes(new Replies([1, 2])), ':1\r\n:2\r\n');
  t.is(bytes(new Raw(Buffer.from('*-1\r\n'))), '*-1\r\n');
});

/** A connection stand-in: records writes, reports a queue that drains only when told. */
class FakeSink implements Sink {
  readonly writes: Uint8Array[] = [];
  bufferedAmount = 0;
  closed = false;
  constructor(readonly highWaterMark = 64 * 1024) {}
  write(chunk: Uint8Array): boolean {
    this.writes.push(chunk);
    this.bufferedAmount += chunk.length;
    return this.bufferedAmount < this.highWaterMark;
  }
  drain(): Buffer {
    const all = Buffer.concat(this.writes.splice(0));
    this.bufferedAmount = 0;
    return all;
  }
}

test('Output: big values go out by reference (the stored Buffer itself), small ones batched into one write', (t) => {
  const sink = new FakeSink();
  const out = new Output(sink);
  const big = Buffer.alloc(COPY_MAX + 1, 0x62);
  out.begin();
  out.ok();
  out.integer(7);
  out.bulk(Buffer.from('small'));
  out.bulk(big);
  out.nil();
  out.end();
  t.is(sink.writes.length, 3, 'header batch, the value, the rest');
  t.is(sink.writes[1], big, 'the very Buffer, not a copy');
  t.is(sink.drain().toString('latin1'), `+OK\r\n:7\r\n$5\r\nsmall\r\n$${big.length}\r\n${big.toString('latin1')}\r\n$-1\r\n`);
});

test('Output: a huge array reply is written only as far as the high-water mark, the rest after each drain', (t) => {
  const sink = new FakeSink(64 * 1024);
  const out = new Output(sink);
  const value = Buffer.alloc(16_000_000, 0x61);
  const reply: Reply = [value, value, value, value, value, 'tail'];
  out.begin();
  out.reply(reply);
  out.end();
  t.true(out.busy, 'pending: the rest waits as references');
  let received = sink.drain();
  let rounds = 0;
  let most = received.length;
  while (out.busy) {
    out.begin();
    out.pump();
    out.end();
    const chunk = sink.drain();
    most = Math.max(most, chunk.length);
    received = Buffer.concat([received, chunk]);
    rounds++;
  }
  t.true(rounds >= 5, `${rounds} drains`);
  t.true(most <= SLICE + 64, `at most one slice queued at once (${most})`);
  t.is(received.length, encode(reply).length);
  t.true(received.equals(encode(reply)));
});

test('Output: building the reply to 200 pipelined GETs of 1 MB is linear (each goes out by reference)', (t) => {
  const sink = new FakeSink(Infinity);
  const out = new Output(sink);
  const value = Buffer.alloc(1024 * 1024, 0x61);
  const started = process.hrtime.bigint();
  out.begin();
  for (let i = 0; i < 200; i++) out.bulk(value);
  out.end();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.true(ms < 200, `${ms} ms`);
  t.is(sink.writes.filter((w) => w === value).length, 200, 'no copies');
});

// ---- glob and long doubles -----------------------------------------------------

test('glob: Redis stringmatchlen, edge cases included', (t) => {
  const m = (p: string, s: string, nocase = false) => globMatch(Buffer.from(p, 'latin1'), Buffer.from(s, 'latin1'), nocase);
  t.true(m('*', 'anything'));
  t.true(m('h?llo', 'hello'));
  t.true(m('h[ae]llo', 'hallo'));
  t.false(m('h[^e]llo', 'hello'));
  t.true(m('h[a-b]llo', 'hbllo'));
  t.true(m('h[b-a]llo', 'hbllo'), 'reversed ranges work');
  t.true(m('a\\*b', 'a*b'));
  t.true(m('[abc', 'a'), 'an unclosed [ runs to the end');
  t.true(m('HELLO', 'hello', true));
  t.false(m('a*a*a*a*a*a*a*a*a*b', 'a'.repeat(60)), 'and quickly');
  t.true(m('*[\x80-\xff]', 'x\x90'), 'signed ranges');
});

test('long double: INCRBYFLOAT arithmetic prints as Redis on x86-64 does', (t) => {
  const add = (a: string, b: string) => {
    const x = parseLongDouble(Buffer.from(a));
    const y = parseLongDouble(Buffer.from(b));
    return x && y ? formatLongDouble(addLongDouble(x, y)) : null;
  };
  t.is(add('10.5', '0.1'), '10.6');
  t.is(add('0', '5.0e3'), '5000');
  t.is(add('17179869184', '1.5'), '17179869185.5');
  t.is(add('1', '-1.1'), '-0.1');
  t.is(add('0', '-0'), '0', 'no negative zero');
  t.is(add('0', '0x10'), '16', 'hex, as strtold reads it');
  t.is(parseLongDouble(Buffer.from('1e5000')), null, 'overflow is refused');
  t.is(parseLongDouble(Buffer.from('1e-5000')), null, 'underflow to zero is refused');
  t.is(parseLongDouble(Buffer.from('nan')), null);
});

// ---- commands ------------------------------------------------------------------

function fixture(): { kv: KvServer; clock: { now: number }; run: (...args: string[]) => unknown; client: Client } {
  const clock = { now: 1_000_000 };
  const kv = new KvServer({ now: () => clock.now });
  const client = new Client(kv);
  const plain = (r: Reply): unknown =>
    Buffer.isBuffer(r)
      ? r.toString('latin1')
      : r instanceof ErrorReply
        ? `-${r.message}`
        : r instanceof SimpleString
          ? `+${r.value}`
          : r instanceof Raw
            ? r.bytes.toString('latin1')
            : r instanceof Replies
              ? r.items.map(plain)
              : typeof r === 'bigint'
                ? Number.isSafeInteger(Number(r)) ? Number(r) : String(r)
                : Array.isArray(r)
                  ? r.map(plain)
                  : r;
  const run = (...args: string[]) => plain(execute(client, args.map((a) => Buffer.from(a, 'latin1'))));
  return { kv, clock, run, client };
}

test('commands: strings, multi-key commands, DBSIZE, FLUSHALL', (t) => {
  const { run } = fixture();
  t.is(run('PING'), '+PONG');
  t.is(run('SET', 'a', '1'), '+OK');
  t.is(run('APPEND', 'a', '23'), 3);
  t.is(run('GET', 'a'), '123');
  t.is(run('STRLEN', 'a'), 3);
  t.is(run('GETRANGE', 'a', '-2', '-1'), '23');
  t.is(run('SETRANGE', 'b', '2', 'x'), 3);
  t.is(run('GET', 'b'), '\0\0x');
  t.deepEqual(run('MGET', 'a', 'x', 'b'), ['123', null, '\0\0x']);
  t.is(run('MSETNX', 'c', '1', 'a', '2'), 0);
  t.is(run('GETSET', 'a', 'new'), '123');
  t.is(run('GETDEL', 'a'), 'new');
  t.is(run('EXISTS', 'a', 'b', 'b'), 2);
  t.is(run('TYPE', 'b'), '+string');
  t.is(run('TYPE', 'a'), '+none');
  t.is(run('SETBIT', 'bits', '7', '1'), 0);
  t.is(run('GET', 'bits'), '\x01');
  t.is(run('GETBIT', 'bits', '7'), 1);
  t.is(run('DBSIZE'), 2);
  t.is(run('FLUSHALL'), '+OK');
  t.is(run('DBSIZE'), 0);
  t.is(run('FLUSHALL', 'bogus'), '-ERR syntax error');
});

test('commands: SETBIT and GETBIT past bit 2^31 address the right byte, up to the last bit Redis allows', (t) => {
  const { run } = fixture();
  // 4294907296 bits is byte 536,863,412: past what a 32-bit shift can index
  // (a fuzzed request found SETBIT answering 0 and growing nothing).
  t.is(run('SETBIT', 'big', '4294907296', '1'), 0);
  t.is(run('STRLEN', 'big'), 536_863_413);
  t.is(run('GETBIT', 'big', '4294907296'), 1);
  t.is(run('GETBIT', 'big', '4294907297'), 0);
  t.is(run('GETRANGE', 'big', '536863412', '536863412'), '\x80');
  t.is(run('SETBIT', 'big', '4294967295', '1'), 0, 'the last bit of 512 MiB');
  t.is(run('STRLEN', 'big'), 512 * 1024 * 1024);
  t.is(run('GETBIT', 'big', '4294967295'), 1);
  t.is(run('GETRANGE', 'big', '-1', '-1'), '\x01');
  t.is(run('SETBIT', 'big', '4294967296', '1'), '-ERR bit offset is not an integer or out of range');
  t.is(run('GETBIT', 'small', '4294967295'), 0, 'beyond a short value reads 0');
  t.is(run('DEL', 'big'), 1);
});

test('commands: SET options in Redis order (repeats allowed, conflicts refused), GET, KEEPTTL, EXAT, PXAT', (t) => {
  const { run, clock } = fixture();
  t.is(run('SET', 'k', 'v', 'NX', 'NX'), '+OK');
  t.is(run('SET', 'k', 'v', 'EX', '10', 'EX', '20'), '+OK');
  t.is(run('TTL', 'k'), 20);
  t.is(run('SET', 'k', 'v', 'EX', 'EX', '10'), '-ERR syntax error');
  t.is(run('SET', 'k', 'v', 'EX', '10', 'PX', '10'), '-ERR syntax error');
  t.is(run('SET', 'k', 'w', 'KEEPTTL', 'GET'), 'v');
  t.is(run('TTL', 'k'), 20);
  t.is(run('SET', 'k', 'v', 'PXAT', String(clock.now + 1500)), '+OK');
  t.is(run('PTTL', 'k'), 1500);
  t.is(run('SET', 'k', 'v', 'EX', '0'), "-ERR invalid expire time in 'set' command");
  t.is(run('SET', 'k', 'v', 'EX', '10000000000000'), '+OK', 'past 2^53 ms, exactly');
  t.is(run('PTTL', 'k'), '10000000000000000');
  t.is(run('SET', 'k', 'v', 'EX', '9223372036854776'), "-ERR invalid expire time in 'set' command");
  t.is(run('SET', 'k', 'v', 'PX', '9223372036854775807'), "-ERR invalid expire time in 'set' command", 'overflow when the clock is added');
  t.is(run('GETEX', 'k', 'PERSIST'), 'v');
  t.is(run('TTL', 'k'), -1);
});

test('commands: EXPIRE family with NX/XX/GT/LT, exact past 2^53, big negatives refused', (t) => {
  const { run } = fixture();
  run('SET', 'k', 'v');
  t.is(run('EXPIRE', 'k', '-9223372036854776'), "-ERR invalid expire time in 'expire' command");
  t.is(run('EXISTS', 'k'), 1, 'and the key stays');
  t.is(run('EXPIRE', 'k', '9223372036854776'), "-ERR invalid expire time in 'expire' command");
  t.is(run('EXPIRE', 'k', '9007199254740993'), 1, 'seconds that fit in int64 milliseconds are fine');
  t.is(run('EXPIRETIME', 'k'), '9007199254741993', 'exact past 2^53 (the clock adds 1000 s)');
  t.is(run('PEXPIRE', 'k', '9007199254740993'), 1);
  t.is(run('PEXPIRETIME', 'k'), '9007199255740993');
  t.is(run('EXPIRE', 'k', '100', 'GT'), 0);
  t.is(run('EXPIRE', 'k', '100', 'LT'), 1);
  t.is(run('EXPIRE', 'k', '100', 'NX'), 0);
  t.is(run('EXPIRE', 'k', '100', 'NX', 'XX'), '-ERR NX and XX, GT or LT options at the same time are not compatible');
  t.is(run('EXPIRE', 'k', '100', 'GT', 'LT'), '-ERR GT and LT options at the same time are not compatible');
  t.is(run('EXPIRE', 'k', '100', 'foo'), '-ERR Unsupported option foo');
  t.is(run('PERSIST', 'k'), 1);
  t.is(run('EXPIRE', 'k', '-1'), 1);
  t.is(run('EXISTS', 'k'), 0, 'a past deadline deletes');
});

test('commands: unknown commands echo their arguments byte for byte, with Redis caps', (t) => {
  const { run } = fixture();
  t.is(run('FOO', 'a\xff', 'b'), "-ERR unknown command 'FOO', with args beginning with: 'a\xff' 'b' ");
  t.is(run('FOO', 'x'.repeat(200)), `-ERR unknown command 'FOO', with args beginning with: '${'x'.repeat(128)}' `);
  t.is(run('CLIENT', 'BOGUS'), "-ERR unknown subcommand 'BOGUS'. Try CLIENT HELP.");
  t.is(run('CLIENT'), "-ERR wrong number of arguments for 'client' command");
  t.is(run('CONFIG', 'GET'), "-ERR wrong number of arguments for 'config|get' command");
});

test('commands: MULTI/EXEC/DISCARD/WATCH as Redis: queued, aborted by errors, failed by a watched change', (t) => {
  const { run, kv } = fixture();
  t.is(run('MULTI'), '+OK');
  t.is(run('SET', 'a', '1'), '+QUEUED');
  t.is(run('INCR', 'a'), '+QUEUED');
  t.deepEqual(run('EXEC'), ['+OK', 2]);
  t.is(run('MULTI'), '+OK');
  t.is(run('SET', 'a'), "-ERR wrong number of arguments for 'set' command");
  t.is(run('SET', 'a', '9'), '+QUEUED');
  t.is(run('EXEC'), '-EXECABORT Transaction discarded because of previous errors.');
  t.is(run('GET', 'a'), '2', 'nothing applied');
  t.is(run('WATCH', 'a'), '+OK');
  const other = new Client(kv);
  execute(other, ['SET', 'a', '3'].map((s) => Buffer.from(s)));
  t.is(run('MULTI'), '+OK');
  t.is(run('SET', 'a', '4'), '+QUEUED');
  t.is(run('EXEC'), '*-1\r\n');
  t.is(run('GET', 'a'), '3');
  t.is(run('EXEC'), '-ERR EXEC without MULTI');
  t.is(run('DISCARD'), '-ERR DISCARD without MULTI');
  t.is(run('MULTI'), '+OK');
  t.is(run('EXEC', 'x'), "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command");
});

test('commands: pub/sub replies in RESP2 shape; subscribed clients may only run pub/sub, PING, QUIT, RESET', (t) => {
  const { run, kv } = fixture();
  const received: string[] = [];
  const { client } = { client: new Client(kv) };
  client.push = (chunks) => received.push(Buffer.concat(chunks).toString('latin1'));
  const sub = (...args: string[]) => execute(client, args.map((a) => Buffer.from(a)));
  t.is(encode(sub('SUBSCRIBE', 'ch', 'ch')).toString(), '*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n');
  t.is(encode(sub('PSUBSCRIBE', 'c*')).toString(), '*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n');
  t.is(encode(sub('PING')).toString(), '*2\r\n$4\r\npong\r\n$0\r\n\r\n');
  t.is(encode(sub('GET', 'x')).toString(), "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
  t.is(run('PUBLISH', 'ch', 'hi'), 2);
  t.deepEqual(received, ['*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n', '*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n']);
  t.deepEqual(run('PUBSUB', 'NUMSUB', 'ch', 'nope'), ['ch', 1, 'nope', 0]);
  t.is(run('PUBSUB', 'NUMPAT'), 1);
  t.is(encode(sub('UNSUBSCRIBE')).toString(), '*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n');
  t.is(encode(sub('PUNSUBSCRIBE')).toString(), '*3\r\n$12\r\npunsubscribe\r\n$2\r\nc*\r\n:0\r\n');
  t.is(encode(sub('UNSUBSCRIBE')).toString(), '*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n');
  t.is(encode(sub('GET', 'x')).toString(), '$-1\r\n', 'no longer subscribed');
  t.is(run('PUBLISH', 'ch', 'hi'), 0);
});

test('commands: SCAN returns every key present throughout, however the keyspace changes meanwhile', (t) => {
  const { run } = fixture();
  for (let i = 0; i < 1000; i++) run('SET', `k${i}`, 'v');
  const seen = new Set<string>();
  let cursor = '0';
  let steps = 0;
  do {
    const [next, keys] = run('SCAN', cursor, 'COUNT', '37') as [string, string[]];
    for (const k of keys) seen.add(k);
    // Churn: delete some keys, add others, between steps.
    run('DEL', `k${(steps * 7) % 1000}`);
    run('SET', `new${steps}`, 'v');
    cursor = next;
    steps++;
  } while (cursor !== '0');
  for (let i = 0; i < 1000; i++) {
    const k = `k${i}`;
    if (run('EXISTS', k) === 1) t.true(seen.has(k), k);
  }
  t.deepEqual(run('SCAN', 'abc'), '-ERR invalid cursor');
  t.deepEqual(run('SCAN', '0', 'COUNT', '0'), '-ERR syntax error');
  t.deepEqual((run('KEYS', 'k99?') as string[]).sort(), ['k990', 'k991', 'k992', 'k993', 'k994', 'k995', 'k996', 'k997', 'k998', 'k999'].filter((k) => run('EXISTS', k) === 1));
});

test('commands: keys expire lazily and by the bounded sweep', (t) => {
  const { kv, run, clock } = fixture();
  for (let i = 0; i < 2500; i++) run('SET', `v${i}`, 'x', 'PX', '100');
  run('SET', 'later', 'x', 'EX', '100');
  clock.now += 200;
  t.is(kv.store.size, 2501, 'nothing removed before a sweep');
  t.is(kv.store.sweep(1000), 1000);
  t.is(kv.store.sweep(1000), 1000);
  t.is(kv.store.sweep(1000), 500);
  t.is(run('DBSIZE'), 1);
  t.is(run('GET', 'later'), 'x');
});

test('commands: INCR family, INCRBYFLOAT errors as Redis words them', (t) => {
  const { run } = fixture();
  t.is(run('INCR', 'n'), 1);
  t.is(run('DECRBY', 'n', '-9223372036854775808'), '-ERR decrement would overflow');
  t.is(run('SET', 'max', '9223372036854775807'), '+OK');
  t.is(run('INCR', 'max'), '-ERR increment or decrement would overflow');
  t.is(run('SET', 's', '007'), '+OK');
  t.is(run('INCR', 's'), '-ERR value is not an integer or out of range');
  t.is(run('INCRBYFLOAT', 's', '1'), '8');
  t.is(run('INCRBYFLOAT', 's', '+inf'), '-ERR increment would produce NaN or Infinity');
  t.is(run('INCRBYFLOAT', 's', ' 1'), '-ERR value is not a valid float');
  t.is(run('SETRANGE', 's', '1', '\0'), 2);
  t.is(run('INCRBYFLOAT', 's', '1'), '-ERR value is not a valid float', 'a NUL ends what strtold reads');
});
