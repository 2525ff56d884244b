/**
 * examples/chat: the room on its own, then the server with line clients
 * (node:net always, nc where installed) and raw sockets for the misbehaving
 * ones (an over-long line, a reader that stops reading). Policy under test: a slow reader is DISCONNECTED once its send
 * queue passes --max-queue; the room goes on at full speed without it.
 */
import test from 'ava';
import * as net from 'node:net';
import { ChatRoom, MAX_LINE, stripControls, type Peer } from '../../examples/chat/room';
import { lineClients, RawClient } from '../helpers/clients';
import { Dribbler, serverSockets, serverSocketsBackTo } from '../helpers/deadlines';
import type { RunningExample } from '../helpers/example';
import { assertNoFdLeak, delay, openFds } from '../helpers/leaks';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);

class FakePeer implements Peer {
  readonly got: string[] = [];
  ended = false;
  send(line: string): void {
    if (this.ended) throw new Error(`send after end: ${line}`);
    this.got.push(line);
  }
  end(line?: string): void {
    if (line !== undefined) this.send(line);
    this.ended = true;
  }
}

test.serial('room: guests are named, renamed, told of joins and leaves; messages go to everyone else', (t) => {
  const room = new ChatRoom();
  const a = new FakePeer();
  const b = new FakePeer();
  const c = new FakePeer();
  const ma = room.join(a);
  const mb = room.join(b);
  t.is(ma.nick, 'guest1');
  t.is(a.got[0], '* welcome, you are guest1; /nick NAME to rename, /who, /quit');
  t.deepEqual(a.got.slice(1), ['* guest2 joined']);
  room.input(ma, '/nick alice');
  t.is(ma.nick, 'alice');
  t.is(a.got.at(-1), '* you are now alice');
  t.is(b.got.at(-1), '* guest1 is now alice');
  room.input(mb, '/nick alice');
  t.is(b.got.at(-1), 'error: alice is taken');
  room.input(mb, '/nick no spaces please');
  t.is(b.got.at(-1), 'error: a nick is 1-32 letters, digits, _ or -');
  room.input(mb, '/nick bob');
  const mc = room.join(c);
  room.input(ma, 'hello all');
  t.is(b.got.at(-1), 'alice: hello all');
  t.is(c.got.at(-1), 'alice: hello all');
  t.false(a.got.includes('alice: hello all'), 'no echo to the sender');
  room.input(mc, '/who');
  t.is(c.got.at(-1), '* here: alice, bob, guest3');
  room.input(mc, '/bogus');
  t.is(c.got.at(-1), 'error: unknown command /bogus');
  room.input(mb, '/quit');
  t.true(b.ended);
  t.is(b.got.at(-1), '* bye');
  t.is(a.got.at(-1), '* bob left');
  room.leave(mb); // idempotent: no second notice
  t.is(a.got.filter((l) => l === '* bob left').length, 1);
  room.leave(mc, 'ECONNRESET');
  t.is(a.got.at(-1), '* guest3 left (ECONNRESET)');
  t.is(room.size, 1);
});

test.serial('room: a send that makes another member leave mid-broadcast reaches everyone else once', (t) => {
  const room = new ChatRoom();
  const peers = [new FakePeer(), new FakePeer(), new FakePeer()];
  const members = peers.map((p) => room.join(p));
  // The second member's transport fails on its next send, as a slow reader's
  // connection does when it passes its cap: it leaves from inside the broadcast.
  peers[1].send = () => room.leave(members[1], 'too slow');
  room.input(members[0], 'hi');
  t.is(peers[2].got.filter((l) => l === 'guest1: hi').length, 1);
  t.true(peers[2].got.includes('* guest2 left (too slow)'));
  t.is(peers[0].got.at(-1), '* guest2 left (too slow)');
});

test.serial('room: close() says goodbye, ends everyone and ignores later input', (t) => {
  const room = new ChatRoom();
  const a = new FakePeer();
  const b = new FakePeer();
  const ma = room.join(a);
  room.join(b);
  room.close();
  t.true(a.ended && b.ended);
  t.is(a.got.at(-1), '* server shutting down');
  room.input(ma, 'anyone?'); // FakePeer throws on a send after end
  room.leave(ma);
  t.is(room.size, 0);
});

