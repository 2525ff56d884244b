export * from './reactor/index';
