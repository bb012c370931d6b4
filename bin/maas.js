#!/usr/bin/env node
'use strict';
// The one command-line tool: `maas <command> [options]`; `maas --help` lists the commands.
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js'), '--quiet'], { stdio: 'inherit' });
require(path.join(root, 'dist', 'cli', 'main.js'))
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code; })
  .catch((err) => {
    process.stderr.write(`maas: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