test.serial('room: control characters are stripped before a line is relayed or read as a command', (t) => {
  const room = new ChatRoom();
  const a = new FakePeer();
  const b = new FakePeer();
  const ma = room.join(a);
  room.join(b);
  t.true(room.input(ma, 'hi \x1b[2J\x1b]0;pwned\x07 there\x00!\r\x08\x7f\u009b31m\tok'));
  t.is(b.got.at(-1), 'guest1: hi [2J]0;pwned there!31m\tok');
  t.true(room.input(ma, '/ni\x00ck\x1b alice'));
  t.is(a.got.at(-1), '* you are now alice');
  t.false(room.input(ma, '\x00\x1b\x07'), 'nothing left: ignored');
  t.is(b.got.at(-1), '* guest1 is now alice');
  t.is(stripControls('plain héllo ünicode'), 'plain héllo ünicode');
});

async function stopped(t: import('ava').ExecutionContext, ex: RunningExample): Promise<void> {
  t.is(await ex.stop(), 0, `exit code; output:\n${ex.output()}`);
}


for (const client of lineClients()) {
  test.serial(`two users: nick, messages to the other one, join and leave notices (${client.name})`, async (t) => {
    const ex = await start('chat/main.js');
    const alice = client.open(ex.host, ex.port);
    await alice.waitFor('* welcome, you are guest1; /nick NAME to rename, /who, /quit');
    const bob = client.open(ex.host, ex.port);
    try {
      await bob.waitFor(/^\* welcome, you are guest2/);
      await alice.waitFor('* guest2 joined');
      alice.send('/nick alice');
      await alice.waitFor('* you are now alice');
      bob.send('/nick bob');
      await alice.waitFor('* guest2 is now bob');
      alice.send('hi bob');
      await bob.waitFor('alice: hi bob');
      bob.send('hi alice, héllo ünicode');
      await alice.waitFor('bob: hi alice, héllo ünicode');
      bob.send('/who');
      await bob.waitFor('* here: alice, bob');
      t.false(alice.lines.includes('alice: hi bob'), 'a message is not echoed to its sender');
      bob.end();
      t.is(await bob.exited, 0, 'bob disconnects cleanly');
      await alice.waitFor('* bob left');
      alice.end();
      t.is(await alice.exited, 0);
    } finally {
      await Promise.all([alice.kill(), bob.kill()]);
    }
    await stopped(t, ex);
  });
}

for (const client of lineClients()) {
  test.serial(`a line over ${MAX_LINE} bytes gets an error and a disconnect; the room goes on (${client.name})`, async (t) => {
    const ex = await start('chat/main.js');
    const watcher = client.open(ex.host, ex.port);
    try {
      await watcher.waitFor(/^\* welcome/);
      const rude = await RawClient.connect(ex.port);
      await rude.waitFor(/welcome, you are guest2/);
      rude.write(`${'x'.repeat(MAX_LINE + 500)}\n`);
      await rude.waitFor(/error: line too long \(max 1024 bytes\), bye\n$/);
      await rude.waitEnded();
      await watcher.waitFor('* guest2 left (line too long)');
      // The rude client closing its side lets the server close the connection.
      rude.socket.end();
      await rude.closed;
      // Exactly MAX_LINE bytes is fine, and the server is still serving.
      const polite = await RawClient.connect(ex.port);
      await polite.waitFor(/welcome, you are guest3/);
      polite.write(`${'y'.repeat(MAX_LINE)}\r\n`);
      await watcher.waitFor(`guest3: ${'y'.repeat(MAX_LINE)}`);
      polite.socket.end();
      await watcher.waitFor('* guest3 left');
      await polite.closed;
      watcher.end();
      t.is(await watcher.exited, 0);
    } finally {
      await watcher.kill();
    }
    await stopped(t, ex);
  });
}

