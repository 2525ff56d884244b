/**
 * The command table and the dispatcher: Redis 7.0's processCommand order of
 * checks (unknown command, arity, pub/sub context, MULTI queuing), then the
 * command. The GET and SET that clients mostly send are answered straight
 * from the request bytes (see {@link executeInto}).
 */
import * as os from 'node:os';
import type { Client } from './client';
import { globMatch } from './glob';
import { KEYSPACE_COMMANDS } from './keyspace';
import type { Output } from './output';
import { PUBSUB_COMMANDS } from './pubsub';
import { asciiUpper, cmd, container, cstr, EXEC_ABORT, Flag, is, lower, parseInt64, str, SYNTAX, wrongArity, type Command } from './registry';
import { ErrorReply, latin1, NULL_ARRAY, OK, PONG, QUEUED, SimpleString, type Reply } from './resp';
import { COPY_MAX } from './output';
import { copyOf, STRING_COMMANDS } from './strings';

const VERSION = '7.0.0';

// ---- connection and server commands -------------------------------------------------

const CONNECTION = 'connection';
const SERVER = 'server';

/** Redis' clientSetName rules: printable ASCII without spaces; empty removes the name. */
function setName(c: Client, name: Buffer): ErrorReply | null {
  if (name.length === 0) {
    c.name = null;
    return null;
  }
  for (const b of name) if (b < 0x21 || b > 0x7e) return new ErrorReply('ERR Client names cannot contain spaces, newlines or special characters.');
  c.name = str(name);
  return null;
}

/** One CLIENT LIST / CLIENT INFO line, fields as Redis 7.0 prints them. */
function clientLine(c: Client, now: number): string {
  const info = c.connection?.() ?? { addr: '', laddr: '', fd: -1, queryBuffer: 0, outputBytes: 0, lastInteraction: now };
  let flags = '';
  if (c.subscribed) flags += 'P';
  if (c.multi !== null) flags += 'x';
  if (c.dirtyCas) flags += 'd';
  if (c.closeAfterReply) flags += 'c';
  if (flags === '') flags = 'N';
  const fields = [
    `id=${c.id}`,
    `addr=${info.addr}`,
    `laddr=${info.laddr}`,
    `fd=${info.fd}`,
    `name=${c.name ?? ''}`,
    `age=${Math.floor((now - c.createdAt) / 1000)}`,
    `idle=${Math.max(0, Math.floor((now - info.lastInteraction) / 1000))}`,
    `flags=${flags}`,
    'db=0',
    `sub=${c.channels.size}`,
    `psub=${c.patterns.size}`,
    'ssub=0',
    `multi=${c.multi === null ? -1 : c.multi.length}`,
    `qbuf=${info.queryBuffer}`,
    'qbuf-free=0',
    'argv-mem=0',
    'multi-mem=0',
    'rbs=0',
    'rbp=0',
    'obl=0',
    'oll=0',
    `omem=${info.outputBytes}`,
    `tot-mem=${info.queryBuffer + info.outputBytes}`,
    'events=r',
    `cmd=${c.lastCommand}`,
    'user=default',
    'redir=-1',
    'resp=2',
  ];
  return `${fields.join(' ')}\n`;
}

