#!/usr/bin/env node
// Runs one TypeScript entry point of the repository: transpile what changed, then execute dist/<file>.js.
// Usage: node scripts/run.js bench/forecast.ts [args...]
'use strict';
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run.js <file.ts> [args...]\n');
  process.exit(2);
}
execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--quiet'], { stdio: 'inherit' });
process.argv = [process.argv[0], entry, ...args];
require(path.join(root, 'dist', entry.replace(/\.ts$/, '.js')));
