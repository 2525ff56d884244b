// Bun.listen echo server, the peer a user leaving Node picks for fast sockets.
// Run by bench/streams.ts with the binary of the optional devDependency
// @oven/bun-linux-x64:  bun bench/bun/echo.js [PORT]
// Prints `listening on 127.0.0.1:PORT`; exits 0 on SIGTERM/SIGINT.
// What socket.write() does not take waits for drain, in order.
const server = Bun.listen({
  hostname: '127.0.0.1',
  port: Number(process.argv[2] ?? 0),
  socket: {
    data(socket, data) {
      if (socket.data) {
        socket.data = Buffer.concat([socket.data, data]);
        return;
      }
      const n = socket.write(data);
      if (n < data.length) socket.data = data.subarray(n);
    },
    drain(socket) {
      const rest = socket.data;
      if (!rest) return;
      const n = socket.write(rest);
      socket.data = n < rest.length ? rest.subarray(n) : undefined;
    },
    open(socket) {
      socket.data = undefined;
    },
  },
});
console.log(`listening on 127.0.0.1:${server.port} (Bun.listen ${Bun.version})`);
const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
