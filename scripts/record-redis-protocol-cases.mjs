#!/usr/bin/env node
// Regenerates test/fixtures/kv/redis-protocol-cases.json: what Debian's
// redis-server answers to each protocol edge case of
// test/helpers/kv-protocol-cases.ts (the bytes, and whether it closed), so
// kv-differential.test.ts can hold examples/kv to them on machines without
// redis-server. Where redis-server is installed the test also compares live,
// and checks this recording against a redis-server of the same version.
// Needs `npm run build:ts` first, and redis-server on PATH.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { startRedis } = require(path.join(root, 'dist', 'test', 'helpers', 'redis.js'));
const { PROTOCOL_CASES, caseId, protocolOutcome } = require(path.join(root, 'dist', 'test', 'helpers', 'kv-protocol-cases.js'));

const redis = await startRedis();
try {
  const cases = [];
  for (const input of PROTOCOL_CASES) {
    const { bytes, ended } = await protocolOutcome(redis.socket, input);
    if (!ended) throw new Error(`redis-server did not close after case ${cases.length}`);
    cases.push({ id: caseId(input), reply: bytes.toString('latin1'), ended });
  }
  const out = path.join(root, 'test', 'fixtures', 'kv', 'redis-protocol-cases.json');
  fs.writeFileSync(out, `${JSON.stringify({ redisVersion: redis.version, cases }, null, 2)}\n`);
  console.log(`wrote ${out} (${cases.length} cases, redis-server ${redis.version})`);
} finally {
  await redis.stop();
}
