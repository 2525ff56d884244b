/**
 * Reactor echo benchmark: `npm run bench` (= build, then `node dist/bench/run.js`).
 *
 * Echo servers, each a child process on 127.0.0.1:
 *   - C      bench/c/echo_epoll.c, edge-triggered epoll (compiled here with cc -O2)
 *   - cu     bench/c/echo_uring.c, io_uring with multishot accept/recv and
 *            provided buffers (Linux; compiled here too)
 *   - net    bench/servers/net-echo.ts, node:net
 *   - rxnet  bench/servers/reactor-echo.ts, reactor.watch() + sys, no node:net
 * are loaded in turn by `redis-benchmark -t ping_mbulk -c 50` at pipeline 1
 * and 16 (an echoed RESP command is a valid RESP reply). For every run we read
 * the server's utime+stime from /proc/<pid>/stat before and after and divide
 * by the requests: server CPU µs per request. The machine is shared and noisy,
 * so servers are interleaved over several rounds and medians reported; the
 * ratios to C are the point, not the absolute numbers.
 *
 * Options:
 *   --rounds N        rounds (default 5; --quick: 1)
 *   --quick           small request counts, a smoke test
 *   --backend NAME    reactor backend of the rxnet server (epoll|poll|select)
 *   --servers LIST    subset, e.g. c,rxnet (default c,cu,net,rxnet; cu on Linux only)
 *   --n1 N, --n16 N   requests per run at -P 1 / -P 16
 *   --json PATH       also write every run as JSON (default bench/out/reactor-echo.json)
 *   --quiet PCT       for a shared machine: before each run wait (up to 30 s) until
 *                     the cores are >= 90% idle, and redo a run (up to 3 tries,
 *                     the least disturbed one is kept) while the server waited
 *                     for a CPU more than PCT% of it (other processes' load);
 *                     it gives up waiting and retrying after 8 minutes
 *
 * Loopback only; every run is bounded by its request count and a timeout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLK_TCK, LineQueue, cpuTicks, intOption, killAll, median, option, runqueueWaitNs, sh, sleep, track } from './lib';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'bench', 'out');
const RUN_TIMEOUT_MS = 90_000;
const START_TIMEOUT_MS = 15_000;
/** The whole benchmark gives up after this long, whatever the options. */
const TOTAL_LIMIT_MS = 15 * 60_000;
const CONNECTIONS = 50;

const quick = process.argv.includes('--quick');
const rounds = intOption('--rounds', quick ? 1 : 5);
const n1 = intOption('--n1', quick ? 20_000 : 250_000);
const n16 = intOption('--n16', quick ? 200_000 : 3_000_000);
const backend = option('--backend');
const wanted = (option('--servers') ?? (process.platform === 'linux' ? 'c,cu,net,rxnet' : 'c,net,rxnet')).split(',').filter(Boolean);
const quietPct = option('--quiet') === undefined ? undefined : intOption('--quiet', 10);
const QUIET_TRIES = 3;
/** After this long, --quiet stops waiting and retrying, so the benchmark still ends. */
const QUIET_BUDGET_MS = 8 * 60_000;
const startedAt = Date.now();
const IDLE_WAIT_MS = 30_000;
const jsonPath = option('--json') ?? path.join(OUT, 'reactor-echo.json');

// ---- helpers ------------------------------------------------------------------

/** Share of both cores that was idle over the next `ms` (from /proc/stat). */
async function idleShare(ms: number): Promise<number> {
  const sample = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + f[4] };
  };
  const a = sample();
  await sleep(ms);
  const b = sample();
  return b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 1;
}

/** --quiet: waits until other processes leave the cores (mostly) idle, at most IDLE_WAIT_MS. */
async function waitForIdle(): Promise<void> {
  const deadline = Date.now() + IDLE_WAIT_MS;
  while (Date.now() < deadline && (await idleShare(1000)) < 0.9) {
    // keep waiting
  }
}


// ---- servers ------------------------------------------------------------------

interface ServerSpec {
  key: string;
  label: string;
  cmd: string;
  args: string[];
  /** Prints reactor stats on SIGUSR2. */
  stats: boolean;
}

