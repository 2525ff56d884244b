/**
 * The chat protocol, free of sockets so it can be tested on its own: a room
 * of members, each of whom is something that can be sent a line.
 *
 * Lines from a member:
 *   /nick NAME   rename (NAME: 1-32 of A-Z a-z 0-9 _ -, unique in the room)
 *   /who         list who is here
 *   /quit        leave
 *   anything else: said to everyone else as "NAME: text"
 * Notices start with "* ", errors with "error: ".
 *
 * Control characters are stripped from every line before it is looked at:
 * C0 (NUL, BEL, ESC, ... but TAB), DEL and C1 (U+0080-U+009F, which some
 * terminals also obey, U+009B being CSI). Relayed as they are, they let one
 * member drive the others' terminals (clear the screen, retitle the window,
 * forge lines with CR). Stripping rather than refusing the line keeps what
 * was meant to be said; a line with nothing left is ignored.
 */

/** Where a member's lines go; the transport adds the line ending. */
export interface Peer {
  send(line: string): void;
  /** Sends a last line and disconnects. */
  end(line?: string): void;
}

export interface Member {
  readonly nick: string;
}

interface Seat extends Member {
  nick: string;
  peer: Peer;
}

/** Longest line accepted, in bytes; a longer one costs the sender its connection. */
export const MAX_LINE = 1024;

const NICK = /^[A-Za-z0-9_-]{1,32}$/;
/** C0 controls but TAB, DEL, and C1 controls. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** `line` without control characters (see the module comment). */
export function stripControls(line: string): string {
  // Most lines have none: test before allocating a copy.
  CONTROL.lastIndex = 0;
  return CONTROL.test(line) ? line.replace(CONTROL, '') : line;
}

/** A chat room: joins, leaves, renames, and messages fanned out to the other members. */
export class ChatRoom {
  private readonly seats = new Set<Seat>();
  private readonly nicks = new Set<string>();
  private guests = 0;
  private closed = false;

  /** Members present. */
  get size(): number {
    return this.seats.size;
  }

  /**
   * Seats a new member under a guest name, welcomes it and tells the others.
   * @returns the handle to pass to {@link input} and {@link leave}.
   */
  join(peer: Peer): Member {
    let nick: string;
    do nick = `guest${++this.guests}`;
    while (this.nicks.has(nick));
    const seat: Seat = { nick, peer };
    this.nicks.add(nick);
    peer.send(`* welcome, you are ${nick}; /nick NAME to rename, /who, /quit`);
    this.broadcast(seat, `* ${nick} joined`);
    this.seats.add(seat);
    return seat;
  }

  /**
   * Handles one line (without its line ending) from `member`.
   * @returns whether it said or asked anything: false for a line that is
   *   empty once control characters are stripped, or from someone not in the
   *   room.
   */
  input(member: Member, raw: string): boolean {
    const seat = member as Seat;
    if (this.closed || !this.seats.has(seat)) return false;
    const line = stripControls(raw);
    if (line.length === 0) return false;
    if (!line.startsWith('/')) {
      this.broadcast(seat, `${seat.nick}: ${line}`);
      return true;
    }
    this.command(seat, line);
    return true;
  }

  private command(seat: Seat, line: string): void {
    const [command, ...args] = line.split(/\s+/).filter(Boolean);
    switch (command) {
      case '/nick':
        return this.rename(seat, args.join(' '));
      case '/who':
        return seat.peer.send(`* here: ${[...this.seats].map((s) => s.nick).join(', ')}`);
      case '/quit':
        this.leave(seat);
        return seat.peer.end('* bye');
      default:
        return seat.peer.send(`error: unknown command ${command}`);
    }
  }

  /**
   * Removes `member` (idempotent) and tells the others, with `reason` if given.
   */
  leave(member: Member, reason?: string): void {
    const seat = member as Seat;
    if (!this.seats.delete(seat)) return;
    this.nicks.delete(seat.nick);
    if (!this.closed) this.broadcast(seat, `* ${seat.nick} left${reason ? ` (${reason})` : ''}`);
  }

  /**
   * Says goodbye to everyone and disconnects them; the room ignores input
   * from then on, so nothing is written to a connection after its end.
   */
  close(notice = '* server shutting down'): void {
    this.closed = true;
    for (const seat of [...this.seats]) {
      this.seats.delete(seat);
      seat.peer.end(notice);
    }
  }

  private rename(seat: Seat, nick: string): void {
    if (!NICK.test(nick)) return seat.peer.send('error: a nick is 1-32 letters, digits, _ or -');
    if (nick === seat.nick) return;
    if (this.nicks.has(nick)) return seat.peer.send(`error: ${nick} is taken`);
    const old = seat.nick;
    this.nicks.delete(old);
    this.nicks.add(nick);
    seat.nick = nick;
    seat.peer.send(`* you are now ${nick}`);
    this.broadcast(seat, `* ${old} is now ${nick}`);
  }

  /**
   * Sends `line` to everyone but `from`. A send may disconnect a slow member
   * (see main.ts), which leaves the room and broadcasts in turn: iterate over
   * a snapshot, and skip whoever has left meanwhile.
   */
  private broadcast(from: Seat, line: string): void {
    for (const seat of [...this.seats]) {
      if (seat !== from && this.seats.has(seat)) seat.peer.send(line);
    }
  }
}
