/**
 * examples/udp-echo with node:dgram and, where installed, nc -u
 * (netcat-openbsd): each datagram comes back whole, to its sender,
 * boundaries kept.
 */
import test from 'ava';
import * as dgram from 'node:dgram';
import { requireOpenBsdNetcat, run, withClient } from '../helpers/clients';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);

test.serial('node:dgram gets its datagram back', async (t) => {
  const ex = await start('udp-echo/main.js');
  const socket = dgram.createSocket('udp4');
  try {
    const reply = new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
    // As any UDP client does: send again until the reply comes (a datagram may drop).
    const send = () => socket.send('hello over udp\n', ex.port, '127.0.0.1');
    send();
    const again = setInterval(send, 500);
    t.is(await reply.finally(() => clearInterval(again)), 'hello over udp\n');
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  t.is(await ex.stop(), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});

if (withClient('nc')) test.serial('nc -u gets its datagram back', async (t) => {
  requireOpenBsdNetcat();
  const ex = await start('udp-echo/main.js');
  // -w 1: nc quits one second after the last datagram.
  const r = await run('nc', ['-u', '-w', '1', '127.0.0.1', String(ex.port)], { input: 'hello over udp\n' });
  t.is(r.stdout, 'hello over udp\n');
  t.is(await ex.stop(), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});

test.serial('500 datagrams from two senders, up to 60000 bytes each, come back whole to their own sender', async (t) => {
  const ex = await start('udp-echo/main.js');
  const senders = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
  try {
    await Promise.all(senders.map((s) => new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))));
    // Mostly small datagrams, every 50th near the IPv4 maximum.
    const bodies = senders.map((_, i) => Array.from({ length: 250 }, (_, n) => `sender ${i} datagram ${n} `.padEnd(n % 50 === 0 ? 60000 : 40 + n, '.')));
    const received = senders.map(() => new Set<string>());
    const strangers: string[] = [];
    senders.forEach((s, i) =>
      s.on('message', (m) => {
        if (bodies[i].includes(m.toString())) received[i].add(m.toString());
        else strangers.push(m.toString().slice(0, 40));
      }),
    );
    // UDP may drop a datagram on the way (a full socket buffer on a busy
    // machine): like any UDP client, send again what has not come back.
    for (let round = 0; round < 5 && received.some((r) => r.size < 250); round++) {
      for (let n = 0; n < 250; n++) {
        for (let i = 0; i < 2; i++) if (!received[i].has(bodies[i][n])) senders[i].send(bodies[i][n], ex.port, '127.0.0.1');
        if (n % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const deadline = Date.now() + 1000;
      while (received.some((r) => r.size < 250) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    t.is(received[0].size, 250, 'sender 0 got every datagram back, whole');
    t.is(received[1].size, 250, 'sender 1 got every datagram back, whole');
    t.deepEqual(strangers, [], "no sender got another's datagram, or a cut one");
  } finally {
    await Promise.all(senders.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  t.is(await ex.stop(), 0, ex.output());
});

test.serial('SIGINT exits with 0', async (t) => {
  const ex = await start('udp-echo/main.js');
  t.is(await ex.stop('SIGINT'), 0, ex.output());
});
