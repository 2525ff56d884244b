/**
 * Demo-server benchmark: `npm run bench:examples` (= build, then
 * `node dist/bench/examples.js`).
 *
 * Each demo server is loaded side by side with its peers, in one run:
 *   http  examples/http          vs node:http (bench/servers/node-http.ts) vs nginx
 *         load: wrk -t1 -c50 -d5s http://127.0.0.1:PORT/          ratios to nginx
 *   kv    examples/kv            vs the same RESP code on node:net (bench/servers/kv-net.ts)
 *         vs redis-server
 *         load: redis-benchmark -t set / -t get -c 50 at -P 1 and -P 16   ratios to redis-server
 *   dns   examples/dns           vs the same responder on node:dgram (bench/servers/dns-dgram.ts)
 *         load: dnsperf -l 5 -c 1 over a fixed query file         ratios to node:dgram
 *   servehttp  node:http on rxnet (serveHttp, issue 12): one http.Server, with
 *         an express app and with a bare handler (bench/servers/express-app.ts),
 *         on plain node:http (listen) vs on serveHttp with the default backend
 *         and with epoll
 *         load: wrk -t1 -c50 -d5s http://127.0.0.1:PORT/          ratios to node:http, same app
 *
 * For every load we read the server's utime+stime (fields 14 and 15 of
 * /proc/<pid>/stat, all threads, in CLK_TCK ticks) before and after and
 * divide by the requests answered: server CPU µs per request. The machine
 * is shared and noisy (2 cores, load generator included), so the servers of
 * a section are interleaved over several rounds (order rotated each round),
 * each ratio is taken within a round and the medians are reported; the
 * ratios are the point, never the bare absolutes.
 *
 * Options:
 *   --rounds N        rounds (default 3; --quick: 1)
 *   --quick           short loads, 1 round: a smoke test
 *   --only LIST       sections, e.g. http,kv (default http,kv,dns,servehttp)
 *   --backend NAME    reactor backend of the rxnet servers (default epoll on Linux);
 *                     servehttp always runs both the default backend and epoll
 *   --json PATH       also write every run as JSON (default bench/out/examples.json)
 *
 * A peer or load generator that is not installed is skipped with a note on
 * how to install it. Traffic goes to 127.0.0.1 only; every load is bounded
 * in time; every child (nginx and redis-server included) is killed at the end.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as os from 'node:os';
import {
  CLK_TCK,
  ROOT,
  type Server,
  type ServerSpec,
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
  removeTmp,
  runTool,
  runqueueWaitNs,
  setStopping,
  sh,
  sleep,
  tmpDir,
  withServers,
  rotated,
} from './lib';

/** The whole benchmark gives up after this long, whatever the options. */
const TOTAL_LIMIT_MS = 14 * 60_000;
const CONNECTIONS = 50;


const SECTIONS = ['http', 'kv', 'dns', 'servehttp'] as const;
type Section = (typeof SECTIONS)[number];

