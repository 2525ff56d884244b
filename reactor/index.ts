export { Reactor, Registration, Interest, Ready } from './reactor';
export type { BackendName, ReactorOptions, ReactorStats, Readiness, ReadinessTarget, BatchEndTarget } from './reactor';
export * as sys from './sys';
export { errnoException, rxnetError } from './errors';
export type { SystemError, ErrorDetails } from './errors';
