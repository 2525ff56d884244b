// The ES module entry point: the CommonJS build's exports as named exports
// (Node finds them with its CommonJS export analysis), so `import { serve }
// from 'rxnet'` and `require('rxnet')` share one instance: one default
// reactor per thread, one class identity for `instanceof`.
export * from './index.js';
