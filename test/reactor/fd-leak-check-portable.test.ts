/**
 * The fd-leak check every test ends with must work where there is no /proc
 * (macOS, FreeBSD): there it probes fds with fstat. Run that route here, in
 * a child with RXNET_TEST_FD_PROBE=1, and check it sees what /proc sees:
 * the same open fds, and a socket opened and closed in between.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import test from 'ava';
import { sys } from '../../index';
import { openFds } from '../helpers/leaks';

const probe = `
const path = require('node:path');
const { openFds } = require(${JSON.stringify(path.join(__dirname, '..', 'helpers', 'leaks.js'))});
const { sys } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'index.js'))});
const before = openFds();
const fd = sys.socket('ipv4', 'stream');
const during = openFds();
sys.close(fd);
const after = openFds();
process.stdout.write(JSON.stringify({ before: [...before.keys()], during: [...during.keys()], after: [...after.keys()], fd }));
`;

test('without /proc, openFds() finds the same fds by probing, and sees a new socket come and go', (t) => {
  const run = spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, RXNET_TEST_FD_PROBE: '1' }, encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  const { before, during, after, fd } = JSON.parse(run.stdout) as { before: number[]; during: number[]; after: number[]; fd: number };
  t.true(during.includes(fd), 'the new socket is seen');
  t.false(before.includes(fd));
  t.deepEqual(after, before, 'and is gone again once closed');
  t.true(before.includes(0) && before.includes(1) && before.includes(2));
});

test('openFds() sees a socket opened in this process, by /proc where there is one', (t) => {
  const before = openFds();
  const fd = sys.socket('ipv4', 'stream');
  t.true(openFds().has(fd));
  t.false(before.has(fd));
  sys.close(fd);
  t.false(openFds().has(fd));
});
