/**
 * What every demo server shares: `--host`, `--port`, `--backend` (plus its
 * own flags), one `listening on HOST:PORT` line when ready, and a graceful
 * shutdown on SIGINT/SIGTERM after which the process exits by itself.
 *
 * The TCP demos also share (through {@link runServer}):
 * - `--proxy-protocol v1|v2|any` and `--trusted-proxies CIDR,...`: expect a
 *   PROXY protocol header from a load balancer in front (HAProxy
 *   `send-proxy-v2`); the handler sees the original client.
 * - `--handoff PATH`: zero-downtime restarts. At start, take the listening
 *   socket over from a running instance offering at PATH (if there is one;
 *   otherwise bind --host/--port), then offer it at PATH in turn. Starting a
 *   new instance with the same flag replaces the old one: it stops
 *   accepting, drains and exits, and no connection is refused in between.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { receiveListeners, Reactor, type BackendName, type Handover, type ListenOptions, type Server, type TlsServerOptions } from '../../index';

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
  const flags = ['--host HOST', '--port N', '--backend io_uring|epoll|kqueue|poll|select', ...extraFlags.map((f) => `--${f} VALUE`)];
  process.stderr.write(`${name}: ${problem}\nusage: node ${name} ${flags.map((f) => `[${f}]`).join(' ')}\n`);
  process.exit(2);
}

/** The flags of a demo that can serve TLS: `--tls-cert FILE --tls-key FILE` (PEM). */
export const TLS_FLAGS = ['tls-cert', 'tls-key'];

/**
 * TLS options from `--tls-cert` and `--tls-key` (both or neither), read once
 * here: serve() parses them into one context for every connection. Exits
 * with a usage message when only one is given or a file cannot be read.
 */
export function tlsFromFlags(name: string, extra: Record<string, string | undefined>): TlsServerOptions | undefined {
  const certFile = extra['tls-cert'];
  const keyFile = extra['tls-key'];
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    process.stderr.write(`${name}: --tls-cert and --tls-key go together\n`);
    process.exit(2);
  }
  try {
    return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** The flags {@link runServer} reads; a TCP demo adds them to its own. */
export const SERVER_FLAGS = ['proxy-protocol', 'trusted-proxies', 'handoff'];

/** How a demo drains (shutdown and handoff). */
export interface DrainOptions {
  timeoutMs: number;
  /** See Server#shutdown: how long idle connections may still bring one more request. */
  idleGraceMs?: number;
  /** Runs first (say goodbye to a chat room, stop a sweeper). */
  before?: () => void;
  /** Words after the address on the `listening on` line, e.g. `(tls)`. */
  label?: string;
}

/**
 * Starts a TCP demo's server with the shared flags: the listen options
 * (`--host`/`--port`, or a socket taken over with `--handoff`; PROXY
 * protocol) go to `make`, which returns the server. Announces the address,
 * tells a predecessor it may drain, offers the socket to a successor, and
 * shuts down on SIGINT/SIGTERM.
 */
export async function runServer(name: string, args: ExampleArgs, make: (listen: ListenOptions) => Server, drain: DrainOptions): Promise<Server> {
  const { extra } = args;
  const listen: ListenOptions = { reactor: args.reactor };
  const pp = extra['proxy-protocol'];
  if (pp !== undefined) {
    if (pp !== 'v1' && pp !== 'v2' && pp !== 'any') usage(name, SERVER_FLAGS, `bad --proxy-protocol ${pp} (v1, v2 or any)`);
    listen.proxyProtocol = pp;
    if (extra['trusted-proxies'] !== undefined) listen.trustedProxies = extra['trusted-proxies'].split(',').filter(Boolean);
  } else if (extra['trusted-proxies'] !== undefined) {
    usage(name, SERVER_FLAGS, '--trusted-proxies needs --proxy-protocol');
  }
  const handoffPath = extra.handoff;
  let handover: Handover | null = null;
  if (handoffPath !== undefined) {
    try {
      handover = await receiveListeners(handoffPath, { reactor: args.reactor });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Nobody offers there (first start, or the last one died): bind afresh.
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') {
        process.stderr.write(`${name}: --handoff ${handoffPath}: ${(err as Error).message}\n`);
        process.exit(1);
      }
    }
  }
  if (handover !== null) listen.fd = handover.listeners[0].fd;
  else Object.assign(listen, { host: args.host, port: args.port });
  let server: Server;
  try {
    server = make(listen);
  } catch (err) {
    handover?.abort();
    throw err;
  }
  // Before anything is announced: a signal that arrives right after the
  // `listening on` line must find its handler installed.
  onSignals(() => {
    drain.before?.();
    return server.shutdown({ timeoutMs: drain.timeoutMs, idleGraceMs: drain.idleGraceMs });
  }, drain.timeoutMs);
  let address;
  try {
    address = await server.listening;
  } catch (err) {
    handover?.abort();
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return server;
  }
  const labels = [drain.label ?? '', handover !== null ? `(taken over from pid ${handover.pid})` : ''];
  announce(address, labels.filter(Boolean).join(' '));
  handover?.ready();
  if (handoffPath !== undefined) {
    server.events$.subscribe((event) => {
      if (event.type !== 'handed-off') return;
      process.stderr.write(`${name}: handed off to pid ${event.pid}; draining\n`);
      drain.before?.();
    });
    offer(name, server, handoffPath, drain);
  }
  return server;
}

/** Offers the listening socket at `path` until a successor takes it; re-offers if one fails midway. */
function offer(name: string, server: Server, path: string, drain: DrainOptions): void {
  server.handOff(path, { timeoutMs: drain.timeoutMs, idleGraceMs: drain.idleGraceMs }).then(
    () => process.stderr.write(`${name}: drained\n`),
    (err: Error) => {
      if (server.draining) return;
      process.stderr.write(`${name}: handoff failed (${err.message}); still serving\n`);
      offer(name, server, path, drain);
    },
  );
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