const quick = process.argv.includes('--quick');
const rounds = intOption('--rounds', quick ? 1 : 3);
const only = (option('--only') ?? SECTIONS.join(',')).split(',').filter(Boolean);
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s} (known: ${SECTIONS.join(', ')})`);
const backend = option('--backend') ?? (process.platform === 'linux' ? 'epoll' : undefined);
const jsonPath = option('--json') ?? path.join(ROOT, 'bench', 'out', 'examples.json');

/** Load sizes: durations in seconds, request counts. */
const HTTP_SECONDS = quick ? 2 : 5;
const HTTP_WARMUP_SECONDS = quick ? 1 : 2;
const KV_N1 = quick ? 10_000 : 100_000;
const KV_N16 = quick ? 100_000 : 1_000_000;
const DNS_SECONDS = quick ? 2 : 5;
const DNS_WARMUP_SECONDS = quick ? 1 : 2;
/** The serveHttp goal of issue 12: req/s on rxnet over req/s of the same app on plain node:http. */
const SERVE_HTTP_GOAL = 1.5;

const rxnetArgs = ['--host', '127.0.0.1', '--port', '0', ...(backend ? ['--backend', backend] : [])];

async function nginxSpec(exe: string): Promise<ServerSpec> {
  const tmp = tmpDir('rxnet-nginx-');
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
    `    listen 127.0.0.1:${port};`,
    "    location / { return 200 'Hello, World!'; }",
    '  }',
    '}',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(tmp, 'nginx.conf'), conf);
  return { key: 'nginx', label: 'nginx (1 worker)', cmd: exe, args: ['-c', path.join(tmp, 'nginx.conf'), '-p', tmp], ready: 'connect', port, tmp };
}

async function redisSpec(exe: string): Promise<ServerSpec> {
  const tmp = tmpDir('rxnet-redis-');
  const port = await freePort();
  return {
    key: 'redis',
    label: 'redis-server',
    cmd: exe,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp],
    ready: 'connect',
    port,
    tmp,
  };
}

// ---- runs ---------------------------------------------------------------------

interface Run {
  section: Section;
  server: string;
  test: string;
  round: number;
  /** Requests (queries) per second the load generator reported. */
  rate: number;
  /** Requests answered during the run: the CPU divisor. */
  requests: number;
  cpuUs: number;
  userUs: number;
  sysUs: number;
  /** Share of the run's wall time the server's main thread waited for a CPU. */
  waitPct: number;
  lostPct?: number;
  errors?: string;
}

interface LoadResult {
  rate: number;
  requests: number;
  lostPct?: number;
  errors?: string;
}

async function measure(section: Section, server: Server, test: string, round: number, load: () => Promise<LoadResult>): Promise<Run> {
  const c0 = cpuTicks(server.pid);
  const q0 = runqueueWaitNs(server.pid);
  const t0 = process.hrtime.bigint();
  const r = await load();
  const t1 = process.hrtime.bigint();
  alive(server);
  const c1 = cpuTicks(server.pid);
  const q1 = runqueueWaitNs(server.pid);
  const us = (ticks: number) => (r.requests > 0 ? (ticks * 1e6) / CLK_TCK / r.requests : NaN);
  const run: Run = {
    section,
    server: server.spec.key,
    test,
    round,
    rate: r.rate,
    requests: r.requests,
    cpuUs: us(c1.user - c0.user + c1.sys - c0.sys),
    userUs: us(c1.user - c0.user),
    sysUs: us(c1.sys - c0.sys),
    waitPct: ((q1 - q0) / Number(t1 - t0)) * 100,
    lostPct: r.lostPct,
    errors: r.errors,
  };
  const lost = run.lostPct !== undefined ? `, lost ${run.lostPct.toFixed(2)}%` : '';
  const errors = run.errors ? `, ${run.errors}` : '';
  console.log(
    `  round ${round} ${test.padEnd(9)} ${server.spec.key.padEnd(6)} ${run.rate.toFixed(0).padStart(9)}/s  ` +
      `${run.cpuUs.toFixed(2)} µs/req (user ${run.userUs.toFixed(2)}, sys ${run.sysUs.toFixed(2)}), waited for CPU ${run.waitPct.toFixed(0)}%${lost}${errors}`,
  );
  return run;
}

/** wrk -t1 -c50 -dNs; requests counted from its summary. */
async function wrk(port: number, seconds: number): Promise<LoadResult> {
  const out = await runTool('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`], (seconds + 20) * 1000);
  const total = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)\b/);
  const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!total || !rps) throw new Error(`cannot read wrk's output:\n${out}`);
  const problems: string[] = [];
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  if (sock?.slice(1).some((x) => x !== '0')) problems.push(`socket errors c/r/w/t ${sock.slice(1).join('/')}`);
  const non2xx = out.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx) problems.push(`${non2xx[1]} non-2xx`);
  return { rate: Number(rps[1]), requests: Number(total[1]), errors: problems.join(', ') || undefined };
}

/** redis-benchmark for one test (SET or GET) at one pipeline depth. */
async function redisBenchmark(port: number, test: 'set' | 'get', requests: number, pipeline: number): Promise<LoadResult> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', test, '-c', String(CONNECTIONS), '-n', String(requests), '-P', String(pipeline), '--csv'];
  const out = await runTool('redis-benchmark', args, 120_000);
  // "SET","98522.17","0.263",...
  const m = out.match(new RegExp(`^"${test.toUpperCase()}","([\\d.]+)"`, 'm'));
  if (!m) throw new Error(`cannot read redis-benchmark's output (${args.join(' ')}):\n${out}`);
  return { rate: Number(m[1]), requests };
}

