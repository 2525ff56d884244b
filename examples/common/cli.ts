/**
 * What every demo server shares: `--host`, `--port`, `--backend` (plus its
 * own flags), one `listening on HOST:PORT` line when ready, and a graceful
 * shutdown on SIGINT/SIGTERM after which the process exits by itself.
 */
import { parseArgs } from 'node:util';
import { Reactor, type BackendName } from '../../index';

export interface ExampleArgs {
  host: string;
  port: number;
  reactor: Reactor;
  /** Flags beyond host/port/backend, as strings. */
  extra: Record<string, string | undefined>;
}

/**
 * Parses the command line. `--port 0` picks a free port (the `listening on`
 * line says which). Exits with a usage message on bad flags.
 */
export function exampleArgs(name: string, defaults: { port: number; host?: string }, extraFlags: string[] = []): ExampleArgs {
  const options: Record<string, { type: 'string' }> = { host: { type: 'string' }, port: { type: 'string' }, backend: { type: 'string' } };
  for (const flag of extraFlags) options[flag] = { type: 'string' };
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ options, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    usage(name, extraFlags, (err as Error).message);
  }
  const port = values.port === undefined ? defaults.port : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(name, extraFlags, `bad --port ${values.port}`);
  const backend = (values.backend ?? process.env.RXNET_BACKEND) as BackendName | undefined;
  if (backend !== undefined && !Reactor.available.includes(backend)) {
    usage(name, extraFlags, `backend ${backend} is not available here (available: ${Reactor.available.join(', ')})`);
  }
  const reactor = backend ? new Reactor({ backend }) : Reactor.default();
  const extra: Record<string, string | undefined> = {};
  for (const flag of extraFlags) extra[flag] = values[flag];
  return { host: values.host ?? defaults.host ?? '127.0.0.1', port, reactor, extra };
}

/**
 * A duration flag in milliseconds: `raw` (the flag's value, or undefined for
 * its default) as a non-negative integer; what 0 means is the flag's to say.
 * Exits with a usage message otherwise.
 */
export function msFlag(name: string, flag: string, raw: string | undefined, defaultMs: number): number {
  if (raw === undefined) return defaultMs;
  const ms = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(ms) || ms < 0 || ms > 2 ** 31 - 1) {
    process.stderr.write(`${name}: --${flag} must be a whole number of milliseconds, got ${raw}\n`);
    process.exit(2);
  }
  return ms;
}

function usage(name: string, extraFlags: string[], problem: string): never {
  const flags = ['--host HOST', '--port N', '--backend epoll|kqueue|poll|select', ...extraFlags.map((f) => `--${f} VALUE`)];
  process.stderr.write(`${name}: ${problem}\nusage: node ${name} ${flags.map((f) => `[${f}]`).join(' ')}\n`);
  process.exit(2);
}

/** Prints the one line tests and `npm start` wait for. */
export function announce(address: { address: string; port: number }, label = ''): void {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  process.stdout.write(`listening on ${host}:${address.port}${label ? ` ${label}` : ''}\n`);
}

/**
 * Runs `shutdown` on the first SIGINT or SIGTERM; a second signal exits at
 * once. After a graceful shutdown nothing is registered any more, so the
 * process exits by itself; a safety timer makes sure it does.
 */
export function onSignals(shutdown: () => Promise<void>, graceMs = 5000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`${signal}: shutting down\n`);
    const force = setTimeout(() => process.exit(1), graceMs + 1000);
    force.unref();
    shutdown().then(
      () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      },
      (err) => {
        process.stderr.write(`shutdown failed: ${(err as Error).stack}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // Started by `npm start` (scripts/start.mjs) with an IPC channel: if the
  // launcher goes away, shut down as on SIGTERM instead of living on. The
  // channel itself must not keep the process alive.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => handler('SIGTERM'));
  }
}