interface Server {
  spec: ServerSpec;
  child: ChildProcess;
  pid: number;
  port: number;
  detail: string;
  lines: LineQueue;
}


async function start(spec: ServerSpec): Promise<Server> {
  const child = track(spawn(spec.cmd, spec.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 8192) stderr = stderr.slice(-8192);
  });
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`bench: server ${spec.key} exited (${code ?? signal})${stderr ? `:\n${stderr}` : ''}`);
  });
  const lines = new LineQueue(child.stdout!);
  let m: RegExpMatchArray;
  try {
    m = await lines.match(spec.key, /listening on 127\.0\.0\.1:(\d+)(.*)/, START_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`${(err as Error).message}${stderr ? `\nstderr:\n${stderr}` : ''}`);
  }
  return { spec, child, pid: child.pid!, port: Number(m[1]), detail: m[2].trim(), lines };
}

interface ReactorCounters {
  wakeups: number;
  events: number;
}
async function reactorStats(server: Server): Promise<ReactorCounters | undefined> {
  if (!server.spec.stats) return undefined;
  server.child.kill('SIGUSR2');
  const m = await server.lines.match(server.spec.key, /^stats (\{.*\})$/, 5000);
  return JSON.parse(m[1]) as ReactorCounters;
}

// ---- load ---------------------------------------------------------------------

/** One redis-benchmark run; resolves to its requests per second. */
async function load(port: number, requests: number, pipeline: number): Promise<number> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'ping_mbulk', '-c', String(CONNECTIONS), '-n', String(requests), '-P', String(pipeline), '--csv'];
  const child = track(spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  // "PING_MBULK","98522.17","0.263",...
  const m = out.match(/^"PING_MBULK","([\d.]+)"/m);
  if (code !== 0 || !m) {
    throw new Error(`redis-benchmark ${args.join(' ')} failed (${code ?? signal}${signal === 'SIGKILL' ? ', timed out' : ''}):\n${out}${err}`);
  }
  return Number(m[1]);
}

interface Run {
  server: string;
  round: number;
  pipeline: number;
  requests: number;
  rps: number;
  cpuUsPerReq: number;
  userUsPerReq: number;
  sysUsPerReq: number;
  /** Share of the run's wall time the server's main thread waited for a CPU (other load). */
  waitPct: number;
  /** Runs made for this measurement (more than 1 only with --quiet). */
  tries: number;
  wakeupsPerReq?: number;
  eventsPerWakeup?: number;
}

async function measure(server: Server, requests: number, pipeline: number, round: number): Promise<Run> {
  const s0 = await reactorStats(server);
  const c0 = cpuTicks(server.pid);
  const q0 = runqueueWaitNs(server.pid);
  const t0 = process.hrtime.bigint();
  const rps = await load(server.port, requests, pipeline);
  const t1 = process.hrtime.bigint();
  const c1 = cpuTicks(server.pid);
  const q1 = runqueueWaitNs(server.pid);
  const s1 = await reactorStats(server);
  if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`server ${server.spec.key} died during the run`);
  const us = (ticks: number) => (ticks * 1e6) / CLK_TCK / requests;
  const run: Run = {
    server: server.spec.key,
    round,
    pipeline,
    requests,
    rps,
    cpuUsPerReq: us(c1.user - c0.user + c1.sys - c0.sys),
    userUsPerReq: us(c1.user - c0.user),
    sysUsPerReq: us(c1.sys - c0.sys),
    waitPct: ((q1 - q0) / Number(t1 - t0)) * 100,
    tries: 1,
  };
  if (s0 && s1) {
    const wakeups = s1.wakeups - s0.wakeups;
    run.wakeupsPerReq = wakeups / requests;
    run.eventsPerWakeup = wakeups > 0 ? (s1.events - s0.events) / wakeups : 0;
  }
  return run;
}

// ---- main ---------------------------------------------------------------------

let stopping = false;

