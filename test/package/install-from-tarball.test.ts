/**
 * The package as an app gets it: the files `npm pack` would ship, laid into
 * a new app's node_modules with the addon where prebuildify puts it
 * (prebuilds/<platform>-<arch>/rxnet.<libc>.node), and used from a PATH that
 * holds node alone, so no compiler, make or python3 could have helped.
 * (scripts/verify-package.sh does the same with the real tarball, npm,
 * pnpm and Bun.)
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertNoFdLeak, openFds } from '../helpers/leaks';

const root = path.resolve(__dirname, '..', '..', '..');
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** What `npm pack` would put in the tarball (no lifecycle scripts run). */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
}

/** prebuildify's name for this machine's binary (node-gyp-build tells musl from glibc by /etc/alpine-release). */
function prebuildPath(): string {
  const libc = process.platform === 'linux' ? (fs.existsSync('/etc/alpine-release') ? '.musl' : '.glibc') : '';
  return `prebuilds/${process.platform}-${process.arch}/rxnet${libc}.node`;
}

/** A new app: node_modules/rxnet from the packed file list, rxjs beside it; a bin dir with node only. */
function makeApp(files: string[], withAddon: boolean): { app: string; bin: string } {
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-app-'));
  const target = path.join(app, 'node_modules', 'rxnet');
  for (const file of files) {
    // A developer's own prebuilds are not what this test checks: the addon is placed below.
    if (file.startsWith('prebuilds/')) continue;
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(target, file));
  }
  if (withAddon) {
    const dest = path.join(target, prebuildPath());
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    // The addon this checkout loads (build/Release, or a prebuild made here).
    fs.copyFileSync(nodeGypBuild.resolve(root), dest);
  }
  // What npm would install beside it: the dependencies, and rxjs as the app's peer.
  for (const dep of [...Object.keys(pkg.dependencies), 'rxjs']) {
    fs.mkdirSync(path.dirname(path.join(app, 'node_modules', dep)), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(app, 'node_modules', dep), 'dir');
  }
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  const bin = path.join(app, '.bin-node-only');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  return { app, bin };
}

function runIn(app: string, bin: string, file: string, source: string) {
  fs.writeFileSync(path.join(app, file), source);
  return spawnSync(path.join(bin, 'node'), [file], { cwd: app, encoding: 'utf8', timeout: 20_000, env: { PATH: bin, HOME: app } });
}

const ECHO_ROUND_TRIP = `
  const server = serve({ host: '127.0.0.1', port: 0 }, (conn) => conn.data$);
  const { port } = await server.listening;
  const conn = await firstValueFrom(connect({ host: '127.0.0.1', port }));
  const reply = firstValueFrom(conn.data$);
  conn.write('ping');
  console.log(String(await reply));
  conn.close();
  await server.close();
`;

test('the tarball ships the library, its types and the addon sources, and nothing else', (t) => {
  const files = packedFiles();
  for (const must of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'binding.gyp', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'native/abi.h']) {
    t.true(files.includes(must), must);
  }
  t.deepEqual(files.filter((f) => /^(test|bench|examples|scripts|docs|build|node_modules)\//.test(f) || f.startsWith('dist/test') || f.startsWith('dist/bench') || f.startsWith('dist/examples')), []);
  t.deepEqual(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.d.mts')), [], 'no TypeScript sources');
  // A source map ships only with the sources it names (inlined: sourcesContent).
  const maps = files.filter((f) => f.endsWith('.map'));
  t.true(maps.length > 10);
  for (const map of maps) {
    const m = JSON.parse(fs.readFileSync(path.join(root, map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    t.true(m.sources.length > 0 && m.sources.every((_, i) => typeof m.sourcesContent?.[i] === 'string'), `${map} carries its sources`);
  }
  t.deepEqual(pkg.peerDependencies, { rxjs: '^7.8.0' });
  t.false('node-gyp' in (pkg.dependencies ?? {}), 'node-gyp is not a runtime dependency');
  t.false('rxjs' in (pkg.dependencies ?? {}), 'rxjs is a peer: an app has one copy');
  t.is(pkg.scripts.install, 'node-gyp-build', 'a prebuild that fits means no compiler at install');
  t.deepEqual(Object.keys(pkg.exports), ['.', './package.json']);
});

test('a new app requires and imports the package on a PATH with node alone (prebuilt addon); internals are not importable', async (t) => {
  const before = openFds();
  const { app, bin } = makeApp(packedFiles(), true);
  try {
    const cjs = runIn(
      app,
      bin,
      'cjs.cjs',
      `const { serve, connect, Reactor } = require('rxnet');
       const { firstValueFrom } = require('rxjs');
       (async () => { ${ECHO_ROUND_TRIP}
         console.log(Reactor.available.join(','));
         try { require('rxnet/dist/reactor/binding.js'); console.log('internal: importable'); } catch (e) { console.log('internal:', e.code); }
       })();`,
    );
    t.is(cjs.status, 0, cjs.stderr);
    const [reply, backends, internal] = cjs.stdout.trim().split('\n');
    t.is(reply, 'ping');
    t.true(backends.split(',').length >= 2, backends);
    t.is(internal, 'internal: ERR_PACKAGE_PATH_NOT_EXPORTED');

    const esm = runIn(
      app,
      bin,
      'esm.mjs',
      `import { serve, connect, Reactor, sys, lines } from 'rxnet';
       import { createRequire } from 'node:module';
       import { firstValueFrom } from 'rxjs';
       ${ECHO_ROUND_TRIP}
       console.log(Reactor === createRequire(import.meta.url)('rxnet').Reactor, typeof sys.read, typeof lines);
       await import('rxnet/dist/streams/connection.js').then(() => console.log('internal: importable'), (e) => console.log('internal:', e.code));`,
    );
    t.is(esm.status, 0, esm.stderr);
    t.deepEqual(esm.stdout.trim().split('\n'), ['ping', 'true function function', 'internal: ERR_PACKAGE_PATH_NOT_EXPORTED']);
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
  }
  await assertNoFdLeak(t, before);
});

test('without a fitting prebuild or a build, the error says what to run in the app', (t) => {
  const { app, bin } = makeApp(packedFiles(), false);
  try {
    const r = runIn(app, bin, 'no-addon.cjs', `try { require('rxnet'); } catch (e) { console.log(e.message); }`);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /no prebuilt binary in the package fits this machine/);
    t.regex(r.stdout, /run `npm rebuild rxnet`/);
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
  }
});

test('TypeScript consumers resolve the types through the exports map, from ES modules and CommonJS alike', (t) => {
  const { app } = makeApp(packedFiles(), true);
  try {
    fs.writeFileSync(
      path.join(app, 'esm.mts'),
      `import { serve, connect, Reactor, type Connection, type ServerEvent } from 'rxnet';
const s = serve({ port: 0 }, (c: Connection) => c.data$);
s.events$.subscribe((e: ServerEvent) => void e.type);
const r: Reactor = Reactor.default();
void connect({ port: 1 }); void r;
`,
    );
    fs.writeFileSync(
      path.join(app, 'cjs.cts'),
      `import rx = require('rxnet');
const s: rx.Server = rx.serve({ port: 0 }, (c: rx.Connection) => c.data$);
void s;
`,
    );
    fs.writeFileSync(
      path.join(app, 'internal.mts'),
      `// @ts-expect-error: not exported
import type { NativeBinding } from 'rxnet/dist/reactor/binding.js';
export type X = NativeBinding;
`,
    );
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
        files: ['esm.mts', 'cjs.cts', 'internal.mts'],
      }),
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', app], { encoding: 'utf8', cwd: app });
    t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
  }
});
