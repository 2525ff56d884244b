/**
 * What every connection of one kv server shares: the keyspace, the pub/sub
 * hub, the clients (for CLIENT LIST and INFO), settings and counters.
 */
import type { Client } from './client';
import { PubSub } from './pubsub';
import type { Session } from './session';
import { Store, type StoreOptions } from './store';

/** Redis' client-output-buffer-limit for pub/sub clients. */
export interface PubSubLimits {
  /** Disconnect at once past this many bytes waiting (Redis: 32 MB). */
  hardBytes: number;
  /** Disconnect after `softSeconds` continuously past this many (Redis: 8 MB for 60 s). */
  softBytes: number;
  softSeconds: number;
}

export interface KvServerOptions extends StoreOptions {
  /** Close clients idle this many seconds (Redis' `timeout`); 0 = never (the default, as Redis). */
  timeout?: number;
  /** Close a client whose request stays incomplete this many ms; 0 = never. */
  requestTimeoutMs?: number;
  pubsubLimits?: Partial<PubSubLimits>;
  /** The TCP port, for INFO. */
  port?: number;
  /** The reactor backend, for INFO's multiplexing_api. */
  backend?: string;
}

export const DEFAULT_PUBSUB_LIMITS: Readonly<PubSubLimits> = Object.freeze({ hardBytes: 32 * 1024 * 1024, softBytes: 8 * 1024 * 1024, softSeconds: 60 });

/** Redis has no deadline for a request sent too slowly; ours is 10 s (see session.ts). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export class KvServer {
  readonly store: Store;
  readonly hub = new PubSub();
  readonly clients = new Set<Client>();
  readonly startedAt = Date.now();
  readonly pubsubLimits: PubSubLimits;
  /** Idle timeout in seconds (CONFIG SET timeout changes it). */
  timeout: number;
  requestTimeoutMs: number;
  /** The TCP port, for INFO and CONFIG GET (set once listening). */
  port: number;
  readonly backend: string;
  readonly stats = { connectionsReceived: 0, commandsProcessed: 0, pubsubDisconnects: 0, timeouts: 0 };
  private lastClientId = 0;
  private readonly sessions = new Set<Session>();
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(options: KvServerOptions = {}) {
    this.store = new Store(options);
    this.timeout = options.timeout ?? 0;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.pubsubLimits = { ...DEFAULT_PUBSUB_LIMITS, ...options.pubsubLimits };
    this.port = options.port ?? 0;
    this.backend = options.backend ?? 'rxnet';
  }

  nextClientId(): number {
    return ++this.lastClientId;
  }

  /** A session started: the deadline sweeper runs while there are any. */
  addSession(session: Session): void {
    this.sessions.add(session);
    if (this.sweepTimer === null) this.scheduleSweep();
  }

  removeSession(session: Session): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0 && this.sweepTimer !== null) {
      clearTimeout(this.sweepTimer);
      this.sweepTimer = null;
    }
  }

  /**
   * The deadlines, on one coarse timer for all connections (a quarter of
   * the shortest deadline, 5 ms to 1 s), not one timer per connection: a
   * request incomplete for requestTimeoutMs, and with `timeout` set a
   * client that moved no bytes for that many seconds (subscribers excepted,
   * as in Redis), lose their connection.
   */
  private sweep(): void {
    const now = Date.now();
    for (const session of this.sessions) {
      const traffic = session.conn.bytesRead + session.conn.bytesWritten;
      if (traffic !== session.lastTraffic) {
        session.lastTraffic = traffic;
        session.idleSince = now;
      }
      const incomplete = this.requestTimeoutMs > 0 && session.incompleteSince > 0 && now - session.incompleteSince >= this.requestTimeoutMs;
      const idle = this.timeout > 0 && !session.subscribed && now - session.idleSince >= this.timeout * 1000;
      if (incomplete || idle) {
        this.stats.timeouts++;
        session.expire();
      }
    }
    if (this.sessions.size > 0) this.scheduleSweep();
    else this.sweepTimer = null;
  }

  private scheduleSweep(): void {
    let shortest = Infinity;
    if (this.requestTimeoutMs > 0) shortest = this.requestTimeoutMs;
    if (this.timeout > 0) shortest = Math.min(shortest, this.timeout * 1000);
    const period = Number.isFinite(shortest) ? Math.max(5, Math.min(1000, Math.floor(shortest / 4))) : 1000;
    this.sweepTimer = setTimeout(() => this.sweep(), period);
    // Connections keep the process alive; the sweeper need not.
    this.sweepTimer.unref();
  }
}
