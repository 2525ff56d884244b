/**
 * One kv connection: requests in, replies out, under backpressure.
 *
 * A session parses and answers requests in steps. A step runs when bytes
 * arrive or when the connection drains, and stops when the input holds no
 * complete request, or as soon as the output reaches the connection's
 * high-water mark. Then reading is paused (the kernel's buffers and TCP flow
 * control push back on the client) and the rest of the pipeline, already
 * received, waits for drain$. So a pipeline of 200 GETs of a 1 MB value
 * streams out one value at a time instead of being encoded in one piece,
 * its first bytes leave at once, and other clients are served in between.
 *
 * The common requests are parsed and answered without a Buffer or Reply
 * object per request (RespParser.nextRequest, commands.executeInto): per
 * request, an operator chain would cost more than the command.
 *
 * Like Redis, a protocol error is answered (`-ERR Protocol error: ...`) and
 * the connection closed once that reply is out; QUIT likewise after +OK.
 * Unlike Redis, a request left incomplete for `requestTimeoutMs` (10 s by
 * default) costs the client its connection, so clients dribbling bytes
 * cannot hold connections open for ever; `timeout` closes idle clients as
 * Redis' `timeout` does (off by default, and never for subscribers).
 */
import { type Observable, Subscription } from 'rxjs';
import { Client } from './client';
import { DROP_CONNECTION, execute, executeInto } from './commands';
import type { KvServer } from './context';
import { Output, type Sink } from './output';
import { ErrorReply, RespParser, RespProtocolError, type RespLimits } from './resp';

/** What a session needs of its connection: an rxnet Connection has all of it. */
export interface KvConnection extends Sink {
  readonly data$: Observable<Uint8Array>;
  readonly drain$: Observable<void>;
  readonly closed$: Observable<unknown>;
  /** Totals so far: the idle timeout watches them move. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  pause(): void;
  resume(): void;
  /** FIN once queued output is written. */
  end(): void;
  /** Settles once everything queued so far has been handed to the kernel; rejects if the connection closes first. */
  flushed(): Promise<void>;
  /** Closes at once. */
  close(): void;
  /** Closes with a reset (RST). */
  reset(): void;
}

export interface SessionOptions {
  limits?: Partial<RespLimits>;
  /** CLIENT INFO's addr, laddr and fd. */
  describe?: () => { addr: string; laddr: string; fd: number };
}

/** How long a closing connection may take to deliver its last reply before it is reset. */
const CLOSE_GRACE_MS = 10_000;
/**
 * Once the last reply has left: how long, and how many bytes, what the
 * client still sends is read and dropped before the close (closeAfterReply).
 */
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

/** The session running a step, if any: the shared output slab serves one step at a time. */
let stepping: Session | null = null;

export class Session {
  readonly client: Client;
  private readonly parser: RespParser;
  private readonly out: Output;
  private readonly subscriptions = new Subscription();
  /** Waiting for drain$ to continue. */
  private blocked = false;
  /** Reading paused by us (output pressure or closing). */
  private paused = false;
  /** The peer sent FIN. */
  private inputEnded = false;
  /** QUIT, a protocol error or a dropped request: no more requests are read. */
  private closing = false;
  private closed = false;
  /** The last reply has left: input is read and dropped until the close. */
  private lingering = false;
  private lingered = 0;
  /** Epoch ms since which a request has been incomplete (0: none). */
  incompleteSince = 0;
  /** Idle tracking for the sweeper: bytes moved at the last sweep, and since when unchanged. */
  lastTraffic = -1;
  idleSince = 0;
  /** Epoch ms since which pub/sub output has been above the soft limit (0: not). */
  private softSince = 0;

  constructor(
    readonly conn: KvConnection,
    readonly server: KvServer,
    options: SessionOptions = {},
  ) {
    this.parser = new RespParser(options.limits);
    this.out = new Output(conn);
    const client = (this.client = new Client(server));
    client.push = (delivery) => this.deliver(delivery);
    const describe = options.describe;
    client.connection = () => ({
      ...(describe?.() ?? { addr: '', laddr: '', fd: -1 }),
      queryBuffer: this.parser.buffered,
      outputBytes: this.out.pendingBytes,
      lastInteraction: this.idleSince || Date.now(),
    });
    server.clients.add(client);
    server.stats.connectionsReceived++;
    server.addSession(this);
    this.subscriptions.add(conn.closed$.subscribe(() => this.onClosed()));
    this.subscriptions.add(
      conn.drain$.subscribe(() => {
        if (this.blocked) this.resumeStep();
      }),
    );
    this.subscriptions.add(
      conn.data$.subscribe({
        next: (chunk) => this.onData(chunk),
        // A reset or read error: closed$ follows and cleans up.
        error: () => {},
        complete: () => this.onEnd(),
      }),
    );
  }

  private onData(chunk: Uint8Array): void {
    if (this.lingering) {
      this.lingered += chunk.length;
      if (this.lingered > LINGER_BYTES) this.conn.close();
      return;
    }
    if (this.closing || this.closed) return;
    this.parser.push(chunk);
    this.step();
  }

  private onEnd(): void {
    // The client closed its side after our last reply: nothing to wait for.
    if (this.lingering) return this.conn.close();
    this.inputEnded = true;
    this.step();
  }

  private resumeStep(): void {
    this.step();
  }

