export * from './reactor/index';
export * from './streams/index';
