// Lint: the rules that keep policies pure (STYLE.md §5). A policy and the pure libraries decide from
// what they are given: no I/O module, no wall clock, no unseeded randomness. Type-only imports are
// allowed (they vanish at compile time). Only rules the whole tree passes are on: add one with its fixes.
'use strict';
const tseslint = require('typescript-eslint');

/** Modules that do I/O; node:net only for its sockets (isIP and BlockList are pure). */
const ioModules = [
  { name: 'node:fs', message: 'a policy does no I/O: read files in a repository and pass the data in' },
  { name: 'fs', message: 'a policy does no I/O: read files in a repository and pass the data in' },
  { name: 'node:fs/promises', message: 'a policy does no I/O: read files in a repository and pass the data in' },
  { name: 'node:http', message: 'a policy does no I/O: HTTP belongs in a repository or controller' },
  { name: 'node:https', message: 'a policy does no I/O: HTTP belongs in a repository or controller' },
  { name: 'node:child_process', message: 'a policy does no I/O: processes belong in a repository' },
  { name: 'child_process', message: 'a policy does no I/O: processes belong in a repository' },
  { name: 'pg', message: 'a policy does no I/O: the database belongs in a repository' },
  { name: 'nats', message: 'a policy does no I/O: NATS belongs in a repository' },
  { name: 'typeorm', message: 'a policy does no I/O: the database belongs in a repository' },
  {
    name: 'node:net',
    importNames: ['Socket', 'Server', 'connect', 'createConnection', 'createServer'],
    message: 'a policy does no I/O: sockets belong in a repository (isIP and BlockList are fine)',
  },
];

const purity = {
  '@typescript-eslint/no-restricted-imports': [
    'error',
    {
      paths: ioModules.map((m) => ({ ...m, allowTypeImports: true })),
      patterns: [
        {
          group: ['@nestjs/*', 'nats/*', 'pg/*', 'typeorm/*'],
          message: 'a policy is plain code: no framework, no I/O',
          allowTypeImports: true,
        },
      ],
    },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: 'time is a parameter of a policy (the caller reads its clock)' },
    { object: 'Math', property: 'random', message: 'draw from a seeded generator (@maas/random) passed in' },
  ],
};

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'artifacts/**', 'coverage/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    // The gateway has one clock (repositories/clock.ts): durations and timestamps come from it, so tests can replace it.
    files: ['services/gateway/src/**/*.ts'],
    ignores: ['services/gateway/src/repositories/clock.ts', 'services/gateway/src/**/*.spec.ts'],
    languageOptions: { parser: tseslint.parser, sourceType: 'module' },
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'read the gateway clock (GATEWAY_CLOCK)' }],
    },
  },
  {
    // Layers: batch builds on the gateway's dispatch use case (services/), never the other way round.
    files: ['services/gateway/src/services/**/*.ts'],
    languageOptions: { parser: tseslint.parser, sourceType: 'module' },
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../batch', '../batch/*'], message: 'services/ does not depend on batch/ (batch builds on dispatch)' }] },
      ],
    },
  },
  // Later entries win for a rule: the purity rules below apply in full to the gateway's policies too.
  {
    files: [
      'services/*/src/policy/**/*.ts',
      'libs/routing/src/**/*.ts',
      'libs/scaling/src/**/*.ts',
      'libs/forecast/src/**/*.ts',
      'libs/random/src/**/*.ts',
      'libs/openai-wire/src/**/*.ts',
    ],
    languageOptions: { parser: tseslint.parser, sourceType: 'module' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: purity,
  },
);
