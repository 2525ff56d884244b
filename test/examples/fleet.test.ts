/**
 * The fleet demo (examples/fleet): HAProxy in mode tcp with send-proxy-v2
 * and health checks in front of three http demo instances on 127.0.0.2-4;
 * under wrk load each instance is replaced in turn by a handoff. Pass: no
 * socket error, no failed request, every old instance exits cleanly, and
 * GET /whoami through HAProxy names the real client (127.0.0.9). It runs
 * where haproxy and wrk are installed (or required: RXNET_REQUIRE_CLIENTS=1).
 *
 * Everywhere, the same with Node alone: the proxy demo sends PROXY v2 to
 * one http demo instance, node:http keep-alive clients load it, and the
 * instance is replaced twice by a handoff.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { requireTool, withClient } from '../helpers/clients';
import { freePort } from '../helpers/haproxy';
import { assertNoFdLeak, backend, openFds, withReactor } from '../helpers/leaks';
import { linesOf, within } from '../helpers/processes';
import { until } from '../helpers/readiness';
import { trackedExamples } from '../helpers/tracked';

const script = path.resolve(__dirname, '..', '..', 'examples', 'fleet', 'main.js');
const start = trackedExamples(test);
const CLIENT = '127.0.0.9';

/** One GET over `agent`: its status and body, or the error's code. */
function get(port: number, urlPath: string, agent: http.Agent | false, localAddress?: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, localAddress, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** GET /whoami from 127.0.0.9: the status, and the address the app says it came from ("ADDRESS PORT\n"). */
async function whoami(port: number): Promise<{ status: number; address: string } | { error: string }> {
  const r = await get(port, '/whoami', false, CLIENT);
  return 'error' in r ? r : { status: r.status, address: /^(\S+) \d+\n$/.exec(r.body)?.[1] ?? r.body };
}

test.serial('behind the proxy demo (PROXY v2), an http instance replaced twice by handoff under node:http keep-alive load: no failed request, old ones exit 0, /whoami is the real client', async (t) => {
  const before = openFds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-fleet-node-'));
  const flags = ['--proxy-protocol', 'v2', '--trusted-proxies', '127.0.0.1/32', '--handoff', path.join(dir, 'app.sock')];
  const agents = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    const first = await start('http/main.js', flags);
    const front = await start('proxy/main.js', ['--upstream', `127.0.0.1:${first.port}`, '--send-proxy-protocol', 'v2']);
    t.deepEqual(await whoami(front.port), { status: 200, address: CLIENT });

    // Four keep-alive clients, one request at a time each, until told to stop.
    let stop = false;
    const outcomes: string[] = [];
    const clients = agents.map(async (agent) => {
      while (!stop) {
        const r = await get(front.port, '/', agent);
        outcomes.push('error' in r ? r.error : String(r.status));
      }
    });
    const exits: Array<number | string> = [];
    let current = first;
    for (let i = 0; i < 2; i++) {
      const served = outcomes.length;
      await until(() => outcomes.length >= served + 50, 'requests to the current instance', 20_000);
      const next = await start('http/main.js', flags);
      t.is(next.port, first.port, 'the port was taken over');
      const old = current;
      await until(() => old.proc.exitCode !== null || old.proc.signalCode !== null, 'the old instance to drain and exit', 15_000);
      exits.push(await old.stop());
      current = next;
    }
    const served = outcomes.length;
    await until(() => outcomes.length >= served + 50, 'requests to the last instance', 20_000);
    stop = true;
    await Promise.all(clients);

    t.log(`${outcomes.length} requests`);
    const failed = outcomes.filter((o) => o !== '200');
    t.deepEqual(failed, [], `${failed.length} of ${outcomes.length} requests failed`);
    t.deepEqual(exits, [0, 0]);
    t.deepEqual(await whoami(front.port), { status: 200, address: CLIENT }, 'still the real client');
    t.is(await front.stop(), 0);
    t.is(await current.stop(), 0);
  } finally {
    for (const agent of agents) agent.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await assertNoFdLeak(t, before);
});

if (withClient('haproxy', 'wrk')) test.serial('fleet: HAProxy + three instances, each replaced under wrk load, zero errors; /whoami is the real client', (t) =>
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
