/**
 * poll and select hold a reference to every socket in their set while the
 * helper thread blocks (Linux's __pollwait takes get_file()). A listener
 * deregistered and closed by the loop thread while that thread was still
 * inside poll()/select() stayed open until the wait returned: clients that
 * connected in between were accepted by the kernel and then reset
 * (ECONNRESET) instead of refused. It made graceful-shutdown and listen-cold
 * fail about one run in three on select. The removal now waits until the
 * helper thread has left any wait that may hold the fd.
 */
import * as net from 'node:net';
import test from 'ava';
import { Interest, sys } from '../../index';
import { withReactor, delay } from '../helpers/leaks';

const ROUNDS = 300;

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
  });
}

test.serial(`a listener closed right after it is deregistered refuses the next connect (${ROUNDS} rounds)`, (t) =>
  withReactor(t, async (reactor) => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < ROUNDS; i++) {
      const fd = sys.socket('ipv4', 'stream');
      sys.bind(fd, { address: '127.0.0.1', port: 0 });
      sys.listen(fd, 511);
      const { port } = sys.getsockname(fd);
      const watching = reactor.watch(fd, Interest.Readable).subscribe();
      // Let the helper thread (poll/select) block with the listener in its set.
      await delay(1);
      watching.unsubscribe();
      sys.close(fd);
      const outcome = await connectOutcome(port);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    t.deepEqual([...outcomes], [['ECONNREFUSED', ROUNDS]]);
  }));
