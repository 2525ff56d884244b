/** node:dgram clients and rxnet udp() sockets as promises, for the UDP suites. */
import * as dgram from 'node:dgram';
import type { Subscription } from 'rxjs';
import { udp, type Reactor, type UdpOptions, type UdpSocket } from '../../index';

/** Subscribes udp() and resolves with the bound socket and the subscription that owns it. */
export async function bindUdp(reactor: Reactor, options: Omit<UdpOptions, 'reactor'> = {}): Promise<{ socket: UdpSocket; owner: Subscription }> {
  let owner!: Subscription;
  const socket = await new Promise<UdpSocket>((resolve, reject) => {
    owner = udp({ host: '127.0.0.1', ...options, reactor }).subscribe({ next: resolve, error: reject });
  });
  return { socket, owner };
}

/** A bound node:dgram socket that records what it receives. */
export interface DgramClient {
  socket: dgram.Socket;
  port: number;
  received: Array<{ data: Buffer; address: string; port: number }>;
  send(data: Uint8Array | string, port: number, address?: string): Promise<void>;
  close(): Promise<void>;
}

export async function dgramClient(type: 'udp4' | 'udp6' = 'udp4'): Promise<DgramClient> {
  const socket = dgram.createSocket(type);
  const received: DgramClient['received'] = [];
  socket.on('message', (data, rinfo) => received.push({ data, address: rinfo.address, port: rinfo.port }));
  const host = type === 'udp6' ? '::1' : '127.0.0.1';
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  return {
    socket,
    port: socket.address().port,
    received,
    send: (data, port, address = host) =>
      new Promise<void>((resolve, reject) => socket.send(data, port, address, (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
