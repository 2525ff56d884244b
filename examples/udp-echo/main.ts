/**
 * UDP echo: every datagram goes back to its sender.
 *
 *   node dist/examples/udp-echo/main.js [--host 127.0.0.1] [--port 7001] [--backend epoll]
 *   nc -u 127.0.0.1 7001
 *
 * Datagrams arrive in batches (recvmmsg) and the replies queued during one
 * batch leave in one sendmmsg. When the send queue is full a reply is
 * dropped, as the network itself may drop it: UDP promises nothing more.
 */
import { Subscription, switchMap, tap } from 'rxjs';
import { udp } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';

const { host, port, reactor } = exampleArgs('udp-echo', { port: 7001 });

// UDP has no connections to drain: closing the socket is the whole
// shutdown. The handler goes in first: binding an IP literal is synchronous,
// so the listening line (which tests answer with a signal at once) is
// printed from inside subscribe().
const running = new Subscription();
onSignals(async () => running.unsubscribe());

running.add(
  udp({ host, port, reactor })
    .pipe(
      tap((socket) => announce(socket.address)),
      switchMap((socket) => socket.messages$.pipe(tap((m) => socket.send(m.data, m.port, m.address)))),
    )
    .subscribe({
      error: (err: Error) => {
        process.stderr.write(`udp-echo: ${err.message}\n`);
        process.exitCode = 1;
      },
    }),
);
