/**
 * Errno numbers differ between systems (ECONNRESET is 104 on Linux, 54 on
 * macOS and FreeBSD): TypeScript must take them from os.constants.errno (the
 * named constants in reactor/errors.ts), never spell one as a number.
 * connection.ts once built errnoException(-104, 'read').
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

const root = path.resolve(__dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

test('no errno literal in reactor/, streams/ or examples/', (t) => {
  const offenders: string[] = [];
  const files = [...sources('reactor'), ...sources('streams'), ...sources('examples')];
  t.true(files.length > 20, 'the sources are there to scan');
  for (const file of files) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      // errnoException(-104, ...), errno === -11, errno: 104, ... === -EAGAIN's number
      if (/errnoException\(\s*-?\d/.test(line) || /\berrno\s*(===|!==|==|!=|:)\s*-?\d/.test(line) || /\bresult\s*===\s*-\d/.test(line)) {
        offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  t.deepEqual(offenders, []);
});
