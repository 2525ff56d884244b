/** Small socket helpers shared by the tests (mio's tests/util). */
import * as net from 'node:net';
import { firstValueFrom, timeout, type Observable } from 'rxjs';
import { sys } from '../../index';

/** A listening TCP socket on 127.0.0.1 with an ephemeral port. */
export function listener(backlog = 511): { fd: number; port: number } {
  const fd = sys.socket('ipv4', 'stream');
  sys.setsockopt(fd, 'SO_REUSEADDR', true);
  sys.bind(fd, { address: '127.0.0.1', port: 0 });
  sys.listen(fd, backlog);
  return { fd, port: sys.getsockname(fd).port };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export function closedPort(): number {
  const fd = sys.socket('ipv4', 'stream');
  sys.bind(fd, { address: '127.0.0.1', port: 0 });
  const { port } = sys.getsockname(fd);
  sys.close(fd);
  return port;
}

/** A connected node:net client. */
export function client(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Destroys a node:net socket and waits until its fd is closed. */
export function destroy(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) return resolve();
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

/** Accepts one pending connection, waiting for it with the reactor if needed. */
export async function acceptOne(
  watch: (fd: number) => Observable<number>,
  lfd: number,
): Promise<number> {
  for (;;) {
    const fd = sys.accept(lfd);
    if (fd >= 0) return fd;
    if (fd !== sys.EAGAIN) throw sys.errnoException(fd, 'accept');
    await first(watch(lfd));
  }
}

/** The first emission, or an error after `ms`. */
export function first<T>(source: Observable<T>, ms = 5000): Promise<T> {
  return firstValueFrom(source.pipe(timeout(ms)));
}

/** A connected pair of non-blocking stream sockets made with sys (via a listener). */
export async function socketPair(watch: (fd: number) => Observable<number>): Promise<[number, number]> {
  const l = listener();
  const a = sys.socket('ipv4', 'stream');
  sys.connect(a, { address: '127.0.0.1', port: l.port });
  const b = await acceptOne(watch, l.fd);
  sys.close(l.fd);
  return [a, b];
}
