/**
 * The fleet demo (examples/fleet): HAProxy in mode tcp with send-proxy-v2
 * and health checks in front of three http demo instances on 127.0.0.2-4;
 * under wrk load each instance is replaced in turn by a handoff. Pass: no
 * socket error, no failed request, every old instance exits cleanly, and
 * GET /whoami through HAProxy names the real client (127.0.0.9).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import test from 'ava';
import { requireTool } from '../helpers/clients';
import { freePort } from '../helpers/haproxy';
import { backend, withReactor } from '../helpers/leaks';
import { linesOf, within } from '../helpers/processes';

const script = path.resolve(__dirname, '..', '..', 'examples', 'fleet', 'main.js');

test.serial('fleet: HAProxy + three instances, each replaced under wrk load, zero errors; /whoami is the real client', (t) =>
  withReactor(t, async () => {
    requireTool('haproxy');
    requireTool('wrk');
    const args = [script, '--port', String(await freePort()), '--instance-port', String(await freePort()), '--duration', '6', '--connections', '16', '--backend', backend];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const out = linesOf(child, 'fleet');
    try {
      const exit = await within(out.exited, 45_000, 'the fleet demo');
      const report = out.lines.find((l) => l.startsWith('fleet: '));
      t.truthy(report, out.lines.join('\n'));
      const r = JSON.parse(report!.slice('fleet: '.length)) as {
        ok: boolean;
        requests: number;
        socketErrors: number;
        non2xx: number;
        oldExits: number[];
        whoamiBefore: string;
        whoamiAfter: string;
      };
      t.true(r.requests > 1000, `wrk made only ${r.requests} requests`);
      t.is(r.socketErrors, 0, out.lines.join('\n'));
      t.is(r.non2xx, 0);
      t.deepEqual(r.oldExits, [0, 0, 0]);
      t.regex(r.whoamiBefore, /^127\.0\.0\.9 \d+$/);
      t.regex(r.whoamiAfter, /^127\.0\.0\.9 \d+$/);
      t.is(out.lines.filter((l) => l.startsWith('replaced ')).length, 3);
      t.true(r.ok);
      t.deepEqual(exit, { code: 0, signal: null });
    } finally {
      await out.kill();
    }
  }));