/** dnsperf -c 1 for `seconds` over `queryFile`, no rate limit (the server's ceiling). */
async function dnsperf(port: number, queryFile: string, seconds: number): Promise<LoadResult> {
  const out = await runTool('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-c', '1', '-t', '1'], (seconds + 30) * 1000);
  const num = (label: RegExp) => {
    const m = out.match(label);
    if (!m) throw new Error(`cannot read dnsperf's output (${label}):\n${out}`);
    return Number(m[1]);
  };
  const sent = num(/Queries sent:\s+(\d+)/);
  const completed = num(/Queries completed:\s+(\d+)/);
  const qps = num(/Queries per second:\s+([\d.]+)/);
  const codes = out.match(/Response codes:\s+(.*)/)?.[1]?.trim();
  return { rate: qps, requests: completed, lostPct: sent > 0 ? ((sent - completed) / sent) * 100 : 0, errors: codes };
}

// ---- reporting ----------------------------------------------------------------

const runs: Run[] = [];
const report: string[] = [];
function out(line = ''): void {
  console.log(line);
  report.push(line);
}

function of(section: Section, server: string, test: string): Run[] {
  return runs.filter((r) => r.section === section && r.server === server && r.test === test);
}
function med(section: Section, server: string, test: string, field: 'rate' | 'cpuUs' | 'userUs' | 'sysUs' | 'waitPct' | 'lostPct'): number {
  return median(of(section, server, test).map((r) => r[field] ?? 0));
}
/** Median over rounds of (server's value / base's value in the same round). */
function ratio(section: Section, server: string, base: string, test: string, field: 'rate' | 'cpuUs'): number {
  const xs: number[] = [];
  for (const r of of(section, server, test)) {
    const b = of(section, base, test).find((x) => x.round === r.round);
    if (b && b[field] > 0) xs.push(r[field] / b[field]);
  }
  return median(xs);
}
const kilo = (x: number) => (Number.isFinite(x) ? (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1000).toFixed(1)}k`) : '-');
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '-');
/** The median CPU µs/req, split into user + sys as measured in the run that has that median (the lower middle for even counts). */
const cpu = (section: Section, server: string, test: string) => {
  const sorted = [...of(section, server, test)].sort((a, b) => a.cpuUs - b.cpuUs);
  if (sorted.length === 0) return '-';
  const total = med(section, server, test, 'cpuUs');
  const mid = sorted[(sorted.length - 1) >> 1];
  return `${total.toFixed(total < 2 ? 2 : 1)} (${mid.userUs.toFixed(2)} + ${mid.sysUs.toFixed(2)})`;
};
/** One line saying whether a goal is met. */
function goal(what: string, value: number, target: number): void {
  if (!Number.isFinite(value)) return;
  out(`goal: ${what} ≥ ${target}× — ${value >= target ? 'met' : 'not met'} (${value.toFixed(2)}×)`);
}

// ---- sections -----------------------------------------------------------------

interface Peers {
  notes: string[];
}

async function httpSection(peers: Peers): Promise<void> {
  if (!findExe('wrk')) {
    out('http: skipped — wrk (the load generator) is not installed: `apt-get install wrk`.');
    return;
  }
  const specs: ServerSpec[] = [
    nodeServer('rxnet', 'examples/http (rxnet)', 'examples/http/main.js', rxnetArgs),
    nodeServer('node', 'node:http hello', 'bench/servers/node-http.js', ['--port', '0']),
  ];
  const nginx = findExe('nginx');
  if (nginx) specs.push(await nginxSpec(nginx));
  else peers.notes.push('http: nginx is not installed, so there are no ratios to nginx: `apt-get install nginx-light`.');
  console.log(`\nhttp: wrk -t1 -c${CONNECTIONS} -d${HTTP_SECONDS}s, ${rounds} round(s)`);
  await withServers(specs, async (servers) => {
    for (const s of servers) await wrk(s.port, HTTP_WARMUP_SECONDS); // warm-up, not recorded
    for (let round = 1; round <= rounds; round++) {
      for (const s of rotated(servers, round - 1)) {
        runs.push(await measure('http', s, 'wrk', round, () => wrk(s.port, HTTP_SECONDS)));
        await sleep(200);
      }
    }
    const base = nginx ? 'nginx' : null;
    out('');
    out(`#### http — \`wrk -t1 -c${CONNECTIONS} -d${HTTP_SECONDS}s\`, \`GET /\` → \`Hello, World!\` (keep-alive)`);
    out('');
    out('| server | req/s | ratio to nginx (req/s) | CPU µs/req (user + sys) | CPU/req ratio to nginx | waited for CPU |');
    out('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of servers) {
      const k = s.spec.key;
      const errs = of('http', k, 'wrk').map((r) => r.errors).filter(Boolean);
      out(
        `| ${s.spec.label}${errs.length ? ` (${errs[0]})` : ''} | ${kilo(med('http', k, 'wrk', 'rate'))} | ${base ? times(ratio('http', k, base, 'wrk', 'rate')) : '-'} | ` +
          `${cpu('http', k, 'wrk')} | ${base ? times(ratio('http', k, base, 'wrk', 'cpuUs')) : '-'} | ${med('http', k, 'wrk', 'waitPct').toFixed(0)}% |`,
      );
    }
    out('');
    if (base) goal('examples/http req/s vs nginx', ratio('http', 'rxnet', base, 'wrk', 'rate'), 0.8);
  });
}