function clientList(c: Client, args: Buffer[]): Reply {
  let clients = [...c.server.clients];
  for (let j = 2; j < args.length; j++) {
    if (is(args[j], 'type') && j + 1 < args.length) {
      const type = lower(args[++j]);
      if (type === 'pubsub') clients = clients.filter((x) => x.subscribed);
      else if (type === 'normal') clients = clients.filter((x) => !x.subscribed);
      else if (type === 'master' || type === 'replica' || type === 'slave') clients = [];
      else return new ErrorReply(`ERR Unknown client type '${cstr(args[j])}'`);
    } else if (is(args[j], 'id') && j + 1 < args.length) {
      const ids = new Set<number>();
      for (j++; j < args.length; j++) {
        const id = parseInt64(args[j]);
        if (id === null || id <= 0n) return new ErrorReply('ERR Invalid client ID');
        ids.add(Number(id));
      }
      clients = clients.filter((x) => ids.has(x.id));
    } else {
      return SYNTAX;
    }
  }
  const now = Date.now();
  return clients.map((x) => clientLine(x, now)).join('');
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(2)}K`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(2)}M`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)}G`;
}

const SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'cluster', 'keyspace'];

/** INFO: the sections and fields clients read (redis_version, arch_bits, role, cluster_enabled, keyspace...). */
function info(c: Client, args: Buffer[]): Reply {
  const wanted = new Set<string>();
  if (args.length === 1) for (const s of SECTIONS) wanted.add(s);
  for (const a of args.slice(1)) {
    const name = lower(a);
    if (name === 'all' || name === 'everything' || name === 'default') for (const s of SECTIONS) wanted.add(s);
    else wanted.add(name);
  }
  const server = c.server;
  const store = server.store;
  const now = Date.now();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const body: Record<string, Array<[string, string | number]>> = {
    server: [
      ['redis_version', VERSION],
      ['redis_mode', 'standalone'],
      ['os', `${os.type()} ${os.release()} ${os.arch()}`],
      ['arch_bits', process.arch.includes('64') ? 64 : 32],
      ['multiplexing_api', server.backend],
      ['process_id', process.pid],
      ['tcp_port', server.port],
      ['server_time_usec', now * 1000],
      ['uptime_in_seconds', Math.floor((now - server.startedAt) / 1000)],
      ['uptime_in_days', Math.floor((now - server.startedAt) / 86_400_000)],
      ['executable', process.argv[1] ?? ''],
      ['server_name', 'rxnet-kv'],
      ['node_version', process.version],
    ],
    clients: [
      ['connected_clients', server.clients.size],
      ['blocked_clients', 0],
      ['tracking_clients', 0],
    ],
    memory: [
      ['used_memory', memory.heapUsed + memory.external],
      ['used_memory_human', human(memory.heapUsed + memory.external)],
      ['used_memory_rss', memory.rss],
      ['used_memory_rss_human', human(memory.rss)],
      ['maxmemory', 0],
      ['maxmemory_policy', 'noeviction'],
      ['mem_allocator', 'v8'],
    ],
    persistence: [
      ['loading', 0],
      ['rdb_bgsave_in_progress', 0],
      ['aof_enabled', 0],
      ['aof_rewrite_in_progress', 0],
    ],
    stats: [
      ['total_connections_received', server.stats.connectionsReceived],
      ['total_commands_processed', commandsProcessed(c)],
      ['expired_keys', store.expiredKeys],
      ['pubsub_channels', server.hub.activeChannels(null).length],
      ['pubsub_patterns', server.hub.patternCount],
      ['client_output_buffer_limit_disconnections', server.stats.pubsubDisconnects],
      ['client_timeout_disconnections', server.stats.timeouts],
    ],
    replication: [
      ['role', 'master'],
      ['connected_slaves', 0],
    ],
    cpu: [
      ['used_cpu_sys', (cpu.system / 1e6).toFixed(6)],
      ['used_cpu_user', (cpu.user / 1e6).toFixed(6)],
    ],
    cluster: [['cluster_enabled', 0]],
    keyspace: store.size > 0 ? [['db0', `keys=${store.size},expires=${store.volatileCount},avg_ttl=0`]] : [],
  };
  const parts: string[] = [];
  for (const section of SECTIONS) {
    if (!wanted.has(section)) continue;
    const title = section === 'cpu' ? 'CPU' : section[0].toUpperCase() + section.slice(1);
    parts.push(`# ${title}\r\n${body[section].map(([k, v]) => `${k}:${v}\r\n`).join('')}`);
  }
  return parts.join('\r\n');
}

/** CONFIG GET/SET: what clients read (redis-benchmark: save, appendonly) and `timeout`, the one setting. */
function configTable(c: Client): Array<[string, string]> {
  const l = c.server.pubsubLimits;
  return [
    ['save', ''],
    ['appendonly', 'no'],
    ['databases', '1'],
    ['timeout', String(c.server.timeout)],
    ['maxmemory', '0'],
    ['maxmemory-policy', 'noeviction'],
    ['port', String(c.server.port)],
    ['client-output-buffer-limit', `normal 0 0 0 slave 268435456 67108864 60 pubsub ${l.hardBytes} ${l.softBytes} ${l.softSeconds}`],
  ];
}