// Regression: ESC, NUL and the other control characters went to every
// member's terminal as sent (escape-sequence injection).
for (const client of lineClients()) {
  test.serial(`users: control characters in a message do not reach the others (${client.name})`, async (t) => {
    const ex = await start('chat/main.js');
    const alice = client.open(ex.host, ex.port);
    await alice.waitFor(/^\* welcome, you are guest1/);
    const bob = await RawClient.connect(ex.port);
    try {
      await bob.waitFor(/welcome, you are guest2/);
      alice.send('hi \x1b[2J\x1b]0;pwned\x07 bob\x00!\r\u009bxy');
      const text = await bob.waitFor(/guest1: .*\n/);
      const line = /guest1: (.*)\n/.exec(text)![1];
      t.is(line, 'hi [2J]0;pwned bob!xy');
      t.false(/[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]/.test(bob.text), 'no control byte reached bob');
      alice.end();
      t.is(await alice.exited, 0);
      bob.socket.end();
      await bob.closed;
    } finally {
      await alice.kill();
    }
    await stopped(t, ex);
  });
}

// Regression: the chat had no deadline at all; 300 peers dribbling a byte a
// second stayed connected for as long as they liked.
for (const client of lineClients()) {
  test.serial(`--idle-timeout: members who say nothing (dribbling a partial line, or empty lines) are disconnected; members who talk stay (${client.name})`, async (t) => {
    const before = openFds();
    const idleMs = 600;
    const ex = await start('chat/main.js', ['--idle-timeout', String(idleMs)]);
    const idle = serverSockets(ex); // the listener, and stdout and stderr (socket pairs)
    const alice = client.open(ex.host, ex.port);
    await alice.waitFor(/^\* welcome, you are guest1/);
    const bob = client.open(ex.host, ex.port);
    await bob.waitFor(/^\* welcome, you are guest2/);
    const dribblers = [
      // One byte every 50 ms of a line that never ends.
      ...Array.from({ length: 8 }, () => new Dribbler(ex.port, 'x', 'x', 50)),
      // Lines with nothing in them: a NUL, then its line end.
      ...Array.from({ length: 4 }, () => new Dribbler(ex.port, '', '\x00\n', 50)),
    ];
    try {
      // Alice and Bob talk every 150 ms, for three idle timeouts.
      const started = Date.now();
      for (let i = 0; Date.now() - started < idleMs * 3; i++) {
        (i % 2 === 0 ? alice : bob).send(`line ${i}`);
        await (i % 2 === 0 ? bob : alice).waitFor(`guest${i % 2 === 0 ? 1 : 2}: line ${i}`);
        await delay(150);
      }
      // Generous: the sweep runs on timers, and a loaded machine runs timers late.
      const deadline = Date.now() + 8000;
      while (dribblers.some((d) => d.goneAfter === null) && Date.now() < deadline) await delay(20);
      for (const [i, d] of dribblers.entries()) {
        t.regex(d.received, /\* nothing said for 0\.6 s, bye\n$/, `dribbler ${i}`);
        t.true(d.goneAfter !== null && d.goneAfter >= idleMs - 50 && d.goneAfter < idleMs + 4000, `dribbler ${i}: gone after ${d.goneAfter} ms`);
      }
      t.true(alice.lines.some((l) => /^\* guest\d+ left \(idle\)$/.test(l)), 'the others are told');
      t.false(alice.lines.some((l) => l.startsWith('* guest2 left')), 'bob stayed');
      t.is(await serverSocketsBackTo(ex, idle + 2), idle + 2, 'the server holds only alice and bob');
      // Once Alice stops talking (Bob goes on), she is disconnected too, with a notice.
      const quiet = Date.now();
      while (!bob.lines.includes('* guest1 left (idle)') && Date.now() - quiet < idleMs * 4) {
        bob.send('still here');
        await delay(150);
      }
      t.true(bob.lines.includes('* guest1 left (idle)'), 'bob is told alice left');
      await alice.waitFor('* nothing said for 0.6 s, bye');
    } finally {
      await Promise.all([...dribblers.map((d) => d.stop()), alice.kill(), bob.kill()]);
    }
    await stopped(t, ex);
    await assertNoFdLeak(t, before);
  });
}