const KV_TESTS = [
  { test: 'SET P=1', kind: 'set', pipeline: 1 },
  { test: 'GET P=1', kind: 'get', pipeline: 1 },
  { test: 'SET P=16', kind: 'set', pipeline: 16 },
  { test: 'GET P=16', kind: 'get', pipeline: 16 },
] as const;

async function kvSection(peers: Peers): Promise<void> {
  if (!findExe('redis-benchmark')) {
    out('kv: skipped — redis-benchmark (the load generator) is not installed: `apt-get install redis-server` (or redis-tools).');
    return;
  }
  const specs: ServerSpec[] = [
    nodeServer('rxnet', 'examples/kv (rxnet)', 'examples/kv/main.js', rxnetArgs),
    nodeServer('net', 'same RESP code on node:net', 'bench/servers/kv-net.js', ['--port', '0']),
  ];
  const redis = findExe('redis-server');
  if (redis) specs.push(await redisSpec(redis));
  else peers.notes.push('kv: redis-server is not installed, so there are no ratios to it: `apt-get install redis-server`.');
  const n = (p: number) => (p === 1 ? KV_N1 : KV_N16);
  console.log(`\nkv: redis-benchmark -c ${CONNECTIONS}, -t set and -t get each at -P 1 (-n ${KV_N1}) and -P 16 (-n ${KV_N16}), ${rounds} round(s)`);
  await withServers(specs, async (servers) => {
    for (const s of servers) {
      // warm-up, not recorded
      await redisBenchmark(s.port, 'set', Math.max(10_000, KV_N1 >> 2), 1);
      await redisBenchmark(s.port, 'get', Math.max(50_000, KV_N16 >> 3), 16);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const t of KV_TESTS) {
        for (const s of rotated(servers, round - 1)) {
          runs.push(await measure('kv', s, t.test, round, () => redisBenchmark(s.port, t.kind, n(t.pipeline), t.pipeline)));
          await sleep(100);
        }
      }
    }
    const base = redis ? 'redis' : null;
    out('');
    out(`#### kv — \`redis-benchmark -c ${CONNECTIONS} -t set|get -P 1 -n ${KV_N1}\` and \`-P 16 -n ${KV_N16}\``);
    out('');
    out(`req/s (ratio to redis-server in the same round, median):`);
    out('');
    out(`| server | ${KV_TESTS.map((t) => t.test).join(' | ')} |`);
    out(`| --- | ${KV_TESTS.map(() => '---:').join(' | ')} |`);
    for (const s of servers) {
      const k = s.spec.key;
      const cells = KV_TESTS.map((t) => `${kilo(med('kv', k, t.test, 'rate'))}${base && k !== base ? ` (${times(ratio('kv', k, base, t.test, 'rate'))})` : ''}`);
      out(`| ${s.spec.label} | ${cells.join(' | ')} |`);
    }
    out('');
    out('Server CPU µs/req, median (user + sys of that run):');
    out('');
    out(`| server | ${KV_TESTS.map((t) => t.test).join(' | ')} |`);
    out(`| --- | ${KV_TESTS.map(() => '---:').join(' | ')} |`);
    for (const s of servers) {
      const k = s.spec.key;
      out(`| ${s.spec.label} | ${KV_TESTS.map((t) => cpu('kv', k, t.test)).join(' | ')} |`);
    }
    out('');
    if (base) {
      goal('examples/kv SET req/s at -P 16 vs redis-server', ratio('kv', 'rxnet', base, 'SET P=16', 'rate'), 0.6);
      goal('examples/kv GET req/s at -P 16 vs redis-server', ratio('kv', 'rxnet', base, 'GET P=16', 'rate'), 0.6);
    }
  });
}

