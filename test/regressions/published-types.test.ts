/**
 * The published .d.ts files are the package's API: they must type-check on
 * their own (a consumer with skipLibCheck off), and carry nothing marked
 * @internal, nor the native binding or the unchecked io module that only
 * reactor/ and streams/ may use.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';

const root = path.resolve(__dirname, '..', '..', '..');
const dist = path.join(root, 'dist');

function declarations(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f));
}

test('the published declarations hold no internal member, binding or io module', (t) => {
  const files = [...declarations(path.join(dist, 'reactor')), ...declarations(path.join(dist, 'streams')), path.join(dist, 'index.d.ts')];
  const offenders: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    const rel = path.relative(dist, file);
    if (/@internal/.test(text)) offenders.push(`${rel}: @internal`);
    for (const name of ['readSeq', 'answeredSeq', 'setPressure', 'endByServer', 'onReady', 'onBatchEnd', 'discardInput', 'register(']) {
      if (text.includes(name)) offenders.push(`${rel}: ${name}`);
    }
  }
  t.true(files.length > 10);
  t.deepEqual(offenders, []);
});

test('a strict consumer type-checks against the published declarations alone', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-types-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'consumer.ts'),
      `import { serve, connect, listen, udp, Reactor, sys, lines, type Connection, type ServerEvent } from ${JSON.stringify(path.join(dist, 'index'))};
const server = serve({ port: 0, highWaterMark: 1024 }, (conn: Connection) => conn.data$.pipe(lines()));
server.events$.subscribe((e: ServerEvent) => { if (e.type === 'connection-rejected') console.log(e.error.message); });
const n: number = server.stats.rejected + server.stats.pauses;
const flowing: boolean = n > 0 && listen({ port: 0 }) !== undefined;
void flowing;
void connect({ port: 1 });
void udp({ port: 0 });
const r: Reactor = Reactor.default();
void r.watch(0);
void sys.IOV_MAX;
`,
    );
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
        files: ['consumer.ts'],
      }),
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', cwd: root });
    t.is(run.status, 0, `${run.stdout}${run.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
