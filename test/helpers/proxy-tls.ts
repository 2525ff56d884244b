/**
 * Clients that speak TLS behind a PROXY header, as HAProxy in `mode tcp`
 * with `send-proxy-v2` does: a raw node:net socket sends the header in the
 * clear, then node:tls runs over the same socket.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { delay } from './leaks';
import { HOST, receive, type Received } from './streams';
import { ids } from './tls';

/**
 * The socket node:tls writes through: passes bytes both ways, and puts
 * `prefix` in front of the first chunk written (the ClientHello), so that
 * header and ClientHello leave in ONE send, one segment.
 */
export class PrefixedSocket extends Duplex {
  constructor(
    private readonly raw: net.Socket,
    private prefix: Buffer | null,
  ) {
    super();
    raw.on('data', (d: Buffer) => {
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (err) => this.destroy(err));
    raw.on('close', () => this.destroy());
  }
  override _read(): void {
    this.raw.resume();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const bytes = this.prefix === null ? chunk : Buffer.concat([this.prefix, chunk]);
    this.prefix = null;
    this.raw.write(bytes, callback);
  }
  override _final(callback: () => void): void {
    this.raw.end(callback);
  }
  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.raw.destroy();
    callback(error);
  }
}

export async function connected(port: number): Promise<net.Socket> {
  const raw = net.connect(port, HOST);
  raw.setNoDelay(true);
  // A refused connection is reset, maybe before node reports it connected.
  raw.on('error', () => {});
  await new Promise<void>((resolve) => {
    raw.once('connect', resolve);
    raw.once('close', resolve);
  });
  return raw;
}

/**
 * node:tls over a raw node:net socket that first sends `header` in the
 * clear: 'one-write' in the same send as the ClientHello, 'dribbled' a
 * byte at a time (a pause after each) before the handshake starts.
 */
export async function tlsBehindHeader(
  port: number,
  header: Buffer,
  mode: 'one-write' | 'dribbled',
  options: tls.ConnectionOptions = {},
): Promise<{ socket: tls.TLSSocket; received: Received; raw: net.Socket }> {
  const raw = await connected(port);
  if (mode === 'dribbled') {
    for (const byte of header) {
      raw.write(Buffer.from([byte]));
      await delay(2);
    }
  }
  const base = { ca: ids.CA_CERT, servername: 'localhost', ...options };
  const socket = mode === 'one-write' ? tls.connect({ ...base, socket: new PrefixedSocket(raw, header) }) : tls.connect({ ...base, socket: raw });
  const received = receive(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return { socket, received, raw };
}

