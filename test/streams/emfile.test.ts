import * as net from 'node:net';
import test from 'ava';
import { delay, withReactor } from '../helpers/leaks';
import { lineMatching, runFixtureWithFdLimit } from '../helpers/children';
import { destroy } from '../helpers/sockets';
import { CLOCK_TICKS, HOST, cpuTicks, receive, within } from '../helpers/streams';

const EXTRA = 20;

interface Stats {
  accepted: number;
  active: number;
  dropped: number;
  emfileEpisodes: number;
}

function open(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST, () => resolve(s));
    s.on('error', () => {}); // dropped connections may be reset
    s.once('error', reject);
  });
}

test.serial('EMFILE in a child with ulimit -n 64: accepting pauses without spinning, then resumes by itself', (t) =>
  withReactor(t, async () => {
    const child = runFixtureWithFdLimit('streams/emfile-server', 64);
    const sockets: net.Socket[] = [];
    try {
      const listening = JSON.parse(await child.nextLine()) as { type: string; port: number; pid: number };
      t.is(listening.type, 'listening');
      t.is(listening.pid, child.child.pid!, 'exec kept the pid');
      const { port, pid } = listening;
      const paused = () => child.lines.some((l) => l.includes('"accept-paused"'));

      // Open connections until the server runs out of descriptors.
      for (let i = 0; i < 200 && !paused(); i++) {
        sockets.push(await open(port));
        await delay(5);
      }
      const pausedLine = JSON.parse(await lineMatching(child, (l) => l.includes('"accept-paused"'), 'accept-paused', 5000)) as {
        event: { code: string; retryInMs: number };
        stats: Stats;
      };
      t.is(pausedLine.event.code, 'EMFILE');
      t.true(pausedLine.event.retryInMs > 0);
      t.true(pausedLine.stats.emfileEpisodes >= 1);
      t.true(sockets.length < 64, `exhausted after ${sockets.length} connections`);
      // More wait in the backlog while the server is exhausted. Each retry
      // drops one of them (the spare-descriptor trick) and the retries back
      // off, so some are still pending when the measurement ends.
      for (let i = 0; i < EXTRA; i++) sockets.push(await open(port));

      // Absence of spin: ~1 s of CPU time while exhausted with connections pending.
      const t0 = cpuTicks(pid);
      const w0 = Date.now();
      await delay(1000);
      const used = (cpuTicks(pid) - t0) / CLOCK_TICKS;
      const wall = (Date.now() - w0) / 1000;
      t.log(`exhausted after ${sockets.length - EXTRA} connections; CPU while exhausted: ${((100 * used) / wall).toFixed(1)}% of a core`);
      t.true(used / wall < 0.1, `the exhausted server used ${((100 * used) / wall).toFixed(1)}% of a core (limit 10%)`);
      const statsLines = child.lines.length;
      await lineMatching(child, (l) => child.lines.indexOf(l) >= statsLines && l.includes('"stats"'), 'fresh stats');
      const stats = (JSON.parse(child.lines.filter((l) => l.includes('"stats"')).pop()!) as { stats: Stats }).stats;
      t.true(stats.emfileEpisodes >= 1);
      t.true(stats.dropped >= 1, 'pending connections were accepted and closed with the spare descriptor');
      t.true(stats.dropped < EXTRA, `connections were still pending all through the measurement (${stats.dropped} dropped)`);

      // Free the descriptors: the server resumes by itself and serves a new connection.
      for (const s of sockets.splice(0)) await destroy(s);
      const fresh = await open(port);
      const got = receive(fresh);
      fresh.end('served again');
      t.is((await got.end(5000)).toString(), 'served again');
      await destroy(fresh);
      const resumed = JSON.parse(await lineMatching(child, (l) => l.includes('"accept-resumed"'), 'accept-resumed', 5000)) as {
        event: { pausedForMs: number };
      };
      t.true(resumed.event.pausedForMs > 0);

      child.child.kill('SIGTERM');
      const closed = JSON.parse(await lineMatching(child, (l) => l.includes('"closed"'), 'the server to close')) as { registrations: number };
      t.is(closed.registrations, 0);
      t.deepEqual(await within(child.exited, 5000, 'the child to exit by itself'), { code: 0, signal: null });
    } finally {
      for (const s of sockets) await destroy(s);
      await child.kill();
    }
  }));
