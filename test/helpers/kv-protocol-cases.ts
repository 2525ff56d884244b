/**
 * Protocol edge cases for examples/kv: bytes no well-behaved client sends,
 * each sent on a fresh connection and half-closed. kv must answer them with
 * redis-server's bytes and close as it does: live in
 * test/examples/kv-differential.test.ts where redis-server is installed,
 * and everywhere against redis-server's answers recorded in
 * test/fixtures/kv/redis-protocol-cases.json (scripts/record-redis-protocol-cases.mjs).
 */
import { createHash } from 'node:crypto';
import { RespConnection } from './redis';

export const PROTOCOL_CASES: Array<string | Buffer> = [
  '\r\n',
  '\n',
  '*-10\r\n*0\r\nPING\r\n',
  '*3000000000\r\n',
  '*01\r\n$4\r\nPING\r\n',
  '*-0\r\n',
  '*+1\r\n',
  '*1\n$4\r\nPING\r\n',
  '*1\r$4\r\nPING\r\n',
  '*1\r\n$4\nPING\r\n',
  '*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n',
  '*1\r\n$04\r\nPING\r\n',
  '*1\r\n$-1\r\n',
  '*1\r\n\r\n',
  '*1\r\nfoo\r\n',
  '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n',
  '*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n',
  '*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n',
  '*1\r\n$4\r\nPING',
  'PING\nPING\r\nPING\rPING\r\n',
  'ECHO "a b" \'c d\' "\\x41\\x4g" \'\\\'\' e"f g"\r\n',
  'ECHO "unbalanced\r\nPING\r\n',
  'SET """test-key""" test-value\r\nPING\r\n',
  'ECHO "a"b\r\n',
  'ECHO \'a\'b\r\n',
  'ECHO "\\\r\n',
  'PING\x00\r\nPING\r\n',
  'ECHO a\tb\x0bc\x0cd\r\n',
  Buffer.concat([Buffer.from('\x00'), Buffer.alloc(70 * 1024, 0x41)]),
  Buffer.concat([Buffer.from('*\x00'), Buffer.alloc(70 * 1024, 0x41)]),
  Buffer.concat([Buffer.from('$\x00'), Buffer.alloc(70 * 1024, 0x41)]),
  'x'.repeat(70 * 1024),
  `*1\r\n$${'1'.repeat(70 * 1024)}`,
  'POST / HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  '*2\r\n$4\r\nECHO\r\n$3\r\n\xff\x00\x80\r\n*1\r\n$5\r\n\xff\x80zq\x00\r\n',
  '*2\r\n$4\r\nquit\r\n$1\r\nx\r\nPING\r\n',
  'PING\r\nQUIT\r\nPING\r\n',
  '*1\r\n$4\r\nMULTI\r\n*1\r\n$4\r\nQUIT\r\n',
];

/** A case's bytes. */
export function caseBytes(input: string | Buffer): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
}

/** What identifies a case's input in the recording (so an edited case without a new recording fails clearly). */
export function caseId(input: string | Buffer): string {
  return createHash('sha256').update(caseBytes(input)).digest('hex').slice(0, 16);
}

/** Sends `input` on a fresh connection to `target`, half-closes, and returns everything until the server closes. */
export async function protocolOutcome(target: number | string, input: string | Buffer): Promise<{ bytes: Buffer; ended: boolean }> {
  const c = await RespConnection.open(target);
  try {
    c.write(caseBytes(input));
    c.socket.end();
    return await c.untilEnd();
  } finally {
    await c.destroy();
  }
}

/** One recorded answer: the reply bytes as latin1, and whether the server closed. */
export interface RecordedCase {
  id: string;
  reply: string;
  ended: boolean;
}

export interface Recording {
  redisVersion: string;
  cases: RecordedCase[];
}
