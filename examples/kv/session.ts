/**
 * One kv connection: requests in, replies out, one write per input chunk.
 *
 * Equivalent to
 *   respRequests() → takeWhile(!QUIT, inclusive) → map(encode(execute)) → catchError(protocol error reply)
 * byte for byte on the wire, but the replies to all the requests of one
 * chunk (a pipeline of them, with redis-benchmark -P 16) are encoded into one
 * Buffer and emitted once, and the common requests are parsed and answered
 * without a Buffer or Reply object per request: per request, the operator
 * chain cost more than the command.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { ErrorReply, ReplyWriter, RespParser, RespProtocolError, type RespLimits } from './resp';
import { isQuit, type ClientInfo, type Store } from './store';

/** Shared by every connection: a batch is taken before anything else can run. */
const writer = new ReplyWriter();

/**
 * The replies to a connection's input: one Buffer per chunk that completed
 * at least one request. Completes after answering QUIT (+OK) or after a
 * protocol error's `-ERR Protocol error: ...` reply (serve() then
 * half-closes the connection, as Redis closes it); a request cut off by the
 * end of input is dropped.
 *
 * @example
 * serve(options, (conn) => conn.data$.pipe(kvReplies(store, { id: 1 })));
 */
export function kvReplies(store: Store, client: ClientInfo, limits: Partial<RespLimits> = {}): OperatorFunction<Uint8Array, Buffer> {
  return (source) =>
    new Observable<Buffer>((subscriber) => {
      const parser = new RespParser(limits);
      const offsets = parser.argOffsets;
      return source.subscribe({
        next(chunk) {
          if (subscriber.closed) return;
          parser.push(chunk);
          let last = false;
          try {
            for (;;) {
              const n = parser.nextRequest();
              if (n === 0) break;
              if (n > 0) {
                const data = parser.argData;
                const name = offsets[0];
                // QUIT: answered (+OK), then nothing more is read.
                if (offsets[1] - name === 4 && isQuit([data.subarray(name, name + 4)])) last = true;
                store.executeInto(data, offsets, n, client, writer);
              } else {
                const args = parser.argList;
                if (isQuit(args)) last = true;
                writer.reply(store.execute(args, client));
              }
              if (last) break;
            }
          } catch (err) {
            if (!(err instanceof RespProtocolError)) {
              // A bug of ours: what was answered so far still goes out.
              const answered = writer.take();
              if (answered.length > 0) subscriber.next(answered);
              subscriber.error(err);
              return;
            }
            writer.reply(new ErrorReply(`ERR ${err.message}`));
            last = true;
          }
          const replies = writer.take();
          if (replies.length > 0) subscriber.next(replies);
          if (last) subscriber.complete();
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
