/**
 * Stream-layer benchmark: `npm run bench:streams` (= build, then
 * `node dist/bench/streams.js`). Side by side, in one run:
 *
 *   tcp   serve(conn => conn.data$) vs node:net echo vs the C epoll echo
 *         load: redis-benchmark -t ping_mbulk -c 50 at -P 1, -P 16 and -k 0
 *         (a new connection per request); server CPU per request as a ratio to C
 *   idle  RSS per idle connection with 10,000 connections: serve() vs node:net
 *   udp   a sockperf-compatible reflector on udp() vs node:dgram vs C
 *         (recvmmsg/sendmmsg); load: sockperf under-load --mps max
 *         --reply-every 1 -m 64; replies/s and server CPU per reply
 *
 * Servers of a section run at once and are loaded in turn, order rotated
 * each round; ratios are taken within a round, medians reported. Options:
 * --rounds N (default 3), --quick, --only tcp,idle,udp, --backend NAME,
 * --connections N (idle; default 10000).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
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
const NK0 = quick ? 5_000 : 20_000;
const UDP_SECONDS = quick ? 2 : 4;
const OUT = path.join(ROOT, 'bench', 'out');
const backendArgs = backend ? ['--backend', backend] : [];

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
  const specs: ServerSpec[] = [
    ...(c ? [cSpec('c', 'C epoll echo', c)] : []),
    nodeServer('net', 'node:net echo', 'bench/servers/net-echo.js', []),
    nodeServer('rxnet', 'rxnet serve() echo', 'bench/servers/serve-echo.js', backendArgs),
  ];
  const loads = [
    { key: 'P=1', n: N1, args: ['-P', '1'] },
    { key: 'P=16', n: N16, args: ['-P', '16'] },
    { key: '-k 0', n: NK0, args: ['-k', '0'] },
  ];
  const samples = new Map<string, Sample[]>();
  await withServers(specs, async (servers) => {
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
  out(`#### TCP echo — \`redis-benchmark -t ping_mbulk -c 50\` (\`-n\` ${N1} at -P 1, ${N16} at -P 16, ${NK0} at -k 0)`);
  out();
  const header = ['server'];
  for (const l of loads) header.push(`req/s ${l.key}`, `CPU µs/req ${l.key}`, `× C`);
  const rows = specs.map((spec) => {
    const row = [spec.label];
    for (const l of loads) {
      const cpu = med(`${spec.key} ${l.key}`, 'cpuUsPerOp');
      const cRef = med(`c ${l.key}`, 'cpuUsPerOp');
      row.push(kfmt(med(`${spec.key} ${l.key}`, 'rate')), fmt(cpu), c ? `${fmt(cpu / cRef)}×` : 'n/a');
    }
    return row;
  });
  table(header, rows);
  out('Goals (issue 3, rxnet serve()): CPU per request ≤ 1.10× C at -P 1, ≤ 1.25× at -P 16, ≤ 1.3× per new connection (-k 0).');
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
  out('Goal (issue 3): ≤ 2 KB per idle connection for rxnet.');
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
    nodeServer('rxnet', 'rxnet udp() reflector', 'bench/servers/udp-reflect.js', ['--impl', 'rxnet', ...backendArgs]),
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
  out('Goals (issue 3, rxnet udp()): replies/s ≥ 1.4× node:dgram; CPU per reply ≤ 1.2× C.');
  out();
}

async function main(): Promise<void> {
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  out(`## Stream layer — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  out();
  out(`- machine: ${require('node:os').cpus().length} cores, Linux ${require('node:os').release()}, node ${process.version}; rxnet backend ${backend ?? 'default'}; load average at start ${load}`);
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
