/**
 * No busy polling: a reactor whose registrations are all idle neither wakes
 * up nor burns CPU. Wakeups are counted exactly (deterministic); CPU is an
 * absence-of-spin check with a wide margin (a spinning backend burns a whole
 * core, idle is ~0), not a speed goal.
 */
import test from 'ava';
import { Interest, sys } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { listener, socketPair } from '../helpers/sockets';

test.serial('idle registrations cause no wakeups and use ~0 CPU', (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < 20; i++) pairs.push(await socketPair((fd) => reactor.watch(fd)));
    const subs = [reactor.watch(l.fd, Interest.Readable).subscribe()];
    for (const [a, b] of pairs) {
      subs.push(reactor.watch(a, Interest.Readable).subscribe());
      subs.push(reactor.watch(b, Interest.Readable).subscribe());
    }
    t.is(reactor.stats.registrations, 41);
    await delay(50); // let registration changes settle (poll/select wake their thread for them)
    const wakeupsBefore = reactor.stats.wakeups;
    const cpuBefore = process.cpuUsage();
    const start = process.hrtime.bigint();
    await delay(1000);
    const cpu = process.cpuUsage(cpuBefore);
    const wallUs = Number(process.hrtime.bigint() - start) / 1000;
    const share = (cpu.user + cpu.system) / wallUs;
    t.is(reactor.stats.wakeups - wakeupsBefore, 0, 'no wakeups while nothing is ready');
    t.true(share < 0.2, `process CPU while idle: ${(share * 100).toFixed(1)}% of one core`);
    for (const s of subs) s.unsubscribe();
    sys.close(l.fd);
    for (const [a, b] of pairs) {
      sys.close(a);
      sys.close(b);
    }
  }));
