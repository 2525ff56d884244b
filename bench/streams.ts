/**
 * Stream-layer benchmark: `npm run bench:streams` (= build, then
 * `node dist/bench/streams.js`). Side by side, in one run:
 *
 *   tcp   serve(conn => conn.data$) on each Linux backend (epoll, io_uring)
 *         and the same data path with no stream layer under it
 *         (servers/datapath-echo.ts: the floor serve() stands on)
 *         vs node:net echo vs Bun.listen vs the C epoll and C io_uring echoes
 *         load: redis-benchmark -t ping_mbulk -c 50 at -P 1, -P 16 and -k 0
 *         (a new connection per request); server CPU per request as a ratio
 *         to C epoll, and to C io_uring (the physical limit here)
 *   idle  RSS per idle connection with 10,000 connections: serve() vs node:net
 *   udp   a sockperf-compatible reflector on udp() (each backend) vs
 *         node:dgram vs Bun.udpSocket vs C (recvmmsg/sendmmsg); load:
 *         sockperf under-load --mps max --reply-every 1 -m 64; replies/s and
 *         server CPU per reply
 *
 * Bun comes from node_modules/@oven/bun-linux-x64 (`npm install --no-save
 * @oven/bun-linux-x64`: not a devDependency, see bunNote), `bun` on PATH, or
 * --bun PATH; where it is missing its rows are left out with a note.
 *
 * Servers of a section run at once and are loaded in turn, order rotated
 * each round; ratios are taken within a round, medians reported. Options:
 * --rounds N (default 3), --quick, --only tcp,idle,udp, --backends LIST
 * (rxnet servers, default every Linux backend this machine has: io_uring,
 * epoll), --backend NAME (idle section; default epoll), --bun PATH,
 * --connections N (idle; default 10000).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Reactor } from '../index';
import {
  CLK_TCK,
  DIST,
  ROOT,
  cpuTicks,
  findExe,
  intOption,
  killAll,
  median,
  nodeServer,
  option,
  runTool,
  setStopping,
  sleep,
  track,
  withServers,
  rotated,
  type Server,
  type ServerSpec,
} from './lib';

const SECTIONS = ['tcp', 'idle', 'udp'] as const;
const quick = process.argv.includes('--quick');
const rounds = intOption('--rounds', quick ? 1 : 3);
const only = (option('--only') ?? SECTIONS.join(',')).split(',');
const backend = option('--backend') ?? (process.platform === 'linux' ? 'epoll' : undefined);
const idleConnections = intOption('--connections', quick ? 2000 : 10_000);
const N1 = quick ? 20_000 : 100_000;
const N16 = quick ? 200_000 : 1_000_000;
const NK0 = quick ? 5_000 : 60_000;
const UDP_SECONDS = quick ? 2 : 4;
const OUT = path.join(ROOT, 'bench', 'out');
const backendArgs = backend ? ['--backend', backend] : [];
/** The rxnet servers of the tcp and udp sections: one per backend. */
const rxBackends = (option('--backends') ?? Reactor.available.filter((b) => b === 'io_uring' || b === 'epoll' || b === 'kqueue').join(','))
  .split(',')
  .filter(Boolean);

/** The Bun binary: --bun, the optional devDependency, or bun on PATH; null if none. */
function findBun(): string | null {
  const given = option('--bun');
  if (given) return given;
  const pkg = path.join(ROOT, 'node_modules', '@oven', `bun-${process.platform}-${process.arch}`, 'bin', 'bun');
  if (fs.existsSync(pkg)) return pkg;
  return findExe('bun');
}
const bun = findBun();
const bunNote =
  'Bun: not found, so no Bun rows. It is not a devDependency (npm has no optional devDependency: one with os/cpu fields breaks `npm ci` elsewhere, npm/cli#2921); for these rows: `npm install --no-save @oven/bun-linux-x64` (Linux x64), or `--bun PATH`.';

function bunSpec(key: string, label: string, script: string): ServerSpec {
  return { key, label, cmd: bun!, args: [path.join(ROOT, 'bench', 'bun', script), '0'], ready: 'line' };
}

