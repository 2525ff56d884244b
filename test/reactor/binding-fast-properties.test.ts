/**
 * The binding's functions and constants are read on every hot-path call
 * (`native.reactorAdd`, `native.close`, `C.TOKEN_READ`, ...). The addon's own
 * exports object is in dictionary mode (napi_define_properties), where each
 * such read in optimized code is a LoadIC hash lookup; reactor/binding.ts
 * hands out fast-mode copies. V8's own view of them is checked in a child
 * process (--allow-natives-syntax is not for the test runner's).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import test from 'ava';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BINDING = path.join(ROOT, 'dist', 'reactor', 'binding.js');

test('the binding and its constants have fast properties, and are the addon\'s values', (t) => {
  const script = `
    const { native } = require(${JSON.stringify(BINDING)});
    const addon = require(require('node-gyp-build').resolve(${JSON.stringify(ROOT)}));
    const same = Object.keys(addon).every((k) => k === 'constants' || native[k] === addon[k])
      && Object.keys(addon.constants).every((k) => native.constants[k] === addon.constants[k])
      && Object.keys(native).length === Object.keys(addon).length;
    console.log(JSON.stringify({ addon: %HasFastProperties(addon), native: %HasFastProperties(native), constants: %HasFastProperties(native.constants), same }));
  `;
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  t.is(child.status, 0, child.stderr);
  const seen = JSON.parse(child.stdout) as { addon: boolean; native: boolean; constants: boolean; same: boolean };
  t.true(seen.same, 'every function and constant is the addon\'s own');
  t.true(seen.native, 'native: fast properties');
  t.true(seen.constants, 'native.constants: fast properties');
  // Why the copy exists; if a Node version makes the addon's object fast
  // itself, the copy is merely redundant, and this line says so.
  t.log(`the addon's own exports object: ${seen.addon ? 'fast' : 'dictionary'} mode`);
});
