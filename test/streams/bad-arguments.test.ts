import test from 'ava';
import { connect, listen, serve } from '../../index';
import { openFds, withReactor } from '../helpers/leaks';

const echo = () => undefined;

test.serial('serve/listen/connect: bad options throw synchronously, before any socket is made', (t) =>
  withReactor(t, (reactor) => {
    const before = openFds().size;
    t.throws(() => serve({ port: 70000, reactor }, echo), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => serve({ port: -1, reactor }, echo), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => serve({ port: 1.5, reactor }, echo), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => listen({ port: 70000, reactor }), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => connect({ port: 70000, reactor }), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => connect({ host: '127.0.0.1', reactor } as never), { instanceOf: TypeError, code: 'ERR_MISSING_ARGS' });

    t.throws(() => serve({ highWaterMark: -1, reactor }, echo), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => serve({ highWaterMark: 0, reactor }, echo), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => connect({ port: 1, highWaterMark: -1, reactor }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => serve({ highWaterMark: 1024, maxBufferedBytes: 512, reactor }, echo), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }, 'maxBufferedBytes below highWaterMark');
    t.throws(() => serve({ backlog: -1, reactor }, echo), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => serve({ idleTimeout: -5, reactor }, echo), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => connect({ port: 1, timeout: -1, reactor }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => serve({ host: 42 as unknown as string, reactor }, echo), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => serve({ path: '', reactor }, echo), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => serve({ reactor: {} as never }, echo), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });

    t.throws(() => serve({ reactor }, 'not a function' as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => serve({ reactor }, undefined as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => connect(null as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => listen(null as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });

    t.is(openFds().size, before, 'no socket was opened');
    t.is(reactor.stats.registrations, 0);
  }));

test.serial('serve() with options that are not an object throws ERR_INVALID_ARG_TYPE, as connect() and listen() do', (t) =>
  withReactor(t, () => {
    t.throws(() => serve(null as never, echo), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => serve(undefined as never, echo), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => serve(7 as never, echo), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
  }));
