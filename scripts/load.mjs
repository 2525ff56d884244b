#!/usr/bin/env node
// A small load generator for profiling and smoke tests, bounded in time and
// count, loopback only: `node scripts/load.mjs <mode> <port> [seconds] [connections]`.
// Modes: echo (bytes over TCP), resp (pipelined PING/SET/GET), chat (lines),
// udp (datagrams, waits for each echo), dns (A queries over UDP), http (GET /).
import * as net from 'node:net';
import * as dgram from 'node:dgram';

const [mode, portArg, secondsArg = '10', connsArg = '20'] = process.argv.slice(2);
const port = Number(portArg);
const seconds = Number(secondsArg);
const conns = Number(connsArg);
if (!mode || !Number.isInteger(port) || port <= 0) {
  console.error('usage: load.mjs <echo|resp|chat|udp|dns|http> <port> [seconds] [connections]');
  process.exit(2);
}
const HOST = '127.0.0.1';
const deadline = Date.now() + seconds * 1000;
const MAX_REQUESTS = 50_000_000;
let requests = 0;

function tcpLoop(payload, isComplete) {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    let pending = 0;
    const send = () => {
      if (Date.now() > deadline || requests >= MAX_REQUESTS) return socket.end();
      pending = 0;
      socket.write(payload);
    };
    socket.on('connect', send);
    socket.on('data', (d) => {
      pending += d.length;
      if (isComplete(pending)) {
        requests++;
        send();
      }
    });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

function udpLoop(payload) {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const send = () => {
      if (Date.now() > deadline || requests >= MAX_REQUESTS) {
        socket.close();
        return resolve();
      }
      socket.send(payload, port, HOST);
    };
    socket.on('message', () => {
      requests++;
      send();
    });
    // A lost datagram must not stall the loop.
    const retry = setInterval(send, 200);
    socket.on('close', () => clearInterval(retry));
    send();
  });
}

function dnsQuery(id) {
  const name = ['www', 'example', 'test'];
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name) parts.push(Buffer.from([label.length]), Buffer.from(label));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

const pipeline = Buffer.from('*1\r\n$4\r\nPING\r\n'.repeat(16));
const loops = [];
for (let i = 0; i < conns; i++) {
  switch (mode) {
    case 'echo': {
      const payload = Buffer.alloc(64, 'x');
      loops.push(tcpLoop(payload, (n) => n >= payload.length));
      break;
    }
    case 'chat':
      loops.push(tcpLoop(Buffer.from(`hello from ${i}\n`), () => true));
      break;
    case 'resp':
      loops.push(tcpLoop(pipeline, (n) => n >= 16 * 7)); // 16 x "+PONG\r\n"
      break;
    case 'http':
      loops.push(tcpLoop(Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`), (n) => n > 0));
      break;
    case 'udp':
      loops.push(udpLoop(Buffer.alloc(64, 'u')));
      break;
    case 'dns':
      loops.push(udpLoop(dnsQuery(i)));
      break;
    default:
      console.error(`unknown mode ${mode}`);
      process.exit(2);
  }
}
await Promise.all(loops);
console.log(`load: ${mode} ${requests} requests in ${seconds}s over ${conns} connections`);
