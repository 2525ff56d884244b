export { Reactor, Interest, Ready } from './reactor';
export type { BackendName, ReactorOptions, ReactorStats, Readiness } from './reactor';
export * as sys from './sys';
export { errnoException, rxnetError } from './errors';
export type { SystemError, ErrorDetails } from './errors';