  /** Answers what the input holds, as far as the output allows. */
  private step(): void {
    if (this.closed) return;
    if (stepping !== null) {
      // drain$ can fire inside another session's step (a PUBLISH writing to
      // this connection): continue once that step is over. Inside our own
      // step, the running loop already goes on.
      if (stepping !== this) queueMicrotask(() => this.step());
      return;
    }
    stepping = this;
    const out = this.out;
    const parser = this.parser;
    const client = this.client;
    let needInput = false;
    let progressed = false;
    out.begin();
    try {
      if (!out.busy || out.pump()) {
        while (!this.closing && !out.blocked()) {
          const n = parser.nextRequest();
          if (n === 0) {
            needInput = true;
            break;
          }
          progressed = true;
          const reply = n > 0 ? executeInto(client, parser.argData, parser.argOffsets, n, out) : this.run(parser.argList);
          if (reply === DROP_CONNECTION) {
            // Redis' answer to HTTP sent to its port: close now, unanswered requests included.
            out.discard();
            out.end();
            stepping = null;
            this.closing = true;
            this.conn.close();
            return;
          }
          if (client.closeAfterReply) this.closing = true;
        }
      }
    } catch (err) {
      if (err instanceof RespProtocolError) {
        out.reply(new ErrorReply(`ERR ${err.message}`));
        this.closing = true;
      } else {
        // A bug of ours: what was answered so far still goes out, this connection is reset.
        out.end();
        stepping = null;
        process.stderr.write(`kv: ${(err as Error).stack ?? String(err)}\n`);
        this.conn.reset();
        return;
      }
    }
    out.end();
    stepping = null;
    if (this.closed) return;
    if (progressed) this.incompleteSince = 0;
    if (this.closing) return this.closeAfterReply();
    this.blocked = !needInput;
    if (this.blocked) {
      this.setPaused(true);
      return;
    }
    if (this.inputEnded) {
      // Everything received is answered: the peer's FIN gets ours (an incomplete request is dropped).
      this.conn.end();
      return;
    }
    if (parser.buffered > 0 && this.incompleteSince === 0) this.incompleteSince = Date.now();
    this.setPaused(false);
  }

  private run(args: Buffer[]): unknown {
    const reply = execute(this.client, args);
    if (reply !== DROP_CONNECTION) this.out.reply(reply);
    return reply;
  }

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    if (paused) this.conn.pause();
    else this.conn.resume();
  }

  /**
   * Stops reading, sends FIN after the last reply, and closes once it is
   * out (Redis' CLIENT_CLOSE_AFTER_REPLY), after a short linger (below). A
   * peer that does not take the last reply within CLOSE_GRACE_MS is reset.
   */
  private closeAfterReply(): void {
    this.closing = true;
    this.setPaused(true);
    this.conn.end();
    const grace = setTimeout(() => this.conn.reset(), CLOSE_GRACE_MS);
    grace.unref();
    // flushed() settles once the reply (and so the FIN behind it) has been
    // handed to the kernel; it rejects if the connection closes first.
    this.conn
      .flushed()
      .then(
        () => this.linger(),
        () => {},
      )
      .finally(() => clearTimeout(grace));
  }

  /**
   * The last reply and our FIN have left. Closing now, with the client's
   * unread bytes in our receive queue, makes the kernel send a reset at
   * once, and a client that is still writing (Redis' "protocol desync"
   * test) can meet that reset before it has read the reply: its next write
   * fails, and the reply is lost with the socket. So, as nginx's lingering
   * close does: read and drop what the client still sends until it closes
   * its side, for at most LINGER_MS and LINGER_BYTES, then close. Its
   * writes after that meet a reset.
   */
  private linger(): void {
    if (this.closed) return;
    // The client has closed its side already: nothing can meet a reset.
    if (this.inputEnded) return this.conn.close();
    this.lingering = true;
    const timer = setTimeout(() => this.conn.close(), LINGER_MS);
    timer.unref();
    this.subscriptions.add(() => clearTimeout(timer));
    this.setPaused(false);
  }

  /**
   * A pub/sub message for this client. Past the hard output limit, or the
   * soft one for too long, the client is disconnected instead (Redis'
   * client-output-buffer-limit pubsub).
   */
  private deliver(delivery: readonly Uint8Array[]): void {
    if (this.closing || this.closed) return;
    let size = 0;
    for (const chunk of delivery) size += chunk.length;
    const pending = this.out.pendingBytes + size;
    const limits = this.server.pubsubLimits;
    // As in Redis, a limit of 0 is no limit.
    if (limits.hardBytes > 0 && pending > limits.hardBytes) return this.overLimit();
    if (limits.softBytes > 0 && pending > limits.softBytes) {
      const now = Date.now();
      if (this.softSince === 0) this.softSince = now;
      else if (now - this.softSince >= limits.softSeconds * 1000) return this.overLimit();
    } else {
      this.softSince = 0;
    }
    this.out.push(delivery);
  }

  private overLimit(): void {
    this.server.stats.pubsubDisconnects++;
    this.closing = true;
    this.conn.close();
  }

  /** Closes the connection for the server's deadlines (idle timeout, incomplete request). */
  expire(): void {
    if (this.closed) return;
    this.closing = true;
    this.conn.close();
  }

  /** True while the client is subscribed: Redis' timeout spares those. */
  get subscribed(): boolean {
    return this.client.subscribed;
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.release();
    this.server.clients.delete(this.client);
    this.server.removeSession(this);
    this.subscriptions.unsubscribe();
  }
}
