/**
 * Every test proves cleanup, libuv's MAKE_VALGRIND_HAPPY way: no
 * registration left in the reactor and no file descriptor left open.
 */
import * as fs from 'node:fs';
import type { ExecutionContext } from 'ava';
import { Reactor, type BackendName } from '../../index';

/** The backend this run of the suite tests (scripts/test.mjs sets RXNET_BACKEND). */
export const backend: BackendName = (process.env.RXNET_BACKEND as BackendName | undefined) ?? Reactor.available[0];

const procFds = fs.existsSync('/proc/self/fd');

/**
 * Open fds of this process, as "fd -> target": the /proc link on Linux; on
 * macOS and the BSDs, whose /dev/fd lists the open fds but links nowhere,
 * the file's identity from fstat (device, inode, type).
 */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of fs.readdirSync(procFds ? '/proc/self/fd' : '/dev/fd')) {
    try {
      if (procFds) {
        out.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
      } else {
        const st = fs.fstatSync(Number(name));
        out.set(Number(name), `${st.dev}:${st.ino}:${st.mode & fs.constants.S_IFMT}`);
      }
    } catch {
      // The directory handle readdirSync used is gone by now.
    }
  }
  return out;
}

function extra(before: Map<number, string>, after: Map<number, string>): string[] {
  const leaked: string[] = [];
  for (const [fd, target] of after) if (before.get(fd) !== target) leaked.push(`${fd} -> ${target}`);
  return leaked;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until every fd opened since `before` is closed again (Node closes its
 * own sockets asynchronously), then asserts so. Up to `ms` milliseconds.
 */
export async function assertNoFdLeak(t: ExecutionContext, before: Map<number, string>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  let leaked = extra(before, openFds());
  while (leaked.length > 0 && Date.now() < deadline) {
    await delay(10);
    leaked = extra(before, openFds());
  }
  t.deepEqual(leaked, [], 'file descriptors leaked');
}

/**
 * Runs `body` with a fresh reactor of the backend under test, then checks
 * that the body left nothing registered, closes the reactor and checks that
 * no fd leaked (the reactor's own included).
 */
export async function withReactor<T>(t: ExecutionContext, body: (reactor: Reactor) => Promise<T> | T): Promise<T> {
  const before = openFds();
  const reactor = new Reactor({ backend });
  t.is(reactor.backend, backend);
  let result: T;
  try {
    result = await body(reactor);
    t.is(reactor.stats.registrations, 0, 'registrations left behind');
  } finally {
    reactor.close();
  }
  await assertNoFdLeak(t, before);
  return result;
}
