export { Connection } from './connection';
export type { ConnectionOptions, CloseInfo } from './connection';
export { listen } from './listen';
export type { ListenOptions, ServerEvent, ListenerStats } from './listen';
export { serve, Server } from './serve';
export type { ServeOptions, ConnectionHandler, ServerStats } from './serve';
export { connect } from './connect';
export type { ConnectOptions } from './connect';
export { idleTimeout } from './idleTimeout';
