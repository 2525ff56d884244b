/**
 * Line-based chat: `nc 127.0.0.1 7002`, then type. See room.ts for the
 * commands.
 *
 *   node dist/examples/chat/main.js [--host 127.0.0.1] [--port 7002] [--backend epoll] [--max-queue BYTES]
 *        [--idle-timeout MS]
 *
 * A member who says nothing (no complete line with something in it) for
 * --idle-timeout ms (default 600000, ten minutes; 0 = never) is told so and
 * disconnected. Only whole lines count, so a peer dribbling a byte at a time,
 * or sending empty lines, cannot hold its connection; a person who reads for
 * a while without typing can. The room sends no pings, so the timeout must
 * be long enough for reading; dead peers and dribblers are held at most
 * that long. (IRC servers disconnect after a few minutes without a reply to
 * their PING, which clients send automatically.)
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
import { announce, exampleArgs, msFlag, onSignals } from '../common/cli';
import { ChatRoom, MAX_LINE, type Peer } from './room';

const { host, port, reactor, extra } = exampleArgs('chat', { port: 7002 }, ['max-queue', 'idle-timeout']);
const idleTimeout = msFlag('chat', 'idle-timeout', extra['idle-timeout'], 600_000);
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

/**
 * Tells an idle member why and disconnects it: FIN after the notice, then a
 * full close once the notice has left (the peer may be dribbling and never
 * send the FIN a half-close would wait for).
 */
function dropIdle(conn: Connection, peer: Peer): void {
  // Ended long ago (/quit, a line too long), and the peer never closed its side.
  if (conn.writableEnded) return conn.close();
  peer.send(`* nothing said for ${idleTimeout / 1000} s, bye`);
  const sent = conn.flushed();
  peer.end();
  sent.then(
    () => conn.close(),
    () => {}, // closed already
  );
}

const server = serve({ host, port, reactor, maxBufferedBytes: maxQueue }, (conn) => {
  const peer = peerOf(conn);
  const member = room.join(peer);
  let idle: NodeJS.Timeout | null = null;
  if (idleTimeout > 0) {
    idle = setTimeout(() => {
      room.leave(member, 'idle');
      dropIdle(conn, peer);
    }, idleTimeout);
    idle.unref();
    conn.closed$.subscribe(() => clearTimeout(idle!));
  }
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
      next: (line) => {
        if (room.input(member, line)) idle?.refresh();
      },
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
