/**
 * Zero-downtime handoff between processes: while clients open connection
 * after connection, a second process takes the listening socket over
 * (SCM_RIGHTS) and the first drains and exits. Not one connection may be
 * refused or reset, and the two processes' accept counts must add up to
 * exactly the connections the clients made.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { withReactor, delay } from '../helpers/leaks';
import { runFixture, within } from '../helpers/processes';

/** One connection: send, read the echo, close. Resolves true on success, false on any error. */
function oneExchange(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got === 'ping') socket.end();
    });
    socket.on('error', () => resolve(false));
    // A FIN before the echo (a connection ended as "idle" while its request was on its way) counts as a failure too.
    socket.on('close', (hadError) => resolve(!hadError && got === 'ping'));
    socket.write('ping');
  });
}

test.serial('handoff under load: no connection refused or reset; accepts on both sides add up', (t) =>
  withReactor(t, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-handoff-'));
    const sock = path.join(dir, 'handoff.sock');
    const first = runFixture('handoff-echo', [sock]);
    let second: ReturnType<typeof runFixture> | null = null;
    try {
      const one = JSON.parse(await first.nextLine()) as { port: number; tookOverFrom: number | null };
      t.is(one.tookOverFrom, null);
      let ok = 0;
      let failed = 0;
      let running = true;
      const clients = Array.from({ length: 8 }, async () => {
        while (running) {
          if (await oneExchange(one.port)) ok++;
          else failed++;
        }
      });
      await delay(300);
      const okBefore = ok;
      second = runFixture('handoff-echo', [sock]);
      const two = JSON.parse(await second.nextLine()) as { port: number; tookOverFrom: number | null };
      t.is(two.port, one.port);
      t.is(two.tookOverFrom, first.child.pid!);
      const firstAccepted = (JSON.parse(await first.nextLine()) as { accepted: number }).accepted;
      t.deepEqual(await within(first.exited, 5000, 'the first process to exit'), { code: 0, signal: null });
      await delay(300);
      running = false;
      await Promise.all(clients);
      second.child.kill('SIGTERM');
      const secondAccepted = (JSON.parse(await second.nextLine()) as { accepted: number }).accepted;
      await within(second.exited, 5000, 'the second process to exit');
      t.is(failed, 0, 'connections refused or reset');
      t.true(okBefore > 0 && firstAccepted > 0 && secondAccepted > 0, `first ${firstAccepted}, second ${secondAccepted}`);
      t.is(firstAccepted + secondAccepted, ok, 'every connection accepted exactly once, by one of the two');
      t.false(fs.existsSync(sock), 'the handoff socket is gone once the last server stopped');
    } finally {
      await first.kill();
      await second?.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }));
