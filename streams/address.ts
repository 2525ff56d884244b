/**
 * Turning `node:net`-style options (host, port, path) into endpoints, and
 * raw address bytes from the datagram path into strings.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import { rxnetError } from '../reactor/errors';
import type { Endpoint, Family } from '../reactor/sys';
import { validatePortLike, validateString, invalidArgType } from '../reactor/validate';

export interface ResolvedEndpoint {
  endpoint: Endpoint;
  family: Family;
  /** For error messages and `address`. */
  address: string;
  port: number;
}

/** Checks host/port/path options synchronously; returns what is resolved without DNS. */
export function checkEndpointOptions(
  options: { host?: unknown; port?: unknown; path?: unknown },
  name: string,
  requirePort: boolean,
): void {
  if (options === null || typeof options !== 'object') throw invalidArgType(name, 'of type object', options);
  if (options.path !== undefined) {
    validateString(options.path, `${name}.path`);
    if (options.path.length === 0) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}.path' must be a non-empty string`);
    return;
  }
  if (options.host !== undefined) validateString(options.host, `${name}.host`);
  if (options.port === undefined) {
    if (requirePort) throw rxnetError(TypeError, 'ERR_MISSING_ARGS', `The "${name}.port" or "${name}.path" option must be specified`);
    return;
  }
  validatePortLike(options.port, `${name}.port`);
}

/** A port option as net takes it (a number or a numeric string, checked by checkEndpointOptions) as a number. */
export function portNumber(port: number | string | undefined): number {
  return port === undefined ? 0 : +port;
}

/**
 * Resolves host to an IP (dns.lookup, as node:net does), synchronously when
 * it already is one. Calls back with the endpoint or a Node-shaped error.
 */
export function resolveEndpoint(
  options: { host?: string; port?: number | string; path?: string; family?: 0 | 4 | 6 },
  defaultHost: string,
  callback: (err: Error | null, resolved?: ResolvedEndpoint) => void,
): void {
  if (options.path !== undefined) {
    callback(null, { endpoint: { path: options.path }, family: 'unix', address: options.path, port: 0 });
    return;
  }
  const host = options.host ?? defaultHost;
  const port = portNumber(options.port);
  const ipFamily = net.isIP(host);
  if (ipFamily !== 0) {
    callback(null, { endpoint: { address: host, port }, family: ipFamily === 6 ? 'ipv6' : 'ipv4', address: host, port });
    return;
  }
  dns.lookup(host, { family: options.family ?? 0 }, (err, address, family) => {
    if (err) return callback(err);
    callback(null, { endpoint: { address, port }, family: family === 6 ? 'ipv6' : 'ipv4', address, port });
  });
}

/** Formats 4 or 16 raw address bytes (network order) like Node does. */
export function formatAddress(bytes: Uint8Array, offset: number, family: number): string {
  if (family === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1]);
  // ::ffff:a.b.c.d for IPv4-mapped addresses.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
