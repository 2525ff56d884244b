/**
 * Helpers for the TLS suites (test/tls/): the test identities as files for
 * command-line clients, servers with `tls` on the reactor under test, node:tls
 * clients as promises, and running a client program with a deadline.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { ExecutionContext } from 'ava';
import { type ConnectionHandler, type Reactor, type Server, type ServeOptions, type ServerEvent, type TlsServerOptions } from '../../index';
import * as ids from '../fixtures/tls/identities';
import { requireTool } from './clients';
import { HOST, Received, startServer } from './streams';

export { ids };

/** The server identity every TLS test serves unless it says otherwise. */
export const SERVER_TLS: TlsServerOptions = { key: ids.SERVER_KEY, cert: ids.SERVER_CERT };

let files: Record<keyof typeof ids, string> | null = null;

/** The identities as PEM files (for openssl, curl, redis-cli), written once per process and removed at exit. */
export function identityFiles(): Record<keyof typeof ids, string> {
  if (files !== null) return files;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const out = {} as Record<keyof typeof ids, string>;
  for (const [name, pem] of Object.entries(ids)) {
    const file = path.join(dir, `${name.toLowerCase()}.pem`);
    fs.writeFileSync(file, pem);
    out[name as keyof typeof ids] = file;
  }
  return (files = out);
}

/** serve() with TLS on the reactor under test; every server event is recorded in `events`. */
export async function startTlsServer(
  reactor: Reactor,
  handler: ConnectionHandler,
  tlsOptions: TlsServerOptions = SERVER_TLS,
  options: Omit<ServeOptions, 'reactor' | 'tls'> = {},
): Promise<{ server: Server; port: number; events: ServerEvent[] }> {
  const events: ServerEvent[] = [];
  const started = await startServer(reactor, handler, { ...options, tls: tlsOptions, onEvent: (e) => events.push(e) });
  return { ...started, events };
}

/** The 'tls-client-error' events so far. */
export function clientErrors(events: readonly ServerEvent[]): Error[] {
  return events.flatMap((e) => (e.type === 'tls-client-error' ? [e.error] : []));
}

/** A node:tls client to 127.0.0.1:`port`, resolved once its handshake is done (rejected on an error first). */
export function nodeTlsConnect(port: number, options: tls.ConnectionOptions = {}, ms = 10_000): Promise<{ socket: tls.TLSSocket; received: Received }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca: ids.CA_CERT, servername: 'localhost', ...options });
    const received = new Received(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`node:tls handshake not done within ${ms} ms`));
    }, ms);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ socket, received });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client program (openssl, curl, redis-cli) with `input` on stdin,
 * killed after `ms`. stdin ends at once, or with `endWhen` only once stdout
 * matches it (openssl s_client stops reading the server at stdin's end).
 * A missing program fails saying what to install.
 */
export function runTool(cmd: string, args: string[], input = '', ms = 15_000, endWhen?: RegExp): Promise<ToolResult> {
  requireTool(cmd);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (endWhen !== undefined && endWhen.test(stdout)) child.stdin.end();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (endWhen === undefined) child.stdin.end(input);
    else child.stdin.write(input);
  });
}

/** Skips nothing: fails the test with the tool's output when it did not exit 0. */
export function assertExit0(t: ExecutionContext, result: ToolResult, what: string): void {
  t.is(result.code, 0, `${what} exited ${String(result.code)}: ${result.stderr.slice(-500)}`);
}
