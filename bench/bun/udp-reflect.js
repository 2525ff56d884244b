// A sockperf-compatible UDP reflector on Bun.udpSocket (the same logic as
// bench/servers/udp-reflect.ts): reply only to datagrams with sockperf's
// pong-request bit (0x2) in the big-endian flags at offset 8, after clearing
// the client bit (0x1).   bun bench/bun/udp-reflect.js [PORT]
const socket = await Bun.udpSocket({
  hostname: '127.0.0.1',
  port: Number(process.argv[2] ?? 0),
  socket: {
    data(sock, buf, port, addr) {
      if (buf.length < 14) return;
      const flags = (buf[8] << 8) | buf[9];
      if (!(flags & 0x2)) return;
      const out = Buffer.from(buf);
      out.writeUInt16BE(flags & ~0x1, 8);
      sock.send(out, port, addr);
    },
  },
});
console.log(`listening on 127.0.0.1:${socket.port} (Bun.udpSocket ${Bun.version})`);
const stop = () => {
  socket.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
