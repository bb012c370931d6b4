#!/usr/bin/env node
'use strict';
// The one command-line tool: `maas <command> [options]`; `maas --help` lists the commands, `maas --version`
// prints the version. Exit codes: 0 done, 1 failed (one line on stderr), 2 usage error (one line on stderr).
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
try {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js'), '--quiet'], { stdio: 'inherit' });
} catch {
  process.exit(1); // build.js said why, in one line
}
require(path.join(root, 'dist', 'cli', 'main.js'))
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err) => {
    process.stderr.write(`maas: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