/**
 * A member that reads everything as fast as it comes and only looks for
 * notable lines: it must never be the slow one while megabytes go by.
 */
class FastReader {
  private tail = '';
  readonly notable: string[] = [];
  bytes = 0;
  private constructor(readonly socket: import('node:net').Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.bytes += chunk.length;
      const text = this.tail + chunk;
      const lines = text.split('\n');
      this.tail = lines.pop()!;
      for (const line of lines) if (!line.startsWith('guest3: mmm')) this.notable.push(line);
    });
  }
  static connect(port: number): Promise<FastReader> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new FastReader(socket)));
      socket.once('error', reject);
    });
  }
  async waitFor(pattern: RegExp, ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.notable.find((l) => pattern.test(l));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no line matching ${String(pattern)} within ${ms} ms; notable lines: ${JSON.stringify(this.notable)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

test.serial('a member who stops reading is disconnected once its send queue passes --max-queue; the others keep chatting', async (t) => {
  const maxQueue = 256 * 1024;
  const ex = await start('chat/main.js', ['--max-queue', String(maxQueue)]);
  const reader = await FastReader.connect(ex.port);
  await reader.waitFor(/^\* welcome, you are guest1/, 5000);
  const slow = await RawClient.connect(ex.port);
  await slow.waitFor(/welcome, you are guest2/);
  slow.write('/nick slowpoke\n');
  await reader.waitFor(/^\* guest2 is now slowpoke$/, 5000);
  slow.socket.pause(); // stops reading: the kernel buffers fill (~4 MB on loopback), then rxnet's queue
  const flooder = await RawClient.connect(ex.port);
  await flooder.waitFor(/welcome, you are guest3/);
  const burst = `${'m'.repeat(999)}\n`.repeat(64);
  const started = Date.now();
  let sent = 0;
  const left = () => reader.notable.some((l) => l.startsWith('* slowpoke left'));
  while (!left() && sent < 64 * 1024 * 1024 && Date.now() - started < 15_000) {
    sent += burst.length;
    if (!flooder.socket.write(burst)) await new Promise((resolve) => flooder.socket.once('drain', resolve));
  }
  const notice = await reader.waitFor(/^\* slowpoke left/, 10_000);
  t.is(notice, `* slowpoke left (too slow: over ${maxQueue} bytes waiting to be sent)`);
  t.log(`slow reader disconnected after ${(sent / 1024 / 1024).toFixed(1)} MB flooded, in ${Date.now() - started} ms`);
  // The room goes on: the member who reads got everything and gets more.
  flooder.write('still here\n');
  await reader.waitFor(/^guest3: still here$/, 10_000);
  t.is(reader.bytes > sent, true, 'the reading member got the whole flood');
  t.false(reader.notable.some((l) => l.startsWith('* guest1 left')));
  slow.socket.resume();
  await slow.waitEnded();
  await Promise.all([slow.destroy(), flooder.destroy(), new Promise<void>((resolve) => reader.socket.end(() => resolve()))]);
  t.is(await ex.stop(), 0, ex.output());
});

for (const client of lineClients()) {
  test.serial(`SIGTERM: members get a goodbye, the server half-closes them and exits with 0 by itself (${client.name})`, async (t) => {
    const ex = await start('chat/main.js');
    const a = client.open(ex.host, ex.port);
    const b = client.open(ex.host, ex.port);
    try {
      await a.waitFor(/^\* welcome/);
      await b.waitFor(/^\* welcome/);
      a.send('last words');
      await b.waitFor(/: last words$/);
      const exit = ex.stop('SIGTERM');
      await a.waitFor('* server shutting down');
      await b.waitFor('* server shutting down');
      // nc exits once both directions are closed.
      a.end();
      b.end();
      t.is(await a.exited, 0);
      t.is(await b.exited, 0);
      t.is(await exit, 0, ex.output());
      t.regex(ex.output(), /SIGTERM: shutting down/);
    } finally {
      await Promise.all([a.kill(), b.kill()]);
    }
  });
}

test.serial('SIGINT with nobody connected exits with 0', async (t) => {
  const ex = await start('chat/main.js');
  t.is(await ex.stop('SIGINT'), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});
