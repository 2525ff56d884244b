/**
 * TLS benchmark: `npm run bench:tls` (= build, then `node dist/bench/tls.js`).
 *
 * rxnet terminates TLS in the reactor's native data path; each section puts
 * it side by side with what people run today, in one run:
 *
 *   echo       bench/servers/tls-echo.ts vs node-tls-echo.ts (node:tls), and
 *              bench/c/tls_echo.c (epoll + the system's OpenSSL: the floor
 *              without a JavaScript runtime; skipped without libssl-dev)
 *              load: redis-benchmark --tls -t ping_mbulk -c 50 at -P 1 and -P 16
 *              metric: server CPU µs per request      goal: <= 0.6x node:tls
 *   bulk       the same servers (C included) sending (download) or receiving (upload) 1 GiB
 *              load: openssl s_client (C), one connection
 *              metric: MB per server CPU second        goal: >= 1.5x node:tls
 *   handshake  the same echo servers with an ECDSA P-256 and an RSA-2048 certificate
 *              load: openssl s_time -new (a full handshake per connection), 2 at once
 *              metric: server CPU µs per handshake (its inverse: handshakes per
 *              server CPU second)                       goal: >= 1.2x node:tls
 *   https      examples/http --tls-cert/--tls-key vs nginx (1 worker, ssl)
 *              load: wrk -t1 -c50 over https, GET /    goal: req/s >= 0.8x nginx
 *   kv         examples/kv --tls-cert/--tls-key vs redis-server --tls-port
 *              load: redis-benchmark --tls -t get -P 16 -c 50
 *                                                       goal: req/s >= 1.0x redis-server
 *
 * Server CPU is utime+stime of the server process (all threads) from
 * /proc/<pid>/stat before and after each load. The machine is shared and
 * noisy (2 cores, the load generator included): servers of a section are
 * interleaved over rounds (order rotated), ratios are taken within a round
 * and their medians reported, with how long the server waited for a CPU.
 * Certificates (ECDSA P-256 and RSA-2048, self-signed) are made with
 * `openssl req` in a temp dir; every server uses the same one.
 *
 * Options:
 *   --rounds N      rounds (default 2; --quick: 1)
 *   --quick         small loads, a smoke test
 *   --only LIST     sections, e.g. echo,bulk (default echo,bulk,handshake,https,kv)
 *   --backend NAME  the rxnet servers' backend (default epoll on Linux)
 *   --json PATH     every run as JSON (default bench/out/tls.json)
 *
 * Loopback only; every load is bounded in time; every child is killed at the end.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CLK_TCK,
  ROOT,
  alive,
  banner,
  cpuTicks,
  findExe,
  freePort,
  intOption,
  killAll,
  median,
  nodeServer,
  option,
  rotated,
  runTool,
  runqueueWaitNs,
  sh,
  sleep,
  tmpDir,
  withServers,
  type Server,
  type ServerSpec,
} from './lib';

const TOTAL_LIMIT_MS = 25 * 60_000;
const CONNECTIONS = 50;
const SECTIONS = ['echo', 'bulk', 'handshake', 'https', 'kv'] as const;
type Section = (typeof SECTIONS)[number];

const quick = process.argv.includes('--quick');
const rounds = intOption('--rounds', quick ? 1 : 2);
const only = (option('--only') ?? SECTIONS.join(',')).split(',').filter(Boolean);
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s} (known: ${SECTIONS.join(', ')})`);
const backend = option('--backend') ?? (process.platform === 'linux' ? 'epoll' : undefined);
const jsonPath = option('--json') ?? path.join(ROOT, 'bench', 'out', 'tls.json');

const ECHO_N1 = quick ? 10_000 : 100_000;
const ECHO_N16 = quick ? 100_000 : 1_000_000;
const BULK_BYTES = quick ? 128 * 1024 * 1024 : 1024 * 1024 * 1024;
const HANDSHAKE_SECONDS = quick ? 2 : 5;
const HTTP_SECONDS = quick ? 2 : 5;
const KV_N16 = quick ? 100_000 : 1_000_000;

const rxnetArgs = ['--host', '127.0.0.1', '--port', '0', ...(backend ? ['--backend', backend] : [])];

interface Identity {
  cert: string;
  key: string;
}

/** A self-signed identity for localhost/127.0.0.1 in `dir`. */
function makeIdentity(dir: string, name: string, keyArgs: string[]): Identity {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  const r = spawnSync(
    'openssl',
    ['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.error?.message ?? r.stderr}`);
  return { cert, key };
}

// ---- runs ---------------------------------------------------------------------

interface Run {
  section: Section;
  server: string;
  test: string;
  round: number;
  /** What the load generator counted per second (requests, handshakes, MB). */
  rate: number;
  /** Units done in the run (requests, handshakes, bytes): the CPU divisor. */
  units: number;
  cpuUs: number;
  userUs: number;
  sysUs: number;
  cpuSeconds: number;
  /** bulk: the user and system parts of cpuSeconds. */
  userSeconds?: number;
  sysSeconds?: number;
  waitPct: number;
  errors?: string;
}

interface LoadResult {
  rate: number;
  units: number;
  errors?: string;
}

const runs: Run[] = [];

async function measure(section: Section, server: Server, test: string, round: number, load: () => Promise<LoadResult>): Promise<Run> {
  const c0 = cpuTicks(server.pid);
  const q0 = runqueueWaitNs(server.pid);
  const t0 = process.hrtime.bigint();
  const r = await load();
  const t1 = process.hrtime.bigint();
  alive(server);
  const c1 = cpuTicks(server.pid);
  const q1 = runqueueWaitNs(server.pid);
  const ticks = c1.user - c0.user + c1.sys - c0.sys;
  const us = (x: number) => (r.units > 0 ? (x * 1e6) / CLK_TCK / r.units : NaN);
  const run: Run = {
    section,
    server: server.spec.key,
    test,
    round,
    rate: r.rate,
    units: r.units,
    cpuUs: us(ticks),
    userUs: us(c1.user - c0.user),
    sysUs: us(c1.sys - c0.sys),
    cpuSeconds: ticks / CLK_TCK,
    waitPct: ((q1 - q0) / Number(t1 - t0)) * 100,
    errors: r.errors,
  };
  runs.push(run);
  console.log(
    `  round ${round} ${test.padEnd(12)} ${server.spec.key.padEnd(7)} ${run.rate.toFixed(run.rate < 1000 ? 1 : 0).padStart(9)}/s  ` +
      `${section === 'bulk' ? `${run.cpuSeconds.toFixed(2)} CPU s` : `${run.cpuUs.toFixed(2)} µs/unit (user ${run.userUs.toFixed(2)}, sys ${run.sysUs.toFixed(2)})`}, ` +
      `waited for CPU ${run.waitPct.toFixed(0)}%${run.errors ? `, ${run.errors}` : ''}`,
  );
  return run;
}

const of = (section: Section, key: string, test: string) => runs.filter((r) => r.section === section && r.server === key && r.test === test);
const med = (section: Section, key: string, test: string, field: keyof Run) => median(of(section, key, test).map((r) => r[field] as number));
/** Median over rounds of (a's field / b's field) in the same round. */
function ratio(section: Section, a: string, b: string, test: string, field: keyof Run): number {
  const xs: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const ra = of(section, a, test).find((r) => r.round === round);
    const rb = of(section, b, test).find((r) => r.round === round);
    if (ra && rb) xs.push((ra[field] as number) / (rb[field] as number));
  }
  return median(xs);
}
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '-');
const kilo = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));

