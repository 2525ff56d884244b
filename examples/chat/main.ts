/**
 * Line-based chat: `nc 127.0.0.1 7002`, then type. See room.ts for the
 * commands.
 *
 *   node dist/examples/chat/main.js [--host 127.0.0.1] [--port 7002] [--backend epoll] [--max-queue BYTES]
 *
 * A slow reader must not slow the room, so a member who does not keep up is
 * DISCONNECTED (IRC's "SendQ exceeded"), not waited for: once more than
 * --max-queue bytes (default 1 MiB) wait to be sent to it, rxnet's
 * maxBufferedBytes closes that connection with ERR_RXNET_MAX_BUFFERED_BYTES
 * and the others see "* NAME left (too slow: ...)". Dropping messages
 * instead would keep the member but silently falsify the conversation.
 *
 * The cap counts bytes not yet flushed, and writes made during one reactor
 * wakeup are flushed together at its end, so it must exceed what one wakeup
 * can queue for a member, or a burst would cut off a member who reads fine:
 * a sender is read at most 64 KiB per wakeup, hence the 128 KiB floor.
 */
import { catchError, ignoreElements } from 'rxjs';
import { lines, serve, type Connection } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';
import { ChatRoom, MAX_LINE, type Peer } from './room';

const { host, port, reactor, extra } = exampleArgs('chat', { port: 7002 }, ['max-queue']);
const maxQueue = Number(extra['max-queue'] ?? 1024 * 1024);
if (!Number.isInteger(maxQueue) || maxQueue < 128 * 1024) {
  process.stderr.write(`chat: --max-queue must be an integer >= 131072, got ${extra['max-queue']}\n`);
  process.exit(2);
}

const room = new ChatRoom();

/** The connection as the room sees it; nothing is written after its end. */
function peerOf(conn: Connection): Peer {
  let ended = false;
  return {
    send: (line) => {
      if (!ended) conn.write(`${line}\n`);
    },
    end: (line) => {
      if (ended) return;
      ended = true;
      conn.end(line === undefined ? undefined : `${line}\n`);
    },
  };
}

function reason(err: { code?: string; message: string }): string {
  if (err.code === 'ERR_RXNET_MAX_BUFFERED_BYTES') return `too slow: over ${maxQueue} bytes waiting to be sent`;
  return err.code ?? err.message;
}

const server = serve({ host, port, reactor, maxBufferedBytes: maxQueue }, (conn) => {
  const peer = peerOf(conn);
  const member = room.join(peer);
  conn.data$
    .pipe(
      lines({ maxLength: MAX_LINE }),
      catchError((err: Error & { code?: string }) => {
        if (err.code !== 'ERR_RXNET_FRAME_TOO_LONG') throw err;
        room.leave(member, 'line too long');
        peer.end(`error: line too long (max ${MAX_LINE} bytes), bye`);
        // Keep reading, discarding, until the client's FIN, so the
        // connection closes instead of lingering half-open.
        return conn.data$.pipe(ignoreElements());
      }),
    )
    .subscribe({
      next: (line) => room.input(member, line),
      error: (err: Error & { code?: string }) => room.leave(member, reason(err)),
      complete: () => {
        room.leave(member);
        peer.end();
      },
    });
});

server.listening.then(announce, (err: Error) => {
  process.stderr.write(`chat: ${err.message}\n`);
  process.exitCode = 1;
});
onSignals(async () => {
  // Say goodbye and half-close everyone first: the server's shutdown only
  // half-closes connections with no input waiting for an answer, and chat
  // lines get no answer.
  room.close();
  await server.shutdown({ timeoutMs: 2000 });
});