/** The fixed query mix: answers, NODATA, NXDOMAIN, CNAME chasing. */
const DNS_QUERIES = [
  'www.example.test A',
  'www.example.test AAAA',
  'mail.example.test MX',
  'example.test MX',
  'example.test SOA',
  'example.test NS',
  'txt.example.test TXT',
  'alias.example.test A',
  'nope.example.test A',
  'www.example.test MX',
];

async function dnsSection(): Promise<void> {
  if (!findExe('dnsperf')) {
    out('dns: skipped — dnsperf (the load generator) is not installed: `apt-get install dnsperf`.');
    return;
  }
  const tmp = tmpDir('rxnet-dnsperf-');
  const queryFile = path.join(tmp, 'queries.txt');
  fs.writeFileSync(queryFile, `${Array.from({ length: 100 }, () => DNS_QUERIES.join('\n')).join('\n')}\n`);
  const specs: ServerSpec[] = [
    nodeServer('rxnet', 'examples/dns (rxnet, UDP)', 'examples/dns/main.js', rxnetArgs),
    nodeServer('dgram', 'same responder on node:dgram', 'bench/servers/dns-dgram.js', ['--port', '0']),
  ];
  console.log(`\ndns: dnsperf -c 1 -l ${DNS_SECONDS} (no -Q: as fast as the server answers, 100 outstanding), ${rounds} round(s)`);
  try {
    await withServers(specs, async (servers) => {
      for (const s of servers) await dnsperf(s.port, queryFile, DNS_WARMUP_SECONDS); // warm-up
      for (let round = 1; round <= rounds; round++) {
        for (const s of rotated(servers, round - 1)) {
          runs.push(await measure('dns', s, 'udp', round, () => dnsperf(s.port, queryFile, DNS_SECONDS)));
          await sleep(200);
        }
      }
      out('');
      out(`#### dns — \`dnsperf -c 1 -l ${DNS_SECONDS} -t 1\`, no rate limit, over UDP; a query file cycling ${DNS_QUERIES.length} queries: ${DNS_QUERIES.map((q) => `\`${q}\``).join(', ')}`);
      out('');
      out('| server | queries/s | ratio to node:dgram (queries/s) | lost | CPU µs/query (user + sys) | CPU/query ratio to node:dgram | waited for CPU |');
      out('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const s of servers) {
        const k = s.spec.key;
        out(
          `| ${s.spec.label} | ${kilo(med('dns', k, 'udp', 'rate'))} | ${times(ratio('dns', k, 'dgram', 'udp', 'rate'))} | ${med('dns', k, 'udp', 'lostPct').toFixed(2)}% | ` +
            `${cpu('dns', k, 'udp')} | ${times(ratio('dns', k, 'dgram', 'udp', 'cpuUs'))} | ${med('dns', k, 'udp', 'waitPct').toFixed(0)}% |`,
        );
      }
      const codes = servers.map((s) => `${s.spec.key}: ${of('dns', s.spec.key, 'udp')[0]?.errors ?? '?'}`);
      out('');
      out(`Response codes (first round): ${codes.join('; ')}`);
    });
  } finally {
    removeTmp(tmp);
  }
}

/** One GET on a fresh connection: status and body (a sanity check before loading, bounded in time). */
function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} on port ${port}: no answer within 5 s`)));
    req.on('error', reject);
  });
}