const report: string[] = [];
const out = (line = '') => {
  report.push(line);
  console.log(line);
};
const goals: string[] = [];
function goal(what: string, value: number, target: number, better: 'higher' | 'lower'): void {
  const met = better === 'higher' ? value >= target : value <= target;
  goals.push(`- ${what}: ${times(value)} (goal ${better === 'higher' ? '>=' : '<='} ${target}×) — ${met ? 'met' : 'NOT met'}`);
}

// ---- loads --------------------------------------------------------------------

async function redisBench(port: number, test: string, requests: number, pipeline: number, extra: string[] = []): Promise<LoadResult> {
  const args = ['--tls', '--insecure', '-h', '127.0.0.1', '-p', String(port), '-t', test, '-c', String(CONNECTIONS), '-n', String(requests), '-P', String(pipeline), '--csv', ...extra];
  const text = await runTool('redis-benchmark', args, 180_000);
  const m = text.match(/^"[A-Z_]+","([\d.]+)"/m);
  if (!m) throw new Error(`cannot read redis-benchmark's output:\n${text.slice(-1000)}`);
  return { rate: Number(m[1]), units: requests };
}

/** openssl s_client as the far end of a 1 GiB transfer; the rate is MB/s of wall time. */
async function bulk(port: number, direction: 'download' | 'upload'): Promise<LoadResult> {
  const started = process.hrtime.bigint();
  const sClient = `openssl s_client -connect 127.0.0.1:${port} -quiet`;
  const command =
    direction === 'download'
      ? `${sClient} < /dev/null | wc -c`
      : // -no_ign_eof: at the end of stdin s_client sends close_notify and exits.
        `head -c ${BULK_BYTES} /dev/zero | ${sClient} -no_ign_eof > /dev/null 2>&1; echo ${BULK_BYTES}`;
  const text = await runTool('bash', ['-c', command], 600_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bytes = Number(text.trim().split('\n').pop());
  if (bytes !== BULK_BYTES) throw new Error(`${direction}: ${bytes} bytes moved, expected ${BULK_BYTES}:\n${text.slice(-500)}`);
  return { rate: bytes / 1e6 / seconds, units: bytes };
}

/** Two `openssl s_time -new` at once: a full handshake per connection. */
async function handshakes(port: number): Promise<LoadResult> {
  const one = () => runTool('openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(HANDSHAKE_SECONDS)], (HANDSHAKE_SECONDS + 60) * 1000);
  const started = process.hrtime.bigint();
  const texts = await Promise.all([one(), one()]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let total = 0;
  for (const text of texts) {
    const m = text.match(/(\d+) connections in [\d.]+ real seconds/);
    if (!m) throw new Error(`cannot read s_time's output:\n${text.slice(-500)}`);
    total += Number(m[1]);
  }
  return { rate: total / seconds, units: total };
}

async function wrk(port: number, seconds: number): Promise<LoadResult> {
  const text = await runTool('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, `https://127.0.0.1:${port}/`], (seconds + 30) * 1000);
  const total = text.match(/(\d+) requests in/);
  const rps = text.match(/Requests\/sec:\s+([\d.]+)/);
  if (!total || !rps) throw new Error(`cannot read wrk's output:\n${text}`);
  const problems: string[] = [];
  const sock = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  if (sock && sock.slice(1).some((x) => x !== '0')) problems.push(`socket errors c/r/w/t ${sock.slice(1).join('/')}`);
  const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx) problems.push(`${non2xx[1]} non-2xx`);
  return { rate: Number(rps[1]), units: Number(total[1]), errors: problems.join(', ') || undefined };
}

// ---- servers ------------------------------------------------------------------

function echoPair(id: Identity, mode: string, suffix = '', bytes = 0): ServerSpec[] {
  const args = ['--cert', id.cert, '--key', id.key, '--mode', mode, ...(bytes ? ['--bytes', String(bytes)] : [])];
  return [
    nodeServer(`rxnet${suffix}`, `rxnet serve({ tls })${suffix ? ` ${suffix}` : ''}`, 'bench/servers/tls-echo.js', [...rxnetArgs, ...args]),
    nodeServer(`node${suffix}`, `node:tls${suffix ? ` ${suffix}` : ''}`, 'bench/servers/node-tls-echo.js', ['--port', '0', ...args]),
  ];
}

async function nginxSpec(exe: string, id: Identity): Promise<ServerSpec> {
  const tmp = tmpDir('rxnet-nginx-tls-');
  const port = await freePort();
  const conf = [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    'error_log stderr;',
    `pid ${tmp}/nginx.pid;`,
    'events {}',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${tmp}/body;`,
    '  server {',
    `    listen 127.0.0.1:${port} ssl;`,
    `    ssl_certificate ${id.cert};`,
    `    ssl_certificate_key ${id.key};`,
    '    ssl_protocols TLSv1.2 TLSv1.3;',
    "    location / { return 200 'Hello, World!'; }",
    '  }',
    '}',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(tmp, 'nginx.conf'), conf);
  return { key: 'nginx', label: 'nginx (1 worker, ssl)', cmd: exe, args: ['-c', path.join(tmp, 'nginx.conf'), '-p', tmp], ready: 'connect', port, tmp };
}

async function redisSpec(exe: string, id: Identity): Promise<ServerSpec> {
  const tmp = tmpDir('rxnet-redis-tls-');
  const port = await freePort();
  return {
    key: 'redis',
    label: 'redis-server --tls-port',
    cmd: exe,
    args: [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
      '--tls-cert-file', id.cert, '--tls-key-file', id.key, '--tls-ca-cert-file', id.cert, '--tls-auth-clients', 'no',
      '--save', '', '--appendonly', 'no', '--dir', tmp,
    ],
    ready: 'connect',
    port,
    tmp,
  };
}

// ---- sections -----------------------------------------------------------------

/**
 * bench/c/tls_echo.c built against the system's OpenSSL (libssl-dev), or
 * null with the reason: the floor without a JavaScript runtime.
 */
function cTlsEcho(): { exe: string | null; note: string } {
  const cc = findExe('cc') ?? findExe('gcc');
  if (cc === null) return { exe: null, note: 'no C compiler' };
  const dir = path.join(ROOT, 'bench', 'out');
  fs.mkdirSync(dir, { recursive: true });
  const exe = path.join(dir, 'tls_echo');
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', exe, path.join(ROOT, 'bench', 'c', 'tls_echo.c'), '-lssl', '-lcrypto'], { encoding: 'utf8' });
  if (r.status !== 0) return { exe: null, note: `cc tls_echo.c failed (is libssl-dev installed? \`apt-get install libssl-dev\`): ${r.stderr.trim().split('\n')[0]}` };
  return { exe, note: '' };
}

function cTlsSpec(exe: string, id: Identity, mode: string[]): ServerSpec {
  return { key: 'c', label: 'C epoll + OpenSSL (bench/c/tls_echo.c)', cmd: exe, args: ['0', id.cert, id.key, ...mode], ready: 'line' };
}

async function echoSection(id: Identity): Promise<void> {
  const c = cTlsEcho();
  const specs: ServerSpec[] = [
    ...echoPair(id, 'echo'),
    ...(c.exe ? [cTlsSpec(c.exe, id, ['echo'])] : []),
  ];
  await withServers(specs, async (servers) => {
    console.log(`\necho: redis-benchmark --tls -t ping_mbulk -c ${CONNECTIONS}, -n ${ECHO_N1} at -P 1, -n ${ECHO_N16} at -P 16, ${rounds} round(s)`);
    for (const s of servers) {
      await redisBench(s.port, 'ping_mbulk', Math.max(5000, ECHO_N1 >> 2), 1); // warm-up
      await redisBench(s.port, 'ping_mbulk', Math.max(20000, ECHO_N16 >> 3), 16);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const s of rotated(servers, round - 1)) await measure('echo', s, 'P=1', round, () => redisBench(s.port, 'ping_mbulk', ECHO_N1, 1));
      for (const s of rotated(servers, round - 1)) await measure('echo', s, 'P=16', round, () => redisBench(s.port, 'ping_mbulk', ECHO_N16, 16));
    }
    out();
    out(`#### echo over TLS — \`redis-benchmark --tls -t ping_mbulk -c ${CONNECTIONS}\``);
    out();
    out('| server | req/s P=1 | CPU µs/req P=1 | ratio | req/s P=16 | CPU µs/req P=16 | ratio | waited for CPU |');
    out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const s of servers) {
      const k = s.spec.key;
      out(
        `| ${s.spec.label} | ${kilo(med('echo', k, 'P=1', 'rate'))} | ${med('echo', k, 'P=1', 'cpuUs').toFixed(2)} | ${times(ratio('echo', k, 'node', 'P=1', 'cpuUs'))} | ` +
          `${kilo(med('echo', k, 'P=16', 'rate'))} | ${med('echo', k, 'P=16', 'cpuUs').toFixed(3)} | ${times(ratio('echo', k, 'node', 'P=16', 'cpuUs'))} | ` +
          `${med('echo', k, 'P=1', 'waitPct').toFixed(0)}% / ${med('echo', k, 'P=16', 'waitPct').toFixed(0)}% |`,
      );
    }
    if (!c.exe) out(`\nThe C reference was skipped: ${c.note}.`);
    goal('echo CPU per request vs node:tls at -P 1', ratio('echo', 'rxnet', 'node', 'P=1', 'cpuUs'), 0.6, 'lower');
    goal('echo CPU per request vs node:tls at -P 16', ratio('echo', 'rxnet', 'node', 'P=16', 'cpuUs'), 0.6, 'lower');
  });
}

async function bulkSection(id: Identity): Promise<void> {
  const mib = BULK_BYTES / (1024 * 1024);
  const c = cTlsEcho();
  for (const direction of ['download', 'upload'] as const) {
    const mode = direction === 'download' ? ['source', String(BULK_BYTES)] : ['sink'];
    const specs = [
      ...(direction === 'download' ? echoPair(id, 'source', '', BULK_BYTES) : echoPair(id, 'sink')),
      ...(c.exe ? [cTlsSpec(c.exe, id, mode)] : []),
    ];
    await withServers(specs, async (servers) => {
      console.log(`\nbulk ${direction}: ${mib} MiB with openssl s_client, ${rounds} round(s)`);
      for (let round = 1; round <= rounds; round++) {
        for (const s of rotated(servers, round - 1)) await measure('bulk', s, direction, round, () => bulk(s.port, direction));
      }
    });
  }
  // CPU seconds split (from the per-byte figures), then MB per server CPU
  // second: the bytes over the CPU seconds (kept in userUs for ratio()).
  // The split is shown because the system part swings: for the same 1 GiB
  // send a server's system time ranged from 0.09 to 1.33 s between rounds
  // (2026-12-03; rxnet, node:tls and the C server alike, pinned to a CPU or
  // not), its user time far less (rxnet 0.28-0.39 s, node:tls 0.22-0.37 s,
  // C 0.19-0.26 s). On loopback the receiver's TCP work is charged to
  // whichever process runs it.
  for (const r of runs.filter((x) => x.section === 'bulk')) {
    r.userSeconds = (r.userUs * r.units) / 1e6;
    r.sysSeconds = (r.sysUs * r.units) / 1e6;
    r.userUs = r.units / 1e6 / r.cpuSeconds;
  }
  out();
  out(`#### bulk — ${mib} MiB over one TLS connection, \`openssl s_client\` at the far end`);
  out();
  out('| server | direction | MB/s (wall) | server CPU s (user + sys) | MB per server CPU s | ratio to node:tls | waited for CPU |');
  out('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const direction of ['download', 'upload'] as const) {
    for (const k of c.exe ? ['rxnet', 'node', 'c'] : ['rxnet', 'node']) {
      out(
        `| ${k === 'rxnet' ? 'rxnet serve({ tls })' : k === 'node' ? 'node:tls' : 'C epoll + OpenSSL'} | ${direction === 'download' ? 'server sends' : 'server receives'} | ${med('bulk', k, direction, 'rate').toFixed(0)} | ` +
          `${med('bulk', k, direction, 'cpuSeconds').toFixed(2)} (${med('bulk', k, direction, 'userSeconds').toFixed(2)} + ${med('bulk', k, direction, 'sysSeconds').toFixed(2)}) | ${med('bulk', k, direction, 'userUs').toFixed(0)} | ${times(ratio('bulk', k, 'node', direction, 'userUs'))} | ${med('bulk', k, direction, 'waitPct').toFixed(0)}% |`,
      );
    }
    goal(`bulk ${direction}: MB per server CPU second vs node:tls`, ratio('bulk', 'rxnet', 'node', direction, 'userUs'), 1.5, 'higher');
  }
  if (!c.exe) out(`\nThe C reference was skipped: ${c.note}.`);
}

async function handshakeSection(ec: Identity, rsa: Identity): Promise<void> {
  const specs = [...echoPair(ec, 'echo', '-ec'), ...echoPair(rsa, 'echo', '-rsa')];
  await withServers(specs, async (servers) => {
    console.log(`\nhandshake: 2 x openssl s_time -new -time ${HANDSHAKE_SECONDS}, ${rounds} round(s)`);
    for (const s of servers) await handshakes(s.port); // warm-up
    for (let round = 1; round <= rounds; round++) {
      for (const s of rotated(servers, round - 1)) await measure('handshake', s, s.spec.key.endsWith('-ec') ? 'ECDSA' : 'RSA', round, () => handshakes(s.port));
    }
  });
  out();
  out(`#### handshakes — \`openssl s_time -new\` (a full handshake per connection, TLSv1.3), two at once`);
  out();
  out('| server | certificate | handshakes/s (client-bound) | server CPU µs/handshake | handshakes per server CPU s | ratio to node:tls | waited for CPU |');
  out('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [test, suffix] of [
    ['ECDSA', '-ec'],
    ['RSA', '-rsa'],
  ] as const) {
    for (const k of ['rxnet', 'node']) {
      const key = `${k}${suffix}`;
      const capacity = 1e6 / med('handshake', key, test, 'cpuUs');
      // Capacity ratio = inverse of the CPU ratio, per round.
      const r = 1 / ratio('handshake', key, `node${suffix}`, test, 'cpuUs');
      out(
        `| ${k === 'rxnet' ? 'rxnet serve({ tls })' : 'node:tls'} | ${test === 'ECDSA' ? 'ECDSA P-256' : 'RSA-2048'} | ${med('handshake', key, test, 'rate').toFixed(0)} | ` +
          `${med('handshake', key, test, 'cpuUs').toFixed(0)} | ${capacity.toFixed(0)} | ${times(r)} | ${med('handshake', key, test, 'waitPct').toFixed(0)}% |`,
      );
    }
    goal(`handshakes per server CPU second vs node:tls, ${test}`, 1 / ratio('handshake', `rxnet${suffix}`, `node${suffix}`, test, 'cpuUs'), 1.2, 'higher');
  }
}

async function httpsSection(id: Identity): Promise<void> {
  if (!findExe('wrk')) return void out('https: skipped — wrk is not installed: `apt-get install wrk`.');
  const specs: ServerSpec[] = [nodeServer('rxnet', 'examples/http --tls-cert/--tls-key', 'examples/http/main.js', [...rxnetArgs, '--tls-cert', id.cert, '--tls-key', id.key])];
  const nginx = findExe('nginx');
  if (nginx) specs.push(await nginxSpec(nginx, id));
  await withServers(specs, async (servers) => {
    console.log(`\nhttps: wrk -t1 -c${CONNECTIONS} -d${HTTP_SECONDS}s https://..., ${rounds} round(s)`);
    for (const s of servers) await wrk(s.port, 2);
    for (let round = 1; round <= rounds; round++) {
      for (const s of rotated(servers, round - 1)) await measure('https', s, 'wrk', round, () => wrk(s.port, HTTP_SECONDS));
    }
    out();
    out(`#### https hello — \`wrk -t1 -c${CONNECTIONS} -d${HTTP_SECONDS}s https://127.0.0.1:PORT/\` (keep-alive)`);
    out();
    out('| server | req/s | ratio to nginx | CPU µs/req | CPU/req ratio to nginx | waited for CPU |');
    out('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of servers) {
      const k = s.spec.key;
      const errs = of('https', k, 'wrk').map((r) => r.errors).filter(Boolean);
      out(
        `| ${s.spec.label}${errs.length ? ` (${errs[0]})` : ''} | ${kilo(med('https', k, 'wrk', 'rate'))} | ${nginx ? times(ratio('https', k, 'nginx', 'wrk', 'rate')) : '-'} | ` +
          `${med('https', k, 'wrk', 'cpuUs').toFixed(2)} | ${nginx ? times(ratio('https', k, 'nginx', 'wrk', 'cpuUs')) : '-'} | ${med('https', k, 'wrk', 'waitPct').toFixed(0)}% |`,
      );
    }
    if (nginx) goal('https hello req/s vs nginx (1 worker)', ratio('https', 'rxnet', 'nginx', 'wrk', 'rate'), 0.8, 'higher');
  });
}

async function kvSection(id: Identity): Promise<void> {
  const specs: ServerSpec[] = [nodeServer('rxnet', 'examples/kv --tls-cert/--tls-key', 'examples/kv/main.js', [...rxnetArgs, '--tls-cert', id.cert, '--tls-key', id.key])];
  const redis = findExe('redis-server');
  if (redis) specs.push(await redisSpec(redis, id));
  await withServers(specs, async (servers) => {
    console.log(`\nkv: redis-benchmark --tls -t set/get -P 16 -c ${CONNECTIONS} -n ${KV_N16}, ${rounds} round(s)`);
    for (const s of servers) {
      await redisBench(s.port, 'set', Math.max(50_000, KV_N16 >> 3), 16);
      await redisBench(s.port, 'get', Math.max(50_000, KV_N16 >> 3), 16);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const test of ['set', 'get']) {
        for (const s of rotated(servers, round - 1)) await measure('kv', s, `${test.toUpperCase()} P=16`, round, () => redisBench(s.port, test, KV_N16, 16));
      }
    }
    out();
    out(`#### kv over TLS — \`redis-benchmark --tls -P 16 -c ${CONNECTIONS}\``);
    out();
    out('| server | SET req/s | ratio | GET req/s | ratio | CPU µs/GET | waited for CPU |');
    out('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const s of servers) {
      const k = s.spec.key;
      out(
        `| ${s.spec.label} | ${kilo(med('kv', k, 'SET P=16', 'rate'))} | ${redis ? times(ratio('kv', k, 'redis', 'SET P=16', 'rate')) : '-'} | ` +
          `${kilo(med('kv', k, 'GET P=16', 'rate'))} | ${redis ? times(ratio('kv', k, 'redis', 'GET P=16', 'rate')) : '-'} | ${med('kv', k, 'GET P=16', 'cpuUs').toFixed(3)} | ${med('kv', k, 'GET P=16', 'waitPct').toFixed(0)}% |`,
      );
    }
    if (redis) goal('kv GET req/s at -P 16 vs redis-server --tls-port', ratio('kv', 'rxnet', 'redis', 'GET P=16', 'rate'), 1.0, 'higher');
  });
}

