/**
 * Handler output that can be pulled (async iterables, async and sync
 * generators, Node Readables) is pulled only while the connection is below
 * its high-water mark: a slow peer holds the producer back instead of
 * growing the server's memory, and nothing is cut off.
 */
import { Readable } from 'node:stream';
import test from 'ava';
import type { ConnectionHandler } from '../../index';
import { withReactor, delay } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { peerOutcome, receive, sha256, startServer, stopServer } from '../helpers/streams';

const CHUNK = 16 * 1024;
const COUNT = 2048; // 32 MiB, far past maxBufferedBytes below
const LIMITS = { highWaterMark: 64 * 1024, maxBufferedBytes: 1024 * 1024 };

function chunk(i: number): Buffer {
  return Buffer.alloc(CHUNK, i % 251);
}

const expected = sha256(Buffer.concat(Array.from({ length: COUNT }, (_, i) => chunk(i))));

const sources: Record<string, (pulled: { n: number }) => unknown> = {
  'an async generator': (pulled) =>
    (async function* () {
      for (let i = 0; i < COUNT; i++) {
        pulled.n++;
        yield chunk(i);
      }
    })(),
  'a sync generator': (pulled) =>
    (function* () {
      for (let i = 0; i < COUNT; i++) {
        pulled.n++;
        yield chunk(i);
      }
    })(),
  'a Node Readable': (pulled) =>
    new Readable({
      highWaterMark: CHUNK,
      read() {
        if (pulled.n === COUNT) return void this.push(null);
        this.push(chunk(pulled.n++));
      },
    }),
  'a custom async iterable': (pulled) => ({
    [Symbol.asyncIterator]() {
      return {
        next: async () => (pulled.n < COUNT ? { value: chunk(pulled.n++), done: false } : { value: undefined, done: true }),
      };
    },
  }),
};

for (const [name, make] of Object.entries(sources)) {
  test.serial(`${name} is pulled with backpressure: a paused peer holds the producer back, then gets every byte`, (t) =>
    withReactor(t, async (reactor) => {
      const pulled = { n: 0 };
      const { server, port } = await startServer(reactor, (() => make(pulled)) as ConnectionHandler, LIMITS);
      const socket = await client(port);
      socket.pause();
      // Give an unbounded producer every chance to run ahead.
      await until(() => pulled.n > 0, 'the first chunk');
      await delay(300);
      const ahead = pulled.n;
      // Kernel buffers (a few MB on loopback) + the high-water mark, not 32 MiB.
      t.true(ahead * CHUNK < 12 * 1024 * 1024, `pulled ${ahead} chunks while the peer was paused`);
      t.true(ahead < COUNT);
      const got = receive(socket);
      socket.resume();
      const all = await got.end(30_000);
      t.is(all.length, CHUNK * COUNT);
      t.is(sha256(all), expected);
      await destroy(socket);
      await stopServer(server);
    }));
}

test.serial('a pulled source that throws resets the connection and reports the error', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, () =>
      (async function* () {
        yield Buffer.from('partial');
        throw Object.assign(new Error('producer failed'), { code: 'E_PRODUCER' });
      })(),
    );
    const errors: string[] = [];
    server.events$.subscribe((e) => e.type === 'error' && errors.push((e.error as NodeJS.ErrnoException).code ?? ''));
    // rxnet's own client sees a reset as one (see peerOutcome).
    const outcome = await peerOutcome(reactor, port);
    t.false(outcome.ended, 'reset, not ended');
    t.is(outcome.error?.code, 'ECONNRESET');
    await until(() => errors.length === 1, 'the error event');
    t.deepEqual(errors, ['E_PRODUCER']);
    await stopServer(server);
  }));

test.serial('a pulled source stops being pulled when the peer goes away, and is returned (finally runs)', (t) =>
  withReactor(t, async (reactor) => {
    let finalized = false;
    let pulls = 0;
    const { server, port } = await startServer(reactor, () =>
      (async function* () {
        try {
          for (;;) {
            pulls++;
            yield Buffer.alloc(CHUNK);
          }
        } finally {
          finalized = true;
        }
      })(),
    );
    const socket = await client(port);
    await until(() => pulls > 4, 'some output');
    await destroy(socket);
    await until(() => finalized, 'the generator to be returned');
    await until(() => server.connections === 0, 'the connection to close');
    const after = pulls;
    await delay(50);
    t.is(pulls, after, 'no pulls after the connection closed');
    await stopServer(server);
  }));
