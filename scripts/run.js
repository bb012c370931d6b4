#!/usr/bin/env node
// Runs one TypeScript entry point of the repository: transpile what changed, then execute dist/<file>.js.
// Usage: node scripts/run.js bench/forecast.ts [args...]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const usage = 'usage: node scripts/run.js <file.ts> [args...]';
const [entry, ...args] = process.argv.slice(2);
if (entry === '--help' || entry === '-h') {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (!entry || !entry.endsWith('.ts') || !fs.existsSync(path.resolve(root, entry))) {
  process.stderr.write(`run.js: ${entry ? `no TypeScript file ${entry} in the repository` : 'give a file'}; ${usage}\n`);
  process.exit(2);
}
execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--quiet'], { stdio: 'inherit' });
process.argv = [process.argv[0], entry, ...args];
require(path.join(root, 'dist', entry.replace(/\.ts$/, '.js')));