function rxSpecs(label: string, script: string, extra: string[], key = 'rxnet'): ServerSpec[] {
  return rxBackends.map((b) => nodeServer(`${key}-${b}`, `${label} (${b})`, script, [...extra, '--backend', b]));
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Compiles a C reference into bench/out with cc -O2; null if no compiler. */
function compileC(name: string): string | null {
  const cc = findExe('cc') ?? findExe('gcc');
  if (cc === null) return null;
  fs.mkdirSync(OUT, { recursive: true });
  const exe = path.join(OUT, name);
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', exe, path.join(ROOT, 'bench', 'c', `${name}.c`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${name}.c failed:\n${r.stderr}`);
  return exe;
}

function cSpec(key: string, label: string, exe: string): ServerSpec {
  return { key, label, cmd: exe, args: ['0'], ready: 'line' };
}

function cpuUs(pid: number): number {
  const c = cpuTicks(pid);
  return ((c.user + c.sys) * 1e6) / CLK_TCK;
}

interface Sample {
  rate: number;
  cpuUsPerOp: number;
}

function table(header: string[], rows: string[][]): void {
  out(`| ${header.join(' | ')} |`);
  out(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const r of rows) out(`| ${r.join(' | ')} |`);
  out();
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const kfmt = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)}k` : 'n/a');

// ---- tcp ------------------------------------------------------------------------

async function tcp(): Promise<void> {
  const rb = findExe('redis-benchmark');
  if (rb === null) return out('tcp: skipped, redis-benchmark is not installed (apt-get install redis-tools)\n');
  const c = compileC('echo_epoll');
  const cu = process.platform === 'linux' ? compileC('echo_uring') : null;
  const specs: ServerSpec[] = [
    ...(c ? [cSpec('c', 'C epoll echo', c)] : []),
    ...(cu ? [cSpec('cu', 'C io_uring echo', cu)] : []),
    nodeServer('net', 'node:net echo', 'bench/servers/net-echo.js', []),
    ...(bun ? [bunSpec('bun', 'Bun.listen echo', 'echo.js')] : []),
    ...rxSpecs('rxnet serve() echo', 'bench/servers/serve-echo.js', []),
    // The floor under serve(): the same native data path, no stream layer.
    ...rxSpecs('rxnet data path, no stream layer', 'bench/servers/datapath-echo.js', [], 'floor'),
  ];
  const loads = [
    { key: 'P=1', n: N1, args: ['-P', '1'] },
    { key: 'P=16', n: N16, args: ['-P', '16'] },
    { key: '-k 0', n: NK0, args: ['-k', '0'] },
  ];
  const samples = new Map<string, Sample[]>();
  await withServers(specs, async (servers) => {
    // Steady state is what is compared: each server first runs a tenth of
    // each load unmeasured, so a JIT's warm-up (V8's, Bun's) is not billed
    // to the shortest load (-k 0). 60,000 connections: CPU time comes in
    // 10 ms ticks, 0.17 µs per connection at that count (0.5 µs at 20,000,
    // 3% of the C server's cost, was too coarse to judge a 1.15× goal).
    for (const load of loads) {
      for (const server of servers) {
        await runTool(rb, ['-h', '127.0.0.1', '-p', String(server.port), '-t', 'ping_mbulk', '-c', '50', '-n', String(Math.ceil(load.n / 10)), ...load.args, '--csv'], 120_000);
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const load of loads) {
        for (const server of rotated(servers, round)) {
          const before = cpuUs(server.pid);
          const text = await runTool(rb, ['-h', '127.0.0.1', '-p', String(server.port), '-t', 'ping_mbulk', '-c', '50', '-n', String(load.n), ...load.args, '--csv'], 120_000);
          const cpu = cpuUs(server.pid) - before;
          const m = /"PING_MBULK","([\d.]+)"/.exec(text);
          const key = `${server.spec.key} ${load.key}`;
          const list = samples.get(key) ?? [];
          list.push({ rate: m ? Number(m[1]) : NaN, cpuUsPerOp: cpu / load.n });
          samples.set(key, list);
        }
      }
    }
  });
  const med = (key: string, f: keyof Sample) => median((samples.get(key) ?? []).map((s) => s[f]));
  out(`#### TCP echo — \`redis-benchmark -t ping_mbulk -c 50\` (\`-n\` ${N1} at -P 1, ${N16} at -P 16, ${NK0} at -k 0; each server warmed with a tenth of each load first)`);
  out();
  // Ratios are taken within each round (the servers of a round share its
  // load), then the median over rounds.
  const ratio = (key: string, base: string, l: string) => {
    const xs = samples.get(`${key} ${l}`) ?? [];
    const bs = samples.get(`${base} ${l}`) ?? [];
    return median(xs.map((x, i) => x.cpuUsPerOp / (bs[i]?.cpuUsPerOp ?? NaN)));
  };
  const header = ['server'];
  for (const l of loads) header.push(`req/s ${l.key}`, `CPU µs/req ${l.key}`, `× C epoll`, ...(cu ? ['× C io_uring'] : []));
  const rows = specs.map((spec) => {
    const row = [spec.label];
    for (const l of loads) {
      const cpu = med(`${spec.key} ${l.key}`, 'cpuUsPerOp');
      row.push(kfmt(med(`${spec.key} ${l.key}`, 'rate')), fmt(cpu), c ? `${fmt(ratio(spec.key, 'c', l.key))}×` : 'n/a');
      if (cu) row.push(`${fmt(ratio(spec.key, 'cu', l.key))}×`);
    }
    return row;
  });
  table(header, rows);
  if (!bun) out(bunNote + '\n');
  out('Goals (issue 10, serve() on io_uring): CPU per request ≤ 0.95× C epoll at -P 1, ≤ 0.90× at -P 16, ≤ 1.1× per new connection (-k 0), and below Bun on every row.');
  out();
}

// ---- idle -----------------------------------------------------------------------

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Runs a full GC in the server (started with --expose-gc; SIGUSR2) and lets it settle. */
async function collect(server: Server): Promise<void> {
  process.kill(server.pid, 'SIGUSR2');
  await sleep(700);
}

