/**
 * Argument checks that run before any syscall, throwing the same error
 * classes and codes as Node's own (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`,
 * `ERR_SOCKET_BAD_PORT`, `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_IP_ADDRESS`).
 */
import * as net from 'node:net';
import { rxnetError } from './errors';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${(value as { name?: string }).name || '<anonymous>'}`;
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  let shown = util_inspect(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

function util_inspect(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return rxnetError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describe(value)}`);
}

export function validateInteger(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) {
    throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be an integer. Received ${value}`);
  }
  if (value < min || value > max) {
    throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be >= ${min} && <= ${max}. Received ${value}`);
  }
}

export function validateFd(fd: unknown, name = 'fd'): asserts fd is number {
  validateInteger(fd, name, 0, 0x7fffffff);
}

export function validatePort(port: unknown, name = 'port'): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw rxnetError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be >= 0 and < 65536. Received ${describe(port)}.`);
  }
}

/**
 * A port as node:net's validatePort takes one: a number or a non-blank
 * numeric string (' 80 ', '0x50'), an integer 0-65535.
 */
export function validatePortLike(port: unknown, name = 'port'): asserts port is number | string {
  if (typeof port !== 'number' && typeof port !== 'string') throw invalidArgType(name, 'of type number or string', port);
  if ((typeof port === 'string' && port.trim().length === 0) || +port !== +port >>> 0 || +port > 0xffff) {
    throw rxnetError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be >= 0 and < 65536. Received ${describe(port)}.`);
  }
}

/** An IP literal; returns its family (4 or 6). */
export function validateIp(address: unknown, name = 'address'): 4 | 6 {
  if (typeof address !== 'string') throw invalidArgType(name, 'of type string', address);
  const family = net.isIP(address);
  if (family === 0) throw rxnetError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${address}`);
  return family as 4 | 6;
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
}

export function validateFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

export function validateBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgType(name, 'an instance of Buffer or Uint8Array', value);
}

export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw rxnetError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be one of: ${allowed.map((a) => `'${a}'`).join(', ')}. Received ${describe(value)}`,
    );
  }
}
