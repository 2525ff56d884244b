#!/usr/bin/env node
// npm run profile -- <doctor|flame|bubbleprof> <example> [--seconds N]
//
// Runs clinic 13 on a compiled demo server under a load that fits its
// protocol (autocannon for http; scripts/load.mjs for the others), headless,
// and leaves the HTML report under .clinic/. clinic's --on-port only detects
// node:net servers, so this script waits for the example's "listening on"
// line itself, runs the load, then sends SIGINT to the process group: the
// example shuts down gracefully and exits, and clinic writes its report.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = ['doctor', 'flame', 'bubbleprof'];
const loads = { 'tcp-echo': 'echo', 'udp-echo': 'udp', chat: 'chat', kv: 'resp', http: 'http', dns: 'dns', proxy: 'http' };
const [tool, example, ...rest] = process.argv.slice(2);
const secondsFlag = rest.indexOf('--seconds');
const seconds = secondsFlag >= 0 ? Number(rest[secondsFlag + 1]) : 10;

if (!tools.includes(tool) || !(example in loads)) {
  console.error(`usage: npm run profile -- <${tools.join('|')}> <${Object.keys(loads).join('|')}> [--seconds N]`);
  process.exit(2);
}
const script = path.join(root, 'dist', 'examples', example, 'main.js');
if (!fs.existsSync(script)) {
  console.error(`${script} is missing: run \`npm run build:ts\` first`);
  process.exit(2);
}

const clinic = require.resolve('clinic/bin.js');
const extra = example === 'http' ? ['--root', root] : [];
const child = spawn(
  process.execPath,
  [clinic, tool, '--open=false', '--dest', path.join(root, '.clinic'), '--', process.execPath, script, '--host', '127.0.0.1', '--port', '0', ...extra],
  // NO_INSIGHT: clinic 13 on Node 20 otherwise exits silently (its usage
  // prompt). A process group of its own lets one SIGINT reach clinic and the example.
  { cwd: root, env: { ...process.env, NO_INSIGHT: '1' }, stdio: ['ignore', 'pipe', 'inherit'], detached: true },
);
let output = '';
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no "listening on" line within 30 s:\n${output}`)), 30000);
  child.stdout.on('data', (d) => {
    output += d;
    process.stdout.write(d);
    const m = /listening on \[?[^\]\s]+?\]?:(\d+)/.exec(output);
    if (m) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
  child.once('exit', (code) => reject(new Error(`clinic exited with ${code} before the example listened:\n${output}`)));
});

console.log(`profiling ${example} with clinic ${tool} for ${seconds}s on port ${port}`);
if (loads[example] === 'http') {
  const autocannon = require('autocannon');
  const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: seconds });
  console.log(`autocannon: ${Math.round(result.requests.average)} req/s average, ${result.requests.total} requests`);
} else {
  await new Promise((resolve) => {
    const load = spawn(process.execPath, [path.join(root, 'scripts', 'load.mjs'), loads[example], String(port), String(seconds)], { stdio: 'inherit' });
    load.once('exit', resolve);
  });
}

process.kill(-child.pid, 'SIGINT');
const code = await new Promise((resolve) => child.once('exit', resolve));
const reports = fs.existsSync(path.join(root, '.clinic'))
  ? fs.readdirSync(path.join(root, '.clinic')).filter((f) => f.endsWith('.html')).map((f) => path.join('.clinic', f))
  : [];
console.log(`clinic exited with ${code}; reports: ${reports.join(', ') || 'none'}`);
process.exit(code === 0 && reports.length > 0 ? 0 : 1);
