/**
 * Session resumption as third-party clients use it against serve({ tls }):
 * node:tls everywhere; openssl s_client, the reference client (what it
 * prints is what a user sees), where it is installed or required
 * (RXNET_REQUIRE_CLIENTS=1). Verification, ALPN and SNI with a node:tls
 * client are in node-interop.test.ts and sni-alpn-sessions.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import test from 'ava';
import { withClient } from '../helpers/clients';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, Received, stopServer } from '../helpers/streams';
import { assertExit0, identityFiles, ids, runTool, SERVER_TLS, startTlsServer } from '../helpers/tls';

/**
 * One node:tls exchange: connect (resuming `session` if given), echo a
 * line, and keep the last session the server handed out (TLSv1.3 tickets
 * arrive after the handshake, so only once the echo is back are they all in).
 */
async function nodeExchange(port: number, maxVersion: tls.SecureVersion, session?: Buffer): Promise<{ reused: boolean; protocol: string | null; session: Buffer | undefined }> {
  let last: Buffer | undefined;
  const socket = tls.connect({ host: HOST, port, ca: ids.CA_CERT, servername: 'localhost', maxVersion, session });
  socket.on('session', (s: Buffer) => (last = s));
  const received = new Received(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.write('resume me\n');
  await received.until(() => received.text() === 'resume me\n', 'the echo');
  const result = { reused: socket.isSessionReused(), protocol: socket.getProtocol(), session: last };
  socket.end();
  await received.end();
  await received.close();
  return result;
}

test.serial('node:tls resumes sessions: TLSv1.2 (as s_client -reconnect) and TLSv1.3 tickets (as -sess_out/-sess_in)', (t) =>
  withReactor(t, async (reactor) => {
    const reused: boolean[] = [];
    const { server, port } = await startTlsServer(reactor, (conn) => {
      reused.push(conn.tls!.sessionReused);
      return conn.data$;
    });
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const first = await nodeExchange(port, version);
      t.is(first.protocol, version);
      t.false(first.reused);
      t.truthy(first.session, `${version}: the server handed out a session`);
      const second = await nodeExchange(port, version, first.session);
      t.is(second.protocol, version);
      t.true(second.reused, `${version}: the session was resumed`);
    }
    t.deepEqual(reused, [false, true, false, true], 'the handler saw it too');
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

if (withClient('openssl')) test.serial('openssl s_client: verified, with the ALPN and SNI it asked for, and its line echoed', (t) =>
  withReactor(t, async (reactor) => {
    const names: Array<string | false> = [];
    const { server, port } = await startTlsServer(
      reactor,
      (conn) => {
        names.push(conn.tls!.servername);
        return conn.data$;
      },
      { ...SERVER_TLS, ALPNProtocols: ['redis', 'http/1.1'] },
    );
    const files = identityFiles();
    const r = await runTool(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-alpn', 'http/1.1', '-CAfile', files.CA_CERT, '-verify_return_error'],
      'hello from s_client\n',
      15_000,
      /hello from s_client/,
    );
    assertExit0(t, r, 's_client');
    t.regex(r.stdout, /Verify return code: 0 \(ok\)/);
    t.regex(r.stdout, /ALPN protocol: http\/1\.1/);
    t.regex(r.stdout, /New, TLSv1\.3, Cipher is TLS_/);
    t.regex(r.stdout, /hello from s_client/, 'the echo came back');
    t.deepEqual(names, ['localhost']);
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

if (withClient('openssl')) test.serial('openssl s_client reuses sessions: -reconnect with TLSv1.2, -sess_out/-sess_in with TLSv1.3 tickets', (t) =>
  withReactor(t, async (reactor) => {
    const reused: boolean[] = [];
    const { server, port } = await startTlsServer(reactor, (conn) => {
      reused.push(conn.tls!.sessionReused);
      return conn.data$;
    });
    const files = identityFiles();
    const base = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', files.CA_CERT, '-verify_return_error'];
    const r12 = await runTool('openssl', [...base, '-tls1_2', '-reconnect'], '');
    assertExit0(t, r12, 's_client -reconnect');
    const lines = r12.stdout.split('\n').filter((l) => /^(New|Reused), /.test(l));
    t.is(lines.length, 6, r12.stdout.slice(-400));
    t.regex(lines[0], /^New, TLSv1\.2/);
    for (const line of lines.slice(1)) t.regex(line, /^Reused, TLSv1\.2/);

    // TLSv1.3 tickets come after the handshake: keep the first session open
    // until its request has echoed (the tickets came before it), then resume it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-sess-'));
    const sess = path.join(dir, 'session.pem');
    const first = await runTool('openssl', [...base, '-sess_out', sess], 'ticket please\n', 15_000, /ticket please/);
    assertExit0(t, first, 's_client -sess_out');
    t.regex(first.stdout, /New, TLSv1\.3/);
    const second = await runTool('openssl', [...base, '-sess_in', sess], 'again\n', 15_000, /again/);
    assertExit0(t, second, 's_client -sess_in');
    t.regex(second.stdout, /Reused, TLSv1\.3/);
    fs.rmSync(dir, { recursive: true, force: true });
    t.deepEqual(reused.slice(0, 6), [false, true, true, true, true, true]);
    t.deepEqual(reused.slice(6), [false, true]);
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));