async function main(): Promise<void> {
  const version = spawnSync('redis-benchmark', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    console.log('bench: redis-benchmark not found; it generates the load. Install it with:');
    console.log('  apt-get install redis-tools      (Debian/Ubuntu; brew install redis on macOS)');
    console.log('then run `npm run bench` again. Nothing was measured.');
    return;
  }
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

  fs.mkdirSync(OUT, { recursive: true });
  const cBin = path.join(OUT, 'echo_epoll');
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', cBin, path.join(ROOT, 'bench', 'c', 'echo_epoll.c')], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) throw new Error(`cc -O2 bench/c/echo_epoll.c failed: ${cc.error?.message ?? cc.stderr}`);
  const cuBin = path.join(OUT, 'echo_uring');
  if (wanted.includes('cu')) {
    const ccu = spawnSync('cc', ['-O2', '-Wall', '-o', cuBin, path.join(ROOT, 'bench', 'c', 'echo_uring.c')], { encoding: 'utf8' });
    if (ccu.error || ccu.status !== 0) throw new Error(`cc -O2 bench/c/echo_uring.c failed: ${ccu.error?.message ?? ccu.stderr}`);
  }

  const node = process.execPath;
  const specs: ServerSpec[] = [
    { key: 'c', label: 'C epoll (ET, echo_epoll.c)', cmd: cBin, args: ['0'], stats: false },
    { key: 'cu', label: 'C io_uring (echo_uring.c)', cmd: cuBin, args: ['0'], stats: false },
    { key: 'net', label: 'node:net echo', cmd: node, args: [path.join(ROOT, 'dist', 'bench', 'servers', 'net-echo.js'), '--port', '0'], stats: false },
    {
      key: 'rxnet',
      label: 'rxnet reactor echo',
      cmd: node,
      args: [path.join(ROOT, 'dist', 'bench', 'servers', 'reactor-echo.js'), '--port', '0', ...(backend ? ['--backend', backend] : [])],
      stats: true,
    },
  ].filter((s) => wanted.includes(s.key));
  if (specs.length === 0) throw new Error(`--servers must name some of c,cu,net,rxnet`);

  const servers: Server[] = [];
  for (const spec of specs) servers.push(await start(spec));
  const rx = servers.find((s) => s.spec.key === 'rxnet');
  const rxBackend = rx ? (rx.detail.match(/backend (\w+)/)?.[1] ?? backend ?? '?') : '-';

  const cpuModel = os.cpus()[0]?.model ?? '?';
  const header = [
    `date: ${new Date().toISOString()}`,
    `machine: ${os.cpus().length} cores (${cpuModel}), kernel ${sh('uname', ['-r'])}, node ${process.version}, ${version.stdout.trim()}`,
    `load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes share these cores)`,
    `rxnet backend: ${rxBackend}; load: redis-benchmark -t ping_mbulk -c ${CONNECTIONS}, -n ${n1} at -P 1, -n ${n16} at -P 16; ${rounds} round(s), median; CLK_TCK ${CLK_TCK}` +
      (quietPct === undefined ? '' : `; --quiet ${quietPct}: runs wait for idle cores and are redone (up to ${QUIET_TRIES} tries) while the server waited for a CPU > ${quietPct}%`),
  ];
  for (const line of header) console.log(line);

  // Warm-up (not recorded): let V8 compile the hot paths of the Node servers.
  for (const server of servers) {
    if (server.spec.key === 'c' || server.spec.key === 'cu') continue;
    await load(server.port, Math.max(5000, n1 >> 2), 1);
    await load(server.port, Math.max(20000, n16 >> 3), 16);
  }

  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    // Rotate the order each round so no server always runs first.
    const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]);
    for (const pipeline of [1, 16]) {
      for (const server of order) {
        const requests = pipeline === 1 ? n1 : n16;
        let run: Run | undefined;
        const quiet = quietPct !== undefined && Date.now() - startedAt < QUIET_BUDGET_MS;
        for (let tries = 1; tries <= (quiet ? QUIET_TRIES : 1); tries++) {
          if (quiet) await waitForIdle();
          const attempt = await measure(server, requests, pipeline, round);
          if (run === undefined || attempt.waitPct < run.waitPct) run = attempt;
          run.tries = tries;
          if (!quiet || run.waitPct <= quietPct! || Date.now() - startedAt > QUIET_BUDGET_MS) break;
        }
        run = run!;
        runs.push(run);
        const extra = run.wakeupsPerReq !== undefined ? `, ${run.wakeupsPerReq.toFixed(3)} wakeups/req, ${run.eventsPerWakeup!.toFixed(2)} events/wakeup` : '';
        console.log(
          `  round ${round} P=${String(pipeline).padEnd(2)} ${server.spec.key.padEnd(5)} ${run.rps.toFixed(0).padStart(8)} req/s  ` +
            `${run.cpuUsPerReq.toFixed(3)} µs/req (user ${run.userUsPerReq.toFixed(3)}, sys ${run.sysUsPerReq.toFixed(3)}), ` +
            `waited for CPU ${run.waitPct.toFixed(0)}%${run.tries > 1 ? ` (best of ${run.tries} tries)` : ''}${extra}`,
        );
        await sleep(100);
      }
    }
  }

  // ---- report ----
  const med = (key: string, pipeline: number, field: keyof Run) =>
    median(runs.filter((r) => r.server === key && r.pipeline === pipeline).map((r) => r[field] as number));
  const range = (key: string, pipeline: number, field: keyof Run) => {
    const xs = runs.filter((r) => r.server === key && r.pipeline === pipeline).map((r) => r[field] as number);
    return `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  };
  const hasC = servers.some((s) => s.spec.key === 'c');
  const ratio = (key: string, pipeline: number) => (hasC ? `${(med(key, pipeline, 'cpuUsPerReq') / med('c', pipeline, 'cpuUsPerReq')).toFixed(2)}×` : '-');
  const kreq = (x: number) => `${(x / 1000).toFixed(1)}k`;

  console.log('');
  console.log('| server | req/s P=1 | CPU µs/req P=1 | ratio to C | req/s P=16 | CPU µs/req P=16 | ratio to C |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of servers) {
    const k = s.spec.key;
    const label = k === 'rxnet' ? `${s.spec.label} (${rxBackend})` : s.spec.label;
    console.log(
      `| ${label} | ${kreq(med(k, 1, 'rps'))} | ${med(k, 1, 'cpuUsPerReq').toFixed(2)} | ${ratio(k, 1)} | ` +
        `${kreq(med(k, 16, 'rps'))} | ${med(k, 16, 'cpuUsPerReq').toFixed(3)} | ${ratio(k, 16)} |`,
    );
  }
  console.log('');
  console.log('Detail (medians; CPU split into user and kernel time; min–max of the total over the rounds; "waited for CPU":');
  console.log("share of the run the server's main thread was runnable but not running, i.e. other load on the machine):");
  console.log('');
  console.log('| server | P | user µs/req | sys µs/req | total min–max | waited for CPU | wakeups/req | events/wakeup |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const pipeline of [1, 16]) {
    for (const s of servers) {
      const k = s.spec.key;
      const w = s.spec.stats ? med(k, pipeline, 'wakeupsPerReq').toFixed(3) : '-';
      const e = s.spec.stats ? med(k, pipeline, 'eventsPerWakeup').toFixed(2) : '-';
      console.log(`| ${k} | ${pipeline} | ${med(k, pipeline, 'userUsPerReq').toFixed(3)} | ${med(k, pipeline, 'sysUsPerReq').toFixed(3)} | ${range(k, pipeline, 'cpuUsPerReq')} | ${med(k, pipeline, 'waitPct').toFixed(0)}% | ${w} | ${e} |`);
    }
  }

  if (quietPct !== undefined) {
    const loud = runs.filter((r) => r.waitPct > quietPct).length;
    console.log(`\n--quiet ${quietPct}: ${runs.reduce((a, r) => a + r.tries, 0)} runs made for ${runs.length} measurements; ${loud} kept one above ${quietPct}% after ${QUIET_TRIES} tries`);
  }
  console.log(`\nload average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, `${JSON.stringify({ header, runs }, null, 2)}\n`);
  console.log(`\nevery run: ${path.relative(process.cwd(), jsonPath)}`);

  stopping = true;
  for (const s of servers) s.child.kill('SIGTERM');
  await Promise.race([Promise.all(servers.map((s) => (s.child.exitCode === null && s.child.signalCode === null ? once(s.child, 'exit') : null))), sleep(3000)]);
}

main()
  .catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    stopping = true;
    killAll();
  });
