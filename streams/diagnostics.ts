/**
 * diagnostics_channel events, named and shaped like node:net's where it has
 * them (`net.client.socket`, `net.server.socket`, the `net.server.listen`
 * tracing channel), so APM and logging tools that already listen to
 * node:net need only the prefix changed:
 *
 * - `rxnet.client.socket` — `{ socket }`: a connect() connection, once established.
 * - `rxnet.server.socket` — `{ socket }`: a connection a listener accepted,
 *   after serve()'s handler (or listen()'s subscriber) got it.
 * - `rxnet.socket.close` — `{ socket, error? }`: a connection closed (node:net
 *   has no such channel; this is its 'close' event).
 * - `tracing:rxnet.server.listen:asyncStart` — `{ server, options }`, then
 *   `:asyncEnd` — `{ server, address }` once listening, or `:error` —
 *   `{ server, error }`. `server` is the Server of serve(), or the observable
 *   listen() returned.
 * - `rxnet.server.close` — `{ server, address }`: a listening socket closed.
 *
 * Publishing costs one `hasSubscribers` check when nobody listens.
 *
 * @example
 * import diagnostics_channel from 'node:diagnostics_channel';
 * diagnostics_channel.subscribe('rxnet.server.socket', ({ socket }) => log.info('accepted', socket.remote));
 */
import * as dc from 'node:diagnostics_channel';

/** @internal */
export const clientSocketChannel = dc.channel('rxnet.client.socket');
/** @internal */
export const serverSocketChannel = dc.channel('rxnet.server.socket');
/** @internal */
export const socketCloseChannel = dc.channel('rxnet.socket.close');
/** @internal */
export const serverListenChannel = dc.tracingChannel('rxnet.server.listen');
/** @internal */
export const serverCloseChannel = dc.channel('rxnet.server.close');
