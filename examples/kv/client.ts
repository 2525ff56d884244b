/**
 * One client's command state, apart from its socket: what MULTI queued,
 * which keys it WATCHes, its pub/sub subscriptions, its name. Sessions own
 * one each; unit tests make them without a connection.
 */
import type { Subscription } from 'rxjs';
import type { KvServer } from './context';
import type { Store, Watcher, WatchedKey } from './store';

/** What CLIENT INFO / CLIENT LIST report about the connection, supplied by its session. */
export interface ConnectionInfo {
  addr: string;
  laddr: string;
  fd: number;
  /** Bytes received and not yet parsed into a request. */
  queryBuffer: number;
  /** Bytes of replies waiting to be sent. */
  outputBytes: number;
  /** Epoch ms of the last byte read or written. */
  lastInteraction: number;
}

export class Client implements Watcher {
  readonly id: number;
  readonly createdAt = Date.now();
  /** CLIENT SETNAME's name; null when unnamed. */
  name: string | null = null;
  /** Commands queued by MULTI (arguments copied), or null outside a transaction. */
  multi: Buffer[][] | null = null;
  /** A command was refused while queuing: EXEC will abort (Redis' CLIENT_DIRTY_EXEC). */
  multiFailed = false;
  /** A watched key changed: EXEC will return nil (Redis' CLIENT_DIRTY_CAS). */
  dirtyCas = false;
  watches: WatchedKey[] = [];
  /** Pub/sub subscriptions by channel and by pattern, in subscription order. */
  readonly channels = new Map<string, Subscription>();
  readonly patterns = new Map<string, Subscription>();
  /** Redis' CLIENT_PUBSUB: only pub/sub commands, PING, QUIT and RESET are accepted. */
  subscribed = false;
  /** QUIT: close once the reply is written. */
  closeAfterReply = false;
  /** The last command run, for CLIENT INFO's cmd= field. */
  lastCommand = 'NULL';
  /** Where pub/sub messages for this client go (its session's output). */
  push: (chunks: readonly Uint8Array[]) => void = () => {};
  /** The connection's side of CLIENT INFO, when there is one. */
  connection: (() => ConnectionInfo) | null = null;

  /** The keyspace (server.store), one load away for the hot path. */
  readonly store: Store;

  constructor(readonly server: KvServer) {
    this.id = server.nextClientId();
    this.store = server.store;
  }

  /** True when GET and SET may take the fast path: no transaction, not subscribed. */
  get plain(): boolean {
    return this.multi === null && !this.subscribed;
  }

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }

  /** A watched key changed (Watcher): the transaction fails, and nothing is watched any more. */
  touched(): void {
    this.dirtyCas = true;
    this.unwatchAll();
  }

  watch(key: string): void {
    if (this.watches.some((w) => w.key === key)) return;
    this.watches.push(this.server.store.watch(key, this));
  }

  unwatchAll(): void {
    if (this.watches.length === 0) return;
    for (const w of this.watches) this.server.store.unwatch(w);
    this.watches = [];
  }

  /** Ends MULTI: the queue, its failure flag and every watch go (Redis' discardTransaction). */
  discardTransaction(): void {
    this.multi = null;
    this.multiFailed = false;
    this.dirtyCas = false;
    this.unwatchAll();
  }

  /** Drops every subscription (the connection closed, or RESET). */
  unsubscribeAll(): void {
    for (const s of this.channels.values()) s.unsubscribe();
    for (const s of this.patterns.values()) s.unsubscribe();
    this.channels.clear();
    this.patterns.clear();
    this.subscribed = false;
  }

  /** Everything this client holds in shared structures: called when its connection closes. */
  release(): void {
    this.discardTransaction();
    this.unsubscribeAll();
  }
}
