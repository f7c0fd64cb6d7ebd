import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of README.md "Where things are", bottom first. A module may
 * import only from its own layer and the layers before it; each entry lists
 * the folders a layer must not reach, so a wrong import fails `npm run lint`.
 */
const layers = [
  { name: 'views/', files: ['views/**/*.ts'], forbidden: ['src'] },
  {
    name: 'config, log, db, permissions, keys, limits, outbound',
    files: ['src/{config,log,db,permissions,keys,limits,outbound}/**/*.ts'],
    forbidden: ['http', 'accounts', 'apps', 'partners', 'authorizations', 'notices', 'credentials', 'events', 'oauth', 'api', 'web', 'server', 'cli'],
  },
  {
    name: 'the domain (accounts, apps, partners, authorizations, notices, credentials, events)',
    files: ['src/{accounts,apps,partners,authorizations,notices,credentials,events}/**/*.ts'],
    forbidden: ['oauth', 'api', 'web', 'server', 'cli'],
  },
  { name: 'src/oauth', files: ['src/oauth/**/*.ts'], forbidden: ['api', 'web', 'server', 'cli', 'views'] },
  // The retention sweep deletes rows of many tables by name; it needs nothing above config, log and db.
  {
    name: 'src/retention',
    files: ['src/retention/**/*.ts'],
    forbidden: ['http', 'accounts', 'apps', 'partners', 'authorizations', 'notices', 'credentials', 'events', 'oauth', 'api', 'web', 'server', 'cli', 'views'],
  },
  { name: 'src/api and src/web', files: ['src/{api,web}/**/*.ts'], forbidden: ['server', 'cli', 'views'] },
];

/** A relative import that climbs into one of these top-level folders (src/<folder>/), however the path is spelled. */
const climbsInto = (folders) => `(^|/)\\.\\./(src/)?(${folders.join('|')})(/|$)`;

const layerRules = [
  ...layers.map(({ name, files, forbidden }) => ({
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: climbsInto(forbidden), message: `${name} must not import from a layer above it (README.md, "Where things are").` }] }],
    },
  })),
  {
    // The http layer (error idiom, boundary, CSRF, page headers, forms,
    // render) sits under the domain: it imports Koa, libraries and views/ only.
    files: ['src/http/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\./)?\\.\\./(?!\\.\\./views/)', message: 'src/http imports only Koa, libraries and views/ (README.md, "Where things are").' }] }],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', 'data/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['views/*.js'], languageOptions: { globals: { document: 'readonly', navigator: 'readonly' } } },
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  ...layerRules,
  {
    // Endpoints are short pipelines of small named steps.
    files: ['src/**/*.ts', 'views/**/*.ts'],
    rules: { 'max-lines-per-function': ['warn', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
);