// ---- main ---------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.platform !== 'linux' || !fs.existsSync('/proc/self/stat')) {
    console.log('bench:tls reads server CPU time from /proc and runs on Linux only. Nothing was measured.');
    return;
  }
  for (const tool of ['openssl', 'redis-benchmark']) {
    if (!findExe(tool)) {
      console.log(`bench:tls: ${tool} is not installed (apt-get install ${tool === 'openssl' ? 'openssl' : 'redis-tools'}). Nothing was measured.`);
      return;
    }
  }
  const overall = setTimeout(() => {
    console.error(`bench:tls: gave up after ${TOTAL_LIMIT_MS / 60000} minutes`);
    killAll();
    process.exit(1);
  }, TOTAL_LIMIT_MS);
  overall.unref();
  const dir = tmpDir('rxnet-bench-tls-');
  const ec = makeIdentity(dir, 'ecdsa', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const rsa = makeIdentity(dir, 'rsa', ['-newkey', 'rsa:2048']);

  const header = [
    `date: ${new Date().toISOString()}`,
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), kernel ${sh('uname', ['-r'])}, node ${process.version} (OpenSSL ${process.versions.openssl}), ${banner('openssl', ['version'])}`,
    `load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes share these cores)`,
    `rxnet backend: ${backend ?? 'default'}; ${rounds} round(s), servers interleaved, ratios within a round, medians; certificates ECDSA P-256 (all sections) and RSA-2048 (handshakes); CLK_TCK ${CLK_TCK}`,
  ];
  for (const line of header) out(line);
  if (only.includes('echo')) await echoSection(ec);
  if (only.includes('bulk')) await bulkSection(ec);
  if (only.includes('handshake')) await handshakeSection(ec, rsa);
  if (only.includes('https')) await httpsSection(ec);
  if (only.includes('kv')) await kvSection(ec);
  out();
  out('Goals:');
  for (const g of goals) out(g);
  out();
  out(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ header, runs, report }, null, 2) + '\n');
  console.log(`\nevery run: ${path.relative(process.cwd(), jsonPath)}`);
  await sleep(10);
}

main()
  .catch((err: unknown) => {
    console.error(`bench:tls: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => killAll());