async function idleOne(spec: ServerSpec): Promise<number> {
  let perConn = NaN;
  await withServers([{ ...spec, args: ['--expose-gc', ...spec.args] }], async ([server]) => {
    await sleep(300);
    await collect(server);
    const before = rssBytes(server.pid);
    const clients = track(spawn(process.execPath, [path.join(DIST, 'bench', 'idle-clients.js'), String(server.port), String(idleConnections)], { stdio: ['pipe', 'pipe', 'inherit'] }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('idle clients did not connect in 90 s')), 90_000);
      clients.stdout!.on('data', (d: Buffer) => {
        if (/ready/.test(d.toString())) {
          clearTimeout(timer);
          resolve();
        }
      });
      clients.once('exit', (code) => reject(new Error(`idle clients exited with ${code}`)));
    });
    await sleep(1500); // let the server accept and settle
    await collect(server);
    perConn = (rssBytes(server.pid) - before) / idleConnections;
    clients.stdin!.end();
  });
  return perConn;
}

async function idle(): Promise<void> {
  const specs = [
    nodeServer('net', 'node:net echo', 'bench/servers/net-echo.js', []),
    nodeServer('rxnet', 'rxnet serve() echo', 'bench/servers/serve-echo.js', backendArgs),
  ];
  const rows: string[][] = [];
  for (const spec of specs) rows.push([spec.label, `${fmt((await idleOne(spec)) / 1024, 2)} KB`]);
  out(`#### Idle memory — RSS growth per connection with ${idleConnections} idle connections (server process, /proc/<pid>/status VmRSS; both servers run a full GC before each reading)`);
  out();
  table(['server', 'RSS per idle connection'], rows);
  out('Goal (issue 7): ≤ 1 KB per idle connection for rxnet.');
  out();
}

// ---- udp ------------------------------------------------------------------------

async function udp(): Promise<void> {
  const sockperf = findExe('sockperf');
  if (sockperf === null) return out('udp: skipped, sockperf is not installed (apt-get install sockperf)\n');
  const c = compileC('udp_reflect');
  const specs: ServerSpec[] = [
    ...(c ? [cSpec('c', 'C recvmmsg/sendmmsg reflector', c)] : []),
    nodeServer('dgram', 'node:dgram reflector', 'bench/servers/udp-reflect.js', ['--impl', 'dgram']),
    ...(bun ? [bunSpec('bun', 'Bun.udpSocket reflector', 'udp-reflect.js')] : []),
    ...rxSpecs('rxnet udp() reflector', 'bench/servers/udp-reflect.js', ['--impl', 'rxnet']),
  ];
  const samples = new Map<string, Sample[]>();
  await withServers(specs, async (servers) => {
    for (let round = 0; round < rounds; round++) {
      for (const server of rotated(servers, round)) {
        const before = cpuUs(server.pid);
        const text = await runTool(sockperf, ['under-load', '-i', '127.0.0.1', '-p', String(server.port), '--mps', 'max', '--reply-every', '1', '-m', '64', '-t', String(UDP_SECONDS)], 60_000);
        const cpu = cpuUs(server.pid) - before;
        const m = /ReceivedMessages=(\d+)/.exec(text);
        const replies = m ? Number(m[1]) : NaN;
        const list = samples.get(server.spec.key) ?? [];
        list.push({ rate: replies / UDP_SECONDS, cpuUsPerOp: cpu / replies });
        samples.set(server.spec.key, list);
      }
    }
  });
  const med = (key: string, f: keyof Sample) => median((samples.get(key) ?? []).map((s) => s[f]));
  out(`#### UDP reflector — \`sockperf under-load --mps max --reply-every 1 -m 64 -t ${UDP_SECONDS}\``);
  out();
  const rows = specs.map((s) => [
    s.label,
    kfmt(med(s.key, 'rate')),
    `${fmt(med(s.key, 'rate') / med('dgram', 'rate'))}×`,
    fmt(med(s.key, 'cpuUsPerOp')),
    c ? `${fmt(med(s.key, 'cpuUsPerOp') / med('c', 'cpuUsPerOp'))}×` : 'n/a',
  ]);
  table(['server', 'replies/s', '× node:dgram', 'CPU µs/reply', '× C'], rows);
  if (!bun) out(bunNote + '\n');
  out('Goals (issue 10, udp() on io_uring): replies/s ≥ 1.6× node:dgram at CPU per reply ≤ 1.0× C, and above Bun.');
  out();
}

async function main(): Promise<void> {
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  out(`## Stream layer — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  out();
  out(`- machine: ${require('node:os').cpus().length} cores, Linux ${require('node:os').release()}, node ${process.version}${bun ? `, ${spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout.trim() ? `bun ${spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout.trim()}` : 'bun'}` : ''}; rxnet backends ${rxBackends.join(', ')} (idle: ${backend ?? 'default'}); load average at start ${load}`);
  out(`- command: \`npm run bench:streams${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`; ${rounds} round(s), medians`);
  out();
  if (only.includes('tcp')) await tcp();
  if (only.includes('idle')) await idle();
  if (only.includes('udp')) await udp();
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
