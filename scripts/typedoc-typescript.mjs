// `npm run docs` runs typedoc with this preloaded (node --import). typedoc
// needs the TypeScript compiler API, which TypeScript 7 (the native
// compiler this project builds with) no longer exports, and typedoc 0.28
// supports TypeScript 5.0-6.0. So its imports of 'typescript' resolve to
// typescript-api, TypeScript 5.9 installed under that name beside 7.
import { register } from 'node:module';

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === 'typescript') return next('typescript-api', context);
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url);
