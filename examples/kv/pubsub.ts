/**
 * Publish/subscribe: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE,
 * PUBLISH and PUBSUB, replying in RESP2 exactly as Redis does.
 *
 * A channel is an Observable: subscribing to `hub.channel$(name)` registers
 * the subscriber, unsubscribing removes it, and a client's subscriptions are
 * plain RxJS Subscriptions it drops when it unsubscribes, RESETs or goes
 * away. What flows is the message already encoded as RESP (one Buffer for
 * every subscriber of a channel, the payload by reference), so publishing to
 * N clients encodes once and copies nothing per client.
 *
 * A slow subscriber cannot make the server buffer without bound: its
 * session disconnects it past Redis' client-output-buffer-limit for pub/sub
 * (32 MB at once, or 8 MB for 60 s; see session.ts).
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Client } from './client';
import { globMatch } from './glob';
import { asciiUpper, cmd, container, cstr, Flag, str, type Command } from './registry';
import { ErrorReply, Replies, type Reply } from './resp';

/** A message on its way to one subscriber: RESP bytes, the payload by reference. */
export type Delivery = readonly Uint8Array[];

/** Bulk strings longer than this are referenced, not copied, in encoded messages. */
const INLINE_PAYLOAD = 1024;

const crlf = Buffer.from('\r\n');

/** `$<n>\r\n<text>\r\n` for a latin1 string. */
function bulkText(text: string): string {
  return `$${text.length}\r\n${text}\r\n`;
}

/** RESP for a push message: `head` (latin1 text) followed by the payload as a bulk string. */
function encodeMessage(head: string, payload: Buffer): Delivery {
  const header = `${head}$${payload.length}\r\n`;
  if (payload.length <= INLINE_PAYLOAD) return [Buffer.concat([Buffer.from(header, 'latin1'), payload, crlf])];
  return [Buffer.from(header, 'latin1'), payload, crlf];
}

/** The server's channels and patterns, and who listens to each. */
export class PubSub {
  private readonly channels = new Map<string, Set<Subscriber<Delivery>>>();
  private readonly patterns = new Map<string, Set<Subscriber<Delivery>>>();

  /** Messages published to `channel` (latin1), while subscribed. */
  channel$(channel: string): Observable<Delivery> {
    return this.listen(this.channels, channel);
  }

  /** Messages published to any channel matching the glob `pattern`, while subscribed. */
  pattern$(pattern: string): Observable<Delivery> {
    return this.listen(this.patterns, pattern);
  }

  /**
   * Sends `message` to the channel's subscribers, then to each matching
   * pattern's. @returns how many deliveries were made (Redis' PUBLISH reply).
   */
  publish(channel: string, message: Buffer): number {
    let receivers = 0;
    const direct = this.channels.get(channel);
    if (direct !== undefined) {
      const delivery = encodeMessage(`*3\r\n$7\r\nmessage\r\n${bulkText(channel)}`, message);
      for (const s of [...direct]) {
        s.next(delivery);
        receivers++;
      }
    }
    if (this.patterns.size > 0) {
      const channelBytes = Buffer.from(channel, 'latin1');
      for (const [pattern, subscribers] of [...this.patterns]) {
        if (!globMatch(Buffer.from(pattern, 'latin1'), channelBytes)) continue;
        const delivery = encodeMessage(`*4\r\n$8\r\npmessage\r\n${bulkText(pattern)}${bulkText(channel)}`, message);
        for (const s of [...subscribers]) {
          s.next(delivery);
          receivers++;
        }
      }
    }
    return receivers;
  }

  /** Channels with at least one subscriber, optionally those matching a glob (PUBSUB CHANNELS). */
  activeChannels(pattern: Buffer | null): string[] {
    const names = [...this.channels.keys()];
    return pattern === null ? names : names.filter((c) => globMatch(pattern, Buffer.from(c, 'latin1')));
  }