function configGet(c: Client, args: Buffer[]): Reply {
  const table = configTable(c);
  const found = new Map<string, string>();
  for (const pattern of args.slice(2)) {
    const text = lower(pattern);
    for (const [name, value] of table) {
      if (found.has(name)) continue;
      const hit = /[[*?]/.test(text) ? globMatch(pattern, Buffer.from(name), true) : text === name;
      if (hit) found.set(name, value);
    }
  }
  return [...found].flat();
}

function configSet(c: Client, args: Buffer[]): Reply {
  if (args.length % 2 === 1) return SYNTAX;
  const names = new Set(configTable(c).map(([name]) => name));
  let timeout: number | null = null;
  let pubsub: [number, number, number] | null = null;
  for (let i = 2; i < args.length; i += 2) {
    const name = lower(args[i]);
    if (!names.has(name)) return new ErrorReply(`ERR Unknown option or number of arguments for CONFIG SET - '${cstr(args[i])}'`);
    if (name === 'client-output-buffer-limit') {
      const limits = parseBufferLimits(str(args[i + 1]));
      if (limits === null) return new ErrorReply(`ERR CONFIG SET failed (possibly related to argument '${cstr(args[i])}') - Wrong number of arguments in buffer limit configuration.`);
      if (limits !== 'unchanged') pubsub = limits;
      continue;
    }
    if (name !== 'timeout') return new ErrorReply(`ERR CONFIG SET failed (possibly related to argument '${cstr(args[i])}') - can't set immutable config`);
    const value = parseInt64(args[i + 1]);
    if (value === null || value < 0n || value > 2147483647n) {
      return new ErrorReply(`ERR CONFIG SET failed (possibly related to argument '${cstr(args[i])}') - argument couldn't be parsed into an integer`);
    }
    timeout = Number(value);
  }
  if (timeout !== null) c.server.timeout = timeout;
  if (pubsub !== null) [c.server.pubsubLimits.hardBytes, c.server.pubsubLimits.softBytes, c.server.pubsubLimits.softSeconds] = pubsub;
  return OK;
}

/** A size as Redis' memtoull reads it: bytes, or with a k/kb/m/mb/g/gb unit. */
function memory(text: string): number | null {
  const m = /^(\d+)(k|kb|m|mb|g|gb)?$/i.exec(text);
  if (m === null) return null;
  const unit = (m[2] ?? '').toLowerCase();
  const scale = unit === 'k' ? 1000 : unit === 'kb' ? 1024 : unit === 'm' ? 1e6 : unit === 'mb' ? 1024 ** 2 : unit === 'g' ? 1e9 : unit === 'gb' ? 1024 ** 3 : 1;
  return Number(m[1]) * scale;
}

/**
 * `class hard soft seconds` groups; the pub/sub class's limits (the only
 * class enforced here) or, without one, the current ones; null if malformed.
 */
function parseBufferLimits(value: string): [number, number, number] | 'unchanged' | null {
  const words = value.split(/\s+/).filter(Boolean);
  if (words.length === 0 || words.length % 4 !== 0) return null;
  let pubsub: [number, number, number] | null = null;
  for (let i = 0; i < words.length; i += 4) {
    const cls = words[i].toLowerCase();
    const hard = memory(words[i + 1]);
    const soft = memory(words[i + 2]);
    const seconds = /^\d+$/.test(words[i + 3]) ? Number(words[i + 3]) : null;
    if (!['normal', 'replica', 'slave', 'pubsub'].includes(cls) || hard === null || soft === null || seconds === null) return null;
    if (cls === 'pubsub') pubsub = [hard, soft, seconds];
  }
  return pubsub ?? 'unchanged';
}

/** COMMAND's and COMMAND INFO's entry for one command (RESP2 form of Redis 7.0). */
function commandInfo(command: Command): Reply {
  const flags: Reply[] = [];
  const names: Array<[Flag, string]> = [
    [Flag.Write, 'write'],
    [Flag.ReadOnly, 'readonly'],
    [Flag.Admin, 'admin'],
    [Flag.PubSub, 'pubsub'],
    [Flag.NoScript, 'noscript'],
    [Flag.Loading, 'loading'],
    [Flag.Stale, 'stale'],
    [Flag.Fast, 'fast'],
  ];
  for (const [bit, name] of names) if (command.flags & bit) flags.push(new SimpleString(name));
  const subcommands = command.subcommands ? [...command.subcommands.values()].map(commandInfo) : [];
  const [first, last, step] = command.keys;
  return [command.name, command.arity, flags, first, last, step, [new SimpleString(`@${command.group}`)], [], [], subcommands];
}

function commandDocs(command: Command): Reply {
  const doc: Reply[] = ['summary', command.summary, 'since', '1.0.0', 'group', command.group];
  if (command.subcommands) doc.push('subcommands', [...command.subcommands.values()].flatMap((s) => [s.name, commandDocs(s)]));
  return doc;
}

/** A flush subcommand of a scripting container: there is no scripting, so nothing to flush. */
function noScriptsToFlush(what: string, message: string): [string, Parameters<typeof cmd>[1]] {
  return [
    'flush',
    {
      arity: -2,
      flags: Flag.NoScript | (what === 'function' ? Flag.Write : 0),
      group: 'scripting',
      summary: `Accepted and does nothing: there are no ${what === 'function' ? 'functions' : 'scripts'} here.`,
      run: (_c, args) => {
        if (args.length > 3) return new ErrorReply(`ERR unknown subcommand or wrong number of arguments for '${cstr(args[1], 128)}'. Try ${asciiUpper(cstr(args[0]))} HELP.`);
        if (args.length === 3 && !is(args[2], 'sync') && !is(args[2], 'async')) return new ErrorReply(message);
        return OK;
      },
    },
  ];
}

const CONNECTION_COMMANDS: Command[] = [
  cmd('ping', {
    arity: -1,
    flags: Flag.Fast | Flag.PubSubOk,
    group: CONNECTION,
    summary: 'Replies PONG, or echoes its argument.',
    run: (c, args) => {
      if (args.length > 2) return wrongArity('ping');
      // Subscribed RESP2 clients read every reply as a message: Redis answers in that shape.
      if (c.subscribed) return ['pong', args.length === 1 ? '' : args[1]];
      return args.length === 1 ? PONG : args[1];
    },
  }),
  cmd('echo', { arity: 2, flags: Flag.Fast | Flag.Loading | Flag.Stale, group: CONNECTION, summary: 'Returns its argument.', run: (_c, args) => args[1] }),
  cmd('quit', {
    arity: -1,
    flags: Flag.Fast | Flag.PubSubOk | Flag.NoQueue | Flag.NoScript | Flag.Loading | Flag.Stale,
    group: CONNECTION,
    summary: 'Closes the connection after replying OK.',
    run: (c) => {
      c.closeAfterReply = true;
      return OK;
    },
  }),
  cmd('reset', {
    arity: 1,
    flags: Flag.Fast | Flag.PubSubOk | Flag.NoQueue | Flag.NoScript | Flag.Loading | Flag.Stale,
    group: CONNECTION,
    summary: 'Resets the connection: ends MULTI, WATCH and subscriptions, forgets the name.',
    run: (c) => {
      c.discardTransaction();
      c.unsubscribeAll();
      c.name = null;
      return new SimpleString('RESET');
    },
  }),
  cmd('auth', {
    arity: -2,
    flags: Flag.Fast | Flag.NoScript | Flag.Loading | Flag.Stale,
    group: CONNECTION,
    summary: 'Authenticates: there is only the passwordless default user.',
    run: (_c, args) => {
      if (args.length > 3) return SYNTAX;
      if (args.length === 2) {
        return new ErrorReply('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
      }
      return str(args[1]) === 'default' ? OK : new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.');
    },
  }),
  cmd('hello', {
    arity: -1,
    flags: Flag.Fast | Flag.NoScript | Flag.Loading | Flag.Stale,
    group: CONNECTION,
    summary: 'Handshake: RESP2 only (HELLO 3 is refused, so clients fall back), AUTH and SETNAME options.',
    run: (c, args) => {
      let next = 1;
      if (args.length >= 2) {
        const version = parseInt64(args[next++]);
        if (version === null) return new ErrorReply('ERR Protocol version is not an integer or out of range');
        // Redis accepts 3; this server speaks RESP2 only, and says so as Redis says it of 4.
        if (version !== 2n) return new ErrorReply('NOPROTO unsupported protocol version');
      }
      for (let j = next; j < args.length; j++) {
        const more = args.length - 1 - j;
        if (is(args[j], 'auth') && more >= 2) {
          if (str(args[j + 1]) !== 'default') return new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.');
          j += 2;
        } else if (is(args[j], 'setname') && more >= 1) {
          const error = setName(c, args[j + 1]);
          if (error !== null) return error;
          j++;
        } else {
          return new ErrorReply(`ERR Syntax error in HELLO option '${cstr(args[j])}'`);
        }
      }
      // RESP2 has no map type: a flat array of field, value, field, value...
      return ['server', 'rxnet-kv', 'version', VERSION, 'proto', 2, 'id', c.id, 'mode', 'standalone', 'role', 'master', 'modules', []];
    },
  }),
  container(
    'client',
    CONNECTION,
    'Inspects and names connections.',
    [
      ['id', { arity: 2, summary: "The connection's id.", group: CONNECTION, run: (c) => c.id }],
      ['getname', { arity: 2, summary: "The connection's name, or nil.", group: CONNECTION, run: (c) => c.name }],
      [
        'setname',
        {
          arity: 3,
          summary: 'Names the connection.',
          group: CONNECTION,
          run: (c, args) => setName(c, args[2]) ?? OK,
        },
      ],
      ['info', { arity: 2, summary: 'This connection, as a CLIENT LIST line.', group: CONNECTION, run: (c) => clientLine(c, Date.now()) }],
      ['list', { arity: -2, flags: Flag.Admin, summary: 'Every connection (TYPE, ID filters).', group: CONNECTION, run: clientList }],
    ],
    Flag.NoScript | Flag.Loading | Flag.Stale,
  ),
];

const SERVER_COMMANDS: Command[] = [
  cmd('info', { arity: -1, flags: Flag.Loading | Flag.Stale, group: SERVER, summary: 'Server information by section.', run: info }),
  cmd('time', {
    arity: 1,
    flags: Flag.Fast | Flag.Loading | Flag.Stale,
    group: SERVER,
    summary: 'The server time: Unix seconds and microseconds.',
    run: () => {
      const us = BigInt(Date.now()) * 1000n;
      return [String(us / 1_000_000n), String(us % 1_000_000n)];
    },
  }),
  cmd('lastsave', { arity: 1, flags: Flag.Fast | Flag.Loading | Flag.Stale, group: SERVER, summary: 'When the server started (nothing is ever saved).', run: (c) => Math.floor(c.server.startedAt / 1000) }),
  container('config', SERVER, 'Reads settings; sets `timeout`.', [
    ['get', { arity: -3, flags: Flag.Admin, summary: 'Settings matching glob patterns.', group: SERVER, run: configGet }],
    ['set', { arity: -4, flags: Flag.Admin, summary: 'Sets `timeout`; the rest is fixed.', group: SERVER, run: configSet }],
    ['resetstat', { arity: 2, flags: Flag.Admin, summary: 'Accepted; counters are not reset.', group: SERVER, run: () => OK }],
  ]),
  container('command', SERVER, 'Describes the commands.', [
    ['count', { arity: 2, summary: 'Number of commands.', group: SERVER, run: () => COMMANDS.size }],
    ['list', { arity: -2, summary: 'Command names.', group: SERVER, run: () => [...COMMANDS.keys()] }],
    [
      'info',
      {
        arity: -2,
        summary: 'Details of commands (all without arguments).',
        group: SERVER,
        run: (_c, args) => (args.length === 2 ? [...COMMANDS.values()].map(commandInfo) : args.slice(2).map((a) => (COMMANDS.has(lower(a)) ? commandInfo(COMMANDS.get(lower(a))!) : null))),
      },
    ],
    [
      'docs',
      {
        arity: -2,
        summary: 'Documentation of commands (all without arguments).',
        group: SERVER,
        run: (_c, args) => {
          const names = args.length === 2 ? [...COMMANDS.keys()] : args.slice(2).map(lower).filter((n) => COMMANDS.has(n));
          return names.flatMap((n) => [n, commandDocs(COMMANDS.get(n)!)]);
        },
      },
    ],
  ]),
  container('function', 'scripting', 'Scripting is not implemented; FUNCTION FLUSH is accepted.', [noScriptsToFlush('function', 'ERR FUNCTION FLUSH only supports SYNC|ASYNC option')]),
  container('script', 'scripting', 'Scripting is not implemented; SCRIPT FLUSH is accepted.', [noScriptsToFlush('script', 'ERR SCRIPT FLUSH only support SYNC|ASYNC option')]),
];

// ---- transactions ------------------------------------------------------------

const TX = 'transactions';
const TX_FLAGS = Flag.NoScript | Flag.Loading | Flag.Stale;

const TRANSACTION_COMMANDS: Command[] = [
  cmd('multi', {
    arity: 1,
    flags: TX_FLAGS | Flag.Fast | Flag.NoQueue,
    group: TX,
    summary: 'Starts a transaction: commands are queued until EXEC.',
    run: (c) => {
      if (c.multi !== null) return new ErrorReply('ERR MULTI calls can not be nested');
      c.multi = [];
      return OK;
    },
  }),
  cmd('exec', {
    arity: 1,
    flags: TX_FLAGS | Flag.NoQueue,
    group: TX,
    summary: 'Runs the queued commands atomically; nil if a watched key changed.',
    run: (c) => {
      const queued = c.multi;
      if (queued === null) return new ErrorReply('ERR EXEC without MULTI');
      // A watched key that expired since WATCH counts as changed.
      const store = c.server.store;
      if (c.watches.some((w) => !w.expired && store.isExpired(w.key))) c.dirtyCas = true;
      if (c.dirtyCas || c.multiFailed) {
        const reply = c.multiFailed ? EXEC_ABORT : NULL_ARRAY;
        c.discardTransaction();
        return reply;
      }
      c.unwatchAll();
      const replies = queued.map((args) => run(c, lookup(args)!, args));
      c.discardTransaction();
      return replies;
    },
  }),
  cmd('discard', {
    arity: 1,
    flags: TX_FLAGS | Flag.Fast | Flag.NoQueue,
    group: TX,
    summary: 'Drops the queued commands.',
    run: (c) => {
      if (c.multi === null) return new ErrorReply('ERR DISCARD without MULTI');
      c.discardTransaction();
      return OK;
    },
  }),
  cmd('watch', {
    arity: -2,
    flags: TX_FLAGS | Flag.Fast | Flag.NoQueue,
    keys: [1, -1, 1],
    group: TX,
    summary: 'Makes the next EXEC fail if one of these keys changes.',
    run: (c, args) => {
      if (c.multi !== null) return new ErrorReply('ERR WATCH inside MULTI is not allowed');
      if (c.dirtyCas) return OK;
      for (let i = 1; i < args.length; i++) c.watch(str(args[i]));
      return OK;
    },
  }),
  cmd('unwatch', {
    arity: 1,
    flags: TX_FLAGS | Flag.Fast,
    group: TX,
    summary: 'Forgets every watched key.',
    run: (c) => {
      c.unwatchAll();
      c.dirtyCas = false;
      return OK;
    },
  }),
];

// ---- the table and the dispatcher ----------------------------------------------------

export const COMMANDS = new Map<string, Command>();
for (const command of [...STRING_COMMANDS, ...KEYSPACE_COMMANDS, ...CONNECTION_COMMANDS, ...SERVER_COMMANDS, ...TRANSACTION_COMMANDS, ...PUBSUB_COMMANDS]) {
  COMMANDS.set(command.name, command);
}

/** Redis' lookupCommand: the command, or for a container with arguments its subcommand; undefined if unknown. */
function lookup(args: Buffer[]): Command | undefined {
  const base = COMMANDS.get(lower(args[0]));
  if (base === undefined || base.subcommands === undefined || args.length === 1) return base;
  return base.subcommands.get(lower(args[1]));
}

/** Runs a command whose arity was checked. */
function run(c: Client, command: Command, args: Buffer[]): Reply {
  c.lastCommand = command.name;
  c.server.stats.commandsProcessed++;
  return command.run(c, args);
}

/**
 * Refuses a command as Redis' rejectCommand does: a queued transaction
 * will abort, and a refused EXEC aborts it now.
 */
function reject(c: Client, command: Command | undefined, message: string): Reply {
  if (c.multi !== null) c.multiFailed = true;
  if (command?.name === 'exec') {
    c.discardTransaction();
    return new ErrorReply(`EXECABORT Transaction discarded because of: ${message}`);
  }
  return new ErrorReply(`ERR ${message}`);
}

/** Redis' commandCheckExistence message for an unknown command or subcommand. */
function unknown(args: Buffer[]): string {
  if (COMMANDS.get(lower(args[0]))?.subcommands !== undefined) {
    return `unknown subcommand '${cstr(args[1], 128)}'. Try ${asciiUpper(cstr(args[0]))} HELP.`;
  }
  let shown = '';
  for (let i = 1; i < args.length && shown.length < 128; i++) shown += `'${cstr(args[i], 128 - shown.length)}' `;
  return `unknown command '${cstr(args[0], 128)}', with args beginning with: ${shown}`;
}

/** GETs and SETs answered by the fast path (INFO adds them to the rest): a module counter, one increment. */
let fastCommands = 0;

/** Commands processed, for INFO. */
export function commandsProcessed(c: Client): number {
  return c.server.stats.commandsProcessed + fastCommands;
}

/** What {@link execute} returns for a request that costs the client its connection at once (no reply). */
export const DROP_CONNECTION = new SimpleString('\u0000drop');

/**
 * Runs one request (`args[0]` is the command name, any case) as Redis'
 * processCommand does, and returns its reply; errors are replies too, never
 * exceptions.
 */
export function execute(c: Client, args: Buffer[]): Reply {
  const name = args[0];
  // Redis' defence against HTTP requests sent to its port: close, no reply.
  if (is(name, 'post') || is(name, 'host:')) return DROP_CONNECTION;
  const command = lookup(args);
  if (command === undefined) return reject(c, undefined, unknown(args));
  const { arity } = command;
  if ((arity > 0 && args.length !== arity) || args.length < -arity) return reject(c, command, `wrong number of arguments for '${command.name}' command`);
  if (c.subscribed && !(command.flags & Flag.PubSubOk)) {
    return reject(c, command, `Can't execute '${command.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
  }
  if (c.multi !== null && !(command.flags & Flag.NoQueue)) {
    // Request bytes are views of network chunks: keep copies.
    c.multi.push(args.map((a) => copyOf(a)));
    return QUEUED;
  }
  return run(c, command, args);
}

/**
 * Runs the request whose arguments are `data[offsets[2i], offsets[2i+1])`
 * (what RespParser.nextRequest leaves) and writes its reply to `out`. GET
 * and plain SET, what clients mostly send, are answered straight from the
 * bytes when the client is plain (no MULTI, not subscribed): no Buffer per
 * argument, no Reply object, no command lookup. Everything else goes through
 * {@link execute}, which decides the same way.
 * @returns the reply written, when it came through execute() (for QUIT and DROP_CONNECTION); else null.
 */
export function executeInto(c: Client, data: Buffer, offsets: Int32Array, n: number, out: Output): Reply | null {
  const name = offsets[0];
  if (c.plain && offsets[1] - name === 3 && (data[name + 1] | 0x20) === 0x65 /* e */ && (data[name + 2] | 0x20) === 0x74 /* t */) {
    // OR 0x20 lower-cases a letter and maps no other byte onto one.
    const first = data[name] | 0x20;
    if (first === 0x67 /* g */ && n === 2) {
      fastCommands++;
      const entry = c.store.lookup(latin1(data, offsets[2], offsets[3]));
      if (entry === undefined) {
        out.nil();
      } else {
        const value = entry.value;
        // Written by reference past COPY_MAX: no changing it in place afterwards.
        if (value.length > COPY_MAX) entry.spare = null;
        out.bulk(value);
      }
      return null;
    }
    if (first === 0x73 /* s */ && n === 3) {
      fastCommands++;
      c.store.setPlain(latin1(data, offsets[2], offsets[3]), copyOf(data, offsets[4], offsets[5]));
      out.ok();
      return null;
    }
  }
  const args = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) args[i] = data.subarray(offsets[2 * i], offsets[2 * i + 1]);
  const reply = execute(c, args);
  if (reply !== DROP_CONNECTION) out.reply(reply);
  return reply;
}

