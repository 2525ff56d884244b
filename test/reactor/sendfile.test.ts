import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { Interest, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { readExactly } from '../helpers/readiness';
import { first, socketPair } from '../helpers/sockets';

test.serial("sendfile sends a range of a file's bytes over a TCP connection", (t) =>
  withReactor(t, async (reactor) => {
    const file = path.join(os.tmpdir(), `rxnet-sendfile-${process.pid}-${Date.now()}.bin`);
    const content = crypto.randomBytes(256 * 1024);
    fs.writeFileSync(file, content);
    const fileFd = fs.openSync(file, 'r');
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    try {
      const offset = 1000;
      const count = 100_000;
      let sent = 0;
      const received = readExactly(reactor, b, count);
      while (sent < count) {
        const n = sys.sendfile(a, fileFd, offset + sent, count - sent);
        if (n === sys.EAGAIN) {
          await first(reactor.watch(a, Interest.Writable));
          continue;
        }
        t.true(n > 0, `sendfile returned ${n}`);
        sent += n;
      }
      t.is(sent, count);
      t.true((await received).equals(content.subarray(offset, offset + count)), 'the exact range arrived');
      // The file's own position was neither used nor moved.
      const head = Buffer.alloc(4);
      t.is(fs.readSync(fileFd, head, 0, 4, null), 4);
      t.true(head.equals(content.subarray(0, 4)));
      // Past the end of the file: nothing to send.
      t.is(sys.sendfile(a, fileFd, content.length, 10), 0);
    } finally {
      sys.close(a);
      sys.close(b);
      fs.closeSync(fileFd);
      fs.unlinkSync(file);
    }
  }));