/**
 * node:http on rxnet (issue 12): the same http.Server request listener on
 * plain node:http and on serveHttp (default backend, and epoll), once with
 * an express app and once with a bare handler, since express's own cost per
 * request can hide the transport's. Each rxnet variant's ratio is to plain
 * node:http serving the same app, taken within a round.
 */
async function serveHttpSection(): Promise<void> {
  if (!findExe('wrk')) {
    out('servehttp: skipped — wrk (the load generator) is not installed: `apt-get install wrk`.');
    return;
  }
  const script = 'bench/servers/express-app.js';
  const specs: ServerSpec[] = [];
  for (const app of ['express', 'bare'] as const) {
    const what = app === 'express' ? 'express app' : 'bare handler';
    specs.push(nodeServer(`${app}/net`, `${what} on node:http`, script, ['--app', app, '--on', 'net', '--port', '0']));
    specs.push(nodeServer(`${app}/rx`, `${what} on serveHttp`, script, ['--app', app, '--on', 'rxnet', '--port', '0']));
    specs.push(nodeServer(`${app}/epoll`, `${what} on serveHttp`, script, ['--app', app, '--on', 'rxnet', '--port', '0', '--backend', 'epoll']));
  }
  console.log(`\nservehttp: wrk -t1 -c${CONNECTIONS} -d${HTTP_SECONDS}s, ${rounds} round(s)`);
  await withServers(specs, async (servers) => {
    // The backend a serveHttp server really uses, from its `listening on` line:
    // "(express on rxnet, io_uring)" (RXNET_BACKEND, if set, decides the default).
    const backendOf = (s: Server) => s.detail.match(/on rxnet, (\w+)\)/)?.[1] ?? (s.spec.key.endsWith('/net') ? null : '?');
    const label = (s: Server) => `${s.spec.label}${backendOf(s) ? ` (${backendOf(s)})` : ''}`;
    // Same answers everywhere before any load: `/` for both apps, `/json` for express.
    for (const s of servers) {
      const root = await httpGet(s.port, '/');
      if (root.status !== 200 || root.body !== 'Hello, World!') throw new Error(`${s.spec.key}: GET / answered ${root.status} ${JSON.stringify(root.body)}`);
      if (s.spec.key.startsWith('express/')) {
        const json = await httpGet(s.port, '/json');
        if (json.status !== 200 || json.body !== '{"hello":"world","n":42}') throw new Error(`${s.spec.key}: GET /json answered ${json.status} ${JSON.stringify(json.body)}`);
      }
    }
    for (const s of servers) await wrk(s.port, HTTP_WARMUP_SECONDS); // warm-up, not recorded
    for (let round = 1; round <= rounds; round++) {
      for (const s of rotated(servers, round - 1)) {
        runs.push(await measure('servehttp', s, 'wrk', round, () => wrk(s.port, HTTP_SECONDS)));
        await sleep(200);
      }
    }
    const baseOf = (key: string) => `${key.split('/')[0]}/net`;
    out('');
    out(`#### node:http on rxnet (serveHttp) — \`wrk -t1 -c${CONNECTIONS} -d${HTTP_SECONDS}s\`, \`GET /\` → \`Hello, World!\` (keep-alive)`);
    out('');
    out('| server | req/s | ratio to node:http, same app (req/s) | CPU µs/req (user + sys) | CPU/req ratio to node:http | waited for CPU |');
    out('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of servers) {
      const k = s.spec.key;
      const base = baseOf(k);
      const errs = of('servehttp', k, 'wrk').map((r) => r.errors).filter(Boolean);
      out(
        `| ${label(s)}${errs.length ? ` (${errs[0]})` : ''} | ${kilo(med('servehttp', k, 'wrk', 'rate'))} | ${k === base ? '1 (base)' : times(ratio('servehttp', k, base, 'wrk', 'rate'))} | ` +
          `${cpu('servehttp', k, 'wrk')} | ${k === base ? '1 (base)' : times(ratio('servehttp', k, base, 'wrk', 'cpuUs'))} | ${med('servehttp', k, 'wrk', 'waitPct').toFixed(0)}% |`,
      );
    }
    out('');
    // The issue's goal is for the same (express) app on the default backend; the others are printed the same way.
    for (const s of servers) {
      const k = s.spec.key;
      if (k === baseOf(k)) continue;
      const x = ratio('servehttp', k, baseOf(k), 'wrk', 'rate');
      if (!Number.isFinite(x)) continue;
      out(`goal: serveHttp req/s vs node:http (${k.startsWith('express/') ? 'express' : 'bare handler'}, ${backendOf(s)}): ${x.toFixed(2)}× (goal ≥ ${SERVE_HTTP_GOAL}×) — ${x >= SERVE_HTTP_GOAL ? 'met' : 'NOT met'}`);
    }
  });
}

