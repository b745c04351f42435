/* global module */
/**
 * The import rules `npm run deps:check` enforces (dependency-cruiser).
 *
 * 1. No circular imports, anywhere in the packages.
 * 2. The server's layers follow the data flow of a sign-in (docs/architecture.md); a module may
 *    import its own layer and the ones below it, never one above:
 *
 *      composition root   services.ts, index.ts (wires everything; may import anything)
 *      surfaces           http/ flex/ oidc/ legacy/ admin/ console/ operations/
 *      broker             login/
 *      token core         tokens/
 *      domain             connections/ accounts/ users/ audit/
 *      storage            storage/
 *      foundation         errors.ts ids.ts config.ts available-cpus.ts crypto/
 *
 *    Type-only imports count: a route module that names `Services` depends on the bag.
 *    Tests (`*.test.ts`) may wire units from any layer.
 *
 * The imports that broke rule 2 when it was introduced are listed, edge by edge, in
 * .dependency-cruiser-known-violations.json, so the check fails on any new one and reports the
 * listed ones as "ignored". All are gone (issue 17): each route module receives what it uses from
 * index.ts, the broker and the token core declare the rate budgets they charge as interfaces, and
 * OAuth wording and scope claims moved down (errors.ts, users/claims.ts); the list is empty.
 * Regenerate the list with
 * `npm run deps:baseline` only when an edge is removed, never to admit a new one.
 */
const SERVER = '^packages/server/src/';
const LAYERS = [
  { name: 'composition root', path: `${SERVER}(services|index)\\.ts$` },
  { name: 'surfaces', path: `${SERVER}(http|flex|oidc|legacy|admin|console|operations)/` },
  { name: 'broker', path: `${SERVER}login/` },
  { name: 'token core', path: `${SERVER}(tokens|clients)/` },
  { name: 'domain', path: `${SERVER}(connections|accounts|users|audit)/` },
  { name: 'storage', path: `${SERVER}storage/` },
  { name: 'foundation', path: `${SERVER}((errors|ids|config|available-cpus)\\.ts$|crypto/)` },
];
const TESTS = '\\.test\\.ts$';

const upwardRules = LAYERS.slice(1).map((layer, index) => ({
  name: `no-upward-from-${layer.name.replace(/ /g, '-')}`,
  comment: `The ${layer.name} layer may not import a layer above it (${LAYERS.slice(0, index + 1)
    .map((l) => l.name)
    .join(', ')}).`,
  severity: 'error',
  from: { path: layer.path, pathNot: TESTS },
  to: { path: LAYERS.slice(0, index + 1).map((l) => l.path) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle hides which module is the foundation of the other; break it by moving the shared part down.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upwardRules,
    {
      name: 'server-module-in-a-layer',
      comment: 'Every server module belongs to a layer: add a new folder to LAYERS in .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: SERVER, pathNot: [TESTS, ...LAYERS.map((l) => l.path)] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '/dist/', '/public/vendor/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
