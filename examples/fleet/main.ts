/**
 * A fleet behind HAProxy, replaced one instance at a time under load.
 *
 *   node dist/examples/fleet/main.js [--port 16700] [--instance-port 16711] [--duration 8]
 *        [--connections 32] [--backend epoll]
 *
 * What it does (all on loopback; needs Debian's `haproxy` and `wrk`):
 *
 * 1. Starts three instances of the http example on 127.0.0.2, 127.0.0.3 and
 *    127.0.0.4 (same port), each with `--proxy-protocol v2
 *    --trusted-proxies 127.0.0.1/32 --handoff <dir>/<n>.sock`.
 * 2. Starts HAProxy on 127.0.0.1:--port in `mode tcp`, round robin over the
 *    three with `send-proxy-v2` and HTTP health checks (sent with the PROXY
 *    protocol's LOCAL command), and asks `GET /whoami` through it from
 *    127.0.0.9: the instance must answer 127.0.0.9, the real client, not
 *    HAProxy's 127.0.0.1.
 * 3. Runs `wrk` against HAProxy for --duration seconds and, meanwhile,
 *    replaces each instance in turn: a new process started with the same
 *    flags takes the listening socket over (SCM_RIGHTS), the old one
 *    answers its connections' next requests with `Connection: close`,
 *    drains and exits.
 * 4. Prints wrk's report and one `fleet: {...}` JSON line, and exits 0 only
 *    if wrk saw no socket error and no non-2xx response, every old instance
 *    exited cleanly, and /whoami still names the real client.
 *
 * See docs/deployment.md for the configs this mirrors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '16700' },
    'instance-port': { type: 'string', default: '16711' },
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
    backend: { type: 'string' },
  },
});
const frontPort = Number(values.port);
const instancePort = Number(values['instance-port']);
const duration = Number(values.duration);
const connections = Number(values.connections);
for (const [name, v, min, max] of [
  ['port', frontPort, 1, 65535],
  ['instance-port', instancePort, 1, 65535],
  ['duration', duration, 3, 60],
  ['connections', connections, 1, 1000],
] as const) {
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`fleet: --${name} must be an integer in [${min}, ${max}]\n`);
    process.exit(2);
  }
}

const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const CLIENT = '127.0.0.9';
const root = path.resolve(__dirname, '..', '..');
const httpDemo = path.join(root, 'examples', 'http', 'main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-fleet-'));
const children = new Set<ChildProcess>();

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Waits for a child's stdout to contain `pattern`; rejects if it exits first or after `ms`. */
function waitFor(child: ChildProcess, pattern: RegExp, what: string, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matching ${pattern} within ${ms} ms:\n${out}`)), ms);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before ${pattern}:\n${out}`)));
  });
}

function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

function run(command: string, args: string[], stdio: 'pipe' | 'inherit-stderr' = 'pipe'): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', stdio === 'pipe' ? 'pipe' : 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Starts (or, with a running predecessor at the same --handoff path, replaces) instance i. */
async function startInstance(i: number): Promise<ChildProcess> {
  const args = [httpDemo, '--host', ADDRESSES[i], '--port', String(instancePort), '--proxy-protocol', 'v2', '--trusted-proxies', '127.0.0.1/32'];
  args.push('--handoff', path.join(dir, `${i}.sock`));
  if (values.backend !== undefined) args.push('--backend', values.backend);
  const child = run(process.execPath, args, 'inherit-stderr');
  await waitFor(child, /listening on \S+/, `instance ${ADDRESSES[i]}`);
  return child;
}

/** GET /whoami through HAProxy from the client address. */
function whoami(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: frontPort, path: '/whoami', localAddress: CLIENT, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('GET /whoami timed out')));
  });
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`HAProxy is not listening on ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function haproxyConfig(): string {
  const servers = ADDRESSES.map((a, i) => `  server s${i + 1} ${a}:${instancePort} send-proxy-v2 check inter 250ms fall 2 rise 1`).join('\n');
  return `global
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend www
  bind 127.0.0.1:${frontPort}
  default_backend fleet
backend fleet
  balance roundrobin
  source 127.0.0.1
  option httpchk GET /whoami
  http-check expect status 200
${servers}
`;
}

/** wrk's report: requests, socket errors (connect, read, write, timeout) and non-2xx/3xx responses. */
function parseWrk(text: string): { requests: number; socketErrors: number; non2xx: number } {
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = se === null ? 0 : se.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return { requests, socketErrors, non2xx };
}

async function main(): Promise<number> {
  const instances = await Promise.all(ADDRESSES.map((_, i) => startInstance(i)));
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, haproxyConfig());
  const haproxy = run('haproxy', ['-db', '-f', cfg], 'inherit-stderr');
  await waitForPort(frontPort);
  const before = await whoami();
  log(`GET /whoami through HAProxy from ${CLIENT}: ${before}`);

  const wrk = run('wrk', ['-t2', `-c${connections}`, `-d${duration}s`, `http://127.0.0.1:${frontPort}/`]);
  let wrkOut = '';
  wrk.stdout!.on('data', (d: Buffer) => (wrkOut += d.toString()));
  const wrkDone = exited(wrk);

  // Replace each instance in turn while wrk runs.
  const step = (duration * 1000) / (ADDRESSES.length + 1);
  const oldExits: Array<number | string> = [];
  for (let i = 0; i < ADDRESSES.length; i++) {
    await new Promise((r) => setTimeout(r, step));
    const old = instances[i];
    instances[i] = await startInstance(i);
    oldExits.push(await exited(old));
    log(`replaced ${ADDRESSES[i]}: pid ${old.pid} -> ${instances[i].pid} (old exited ${oldExits[i]})`);
  }
  await wrkDone;
  process.stdout.write(wrkOut);
  const after = await whoami();
  const wrkResult = parseWrk(wrkOut);
  const ok =
    wrkResult.requests > 0 &&
    wrkResult.socketErrors === 0 &&
    wrkResult.non2xx === 0 &&
    oldExits.every((c) => c === 0) &&
    before.startsWith(`${CLIENT} `) &&
    after.startsWith(`${CLIENT} `);
  log(`fleet: ${JSON.stringify({ ok, ...wrkResult, oldExits, whoamiBefore: before, whoamiAfter: after })}`);
  haproxy.kill('SIGTERM');
  for (const c of instances) c.kill('SIGTERM');
  await Promise.all([exited(haproxy), ...instances.map(exited)]);
  return ok ? 0 : 1;
}

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}

process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});
main().then(
  (code) => {
    cleanup();
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`fleet: ${err.message}\n`);
    cleanup();
    process.exitCode = 1;
  },
);