  subscriberCount(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  /** Patterns with at least one subscriber (PUBSUB NUMPAT). */
  get patternCount(): number {
    return this.patterns.size;
  }

  private listen(table: Map<string, Set<Subscriber<Delivery>>>, name: string): Observable<Delivery> {
    return new Observable<Delivery>((subscriber) => {
      let set = table.get(name);
      if (set === undefined) table.set(name, (set = new Set()));
      set.add(subscriber);
      return () => {
        set.delete(subscriber);
        if (set.size === 0 && table.get(name) === set) table.delete(name);
      };
    });
  }
}

// ---- commands ----------------------------------------------------------------

const GROUP = 'pubsub';

/** `*3 $<kind> $<name> :<count>`, one per (un)subscription; a null name for "none". */
function confirmation(kind: string, name: string | null, count: number): Reply {
  return [kind, name, count];
}

function subscribe(c: Client, args: Buffer[], patterns: boolean): Reply {
  const hub = c.server.hub;
  const replies: Reply[] = [];
  for (let i = 1; i < args.length; i++) {
    const name = str(args[i]);
    const table = patterns ? c.patterns : c.channels;
    if (!table.has(name)) {
      const source = patterns ? hub.pattern$(name) : hub.channel$(name);
      table.set(name, source.subscribe((delivery) => c.push(delivery)));
    }
    replies.push(confirmation(patterns ? 'psubscribe' : 'subscribe', name, c.subscriptionCount));
  }
  c.subscribed = true;
  return new Replies(replies);
}

function unsubscribe(c: Client, args: Buffer[], patterns: boolean): Reply {
  const table = patterns ? c.patterns : c.channels;
  const kind = patterns ? 'punsubscribe' : 'unsubscribe';
  const replies: Reply[] = [];
  const names = args.length > 1 ? args.slice(1).map(str) : [...table.keys()];
  for (const name of names) {
    const subscription = table.get(name);
    if (subscription !== undefined) {
      subscription.unsubscribe();
      table.delete(name);
    }
    replies.push(confirmation(kind, name, c.subscriptionCount));
  }
  if (args.length === 1 && names.length === 0) replies.push(confirmation(kind, null, c.subscriptionCount));
  if (c.subscriptionCount === 0) c.subscribed = false;
  return new Replies(replies);
}

const SUBSCRIBE_FLAGS = Flag.PubSub | Flag.NoScript | Flag.Loading | Flag.Stale | Flag.PubSubOk;

export const PUBSUB_COMMANDS: Command[] = [
  cmd('subscribe', { arity: -2, flags: SUBSCRIBE_FLAGS, group: GROUP, summary: 'Listens for messages published to channels.', run: (c, args) => subscribe(c, args, false) }),
  cmd('psubscribe', { arity: -2, flags: SUBSCRIBE_FLAGS, group: GROUP, summary: 'Listens for messages published to channels matching patterns.', run: (c, args) => subscribe(c, args, true) }),
  cmd('unsubscribe', { arity: -1, flags: SUBSCRIBE_FLAGS, group: GROUP, summary: 'Stops listening to channels (all of them without arguments).', run: (c, args) => unsubscribe(c, args, false) }),
  cmd('punsubscribe', { arity: -1, flags: SUBSCRIBE_FLAGS, group: GROUP, summary: 'Stops listening to patterns (all of them without arguments).', run: (c, args) => unsubscribe(c, args, true) }),
  cmd('publish', {
    arity: 3,
    flags: Flag.PubSub | Flag.Loading | Flag.Stale | Flag.Fast,
    group: GROUP,
    summary: 'Posts a message to a channel; replies with the number of deliveries.',
    // The payload is a view of the request: copy it, subscribers may queue it.
    run: (c, args) => c.server.hub.publish(str(args[1]), Buffer.from(args[2])),
  }),
  container('pubsub', GROUP, 'Inspects the state of pub/sub.', [
    ['channels', { arity: -2, flags: Flag.PubSub | Flag.Loading | Flag.Stale, summary: 'Active channels, optionally matching a pattern.', group: GROUP, run: (c, args) => (args.length > 3 ? pubsubSyntax(args) : c.server.hub.activeChannels(args[2] ?? null)) }],
    [
      'numsub',
      {
        arity: -2,
        flags: Flag.PubSub | Flag.Loading | Flag.Stale,
        summary: 'Subscriber counts of channels.',
        group: GROUP,
        run: (c, args) => args.slice(2).flatMap((ch) => [ch, c.server.hub.subscriberCount(str(ch))]),
      },
    ],
    ['numpat', { arity: 2, flags: Flag.PubSub | Flag.Loading | Flag.Stale, summary: 'Number of patterns subscribed to.', group: GROUP, run: (c) => c.server.hub.patternCount }],
  ]),
];

/** PUBSUB CHANNELS with too many arguments: Redis' addReplySubcommandSyntaxError. */
function pubsubSyntax(args: Buffer[]): Reply {
  return new ErrorReply(`ERR unknown subcommand or wrong number of arguments for '${cstr(args[1], 128)}'. Try ${asciiUpper(cstr(args[0]))} HELP.`);
}
