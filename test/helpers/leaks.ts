/**
 * Every test proves cleanup, libuv's MAKE_VALGRIND_HAPPY way: no
 * registration left in the reactor and no file descriptor left open.
 */
import * as fs from 'node:fs';
import type { ExecutionContext } from 'ava';
import { Reactor, type BackendName } from '../../index';

/** The backend this run of the suite tests (scripts/test.mjs sets RXNET_BACKEND). */
export const backend: BackendName = (process.env.RXNET_BACKEND as BackendName | undefined) ?? Reactor.available[0];

// RXNET_TEST_FD_PROBE=1 takes the portable route on Linux too (the suite
// checks that both routes agree).
const procFds = fs.existsSync('/proc/self/fd') && process.env.RXNET_TEST_FD_PROBE !== '1';
/** How far the portable route probes: well past what any test opens, and past select's FD_SETSIZE. */
export const FD_PROBE_LIMIT = 4096;

/**
 * Open fds of this process, as "fd -> what it is": the /proc link on Linux;
 * elsewhere (macOS, FreeBSD) fstat's identity of the file (device, inode,
 * type) for every fd that answers fstat, probed from 0 to FD_PROBE_LIMIT and
 * beyond for any that /dev/fd lists. (FreeBSD's /dev/fd shows only 0-2
 * unless fdescfs is mounted, so it cannot be the only source.)
 */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  if (procFds) {
    for (const name of fs.readdirSync('/proc/self/fd')) {
      try {
        out.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
      } catch {
        // The directory handle readdirSync used is gone by now.
      }
    }
    return out;
  }
  const candidates = new Set<number>();
  for (let fd = 0; fd < FD_PROBE_LIMIT; fd++) candidates.add(fd);
  try {
    for (const name of fs.readdirSync('/dev/fd')) candidates.add(Number(name));
  } catch {
    // No /dev/fd: the probe alone.
  }
  for (const fd of candidates) {
    try {
      const st = fs.fstatSync(fd);
      out.set(fd, `${st.dev}:${st.ino}:${st.mode & fs.constants.S_IFMT}`);
    } catch {
      // EBADF: not open.
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
 * that the body left nothing registered and no TLS session alive, closes the
 * reactor and checks that no fd leaked (the reactor's own included).
 */
export async function withReactor<T>(t: ExecutionContext, body: (reactor: Reactor) => Promise<T> | T): Promise<T> {
  const before = openFds();
  const reactor = new Reactor({ backend });
  t.is(reactor.backend, backend);
  let result: T;
  try {
    result = await body(reactor);
    t.is(reactor.stats.registrations, 0, 'registrations left behind');
    t.is(reactor.stats.tlsSessions, 0, 'TLS sessions left behind');
  } finally {
    reactor.close();
  }
  await assertNoFdLeak(t, before);
  return result;
}