// ---- main ---------------------------------------------------------------------

function toolVersion(cmd: string, args: string[], pattern: RegExp): string | null {
  const exe = findExe(cmd);
  if (!exe) return null;
  const m = banner(exe, args).match(pattern);
  return m ? m[0] : cmd;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || !fs.existsSync('/proc/self/stat')) {
    console.log('bench: this benchmark reads server CPU time from /proc and runs on Linux only. Nothing was measured.');
    return;
  }
  const overall = setTimeout(() => {
    console.error(`bench: gave up after ${TOTAL_LIMIT_MS / 60000} minutes`);
    killAll();
    process.exit(1);
  }, TOTAL_LIMIT_MS);
  overall.unref();

  const tools = [
    toolVersion('wrk', ['--version'], /wrk \S+/),
    toolVersion('nginx', ['-v'], /nginx\/\S+/),
    toolVersion('redis-server', ['--version'], /v=\S+/)?.replace('v=', 'redis-server '),
    toolVersion('redis-benchmark', ['--version'], /redis-benchmark \S+/),
    toolVersion('dnsperf', ['-h'], /Version \S+/)?.replace('Version', 'dnsperf'),
  ].filter(Boolean);
  const header = [
    `date: ${new Date().toISOString()}`,
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), kernel ${sh('uname', ['-r'])}, node ${process.version}`,
    `tools: ${tools.join(', ')}`,
    `load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (other processes share these cores; the load generator runs on them too)`,
    `rxnet backend: ${backend ?? 'default'}; ${rounds} round(s), servers interleaved, medians; ratios taken within a round; CLK_TCK ${CLK_TCK}`,
    `command: node dist/bench/examples.js ${process.argv.slice(2).join(' ')}`.trim(),
  ];
  for (const line of header) out(line);

  const peers: Peers = { notes: [] };
  let failed = false;
  const sections: Record<Section, () => Promise<void>> = {
    http: () => httpSection(peers),
    kv: () => kvSection(peers),
    dns: () => dnsSection(),
    servehttp: () => serveHttpSection(),
  };
  for (const name of SECTIONS) {
    if (!only.includes(name)) continue;
    try {
      await sections[name]();
    } catch (err) {
      failed = true;
      out(`\n${name}: FAILED — ${(err as Error).message}`);
    }
  }
  out('');
  out('CPU is the server process\'s utime + stime over the run (all its threads) divided by the requests answered. ' +
    '"waited for CPU": share of the run the server\'s main thread was runnable but not running (/proc/<pid>/schedstat).');
  for (const note of peers.notes) out(`note: ${note}`);

  try {
    fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
    fs.writeFileSync(jsonPath, `${JSON.stringify({ header, runs, report }, null, 2)}\n`);
    console.log(`\nall runs: ${path.relative(process.cwd(), jsonPath)}`);
  } catch (err) {
    console.error(`bench: could not write ${jsonPath}: ${(err as Error).message}`);
  }
  if (failed) process.exitCode = 1;
}

main()
  .catch((err: Error) => {
    console.error(`bench: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    setStopping(true);
    killAll();
  });
