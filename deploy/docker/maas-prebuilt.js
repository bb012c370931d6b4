#!/usr/bin/env node
'use strict';
// `maas` inside the image (copied to bin/maas.js): dist/ was built with the image, so the CLI runs
// as it is, without the transpile step of the repository's bin/maas.js.
const path = require('node:path');

require(path.join(__dirname, '..', 'dist', 'cli', 'main.js'))
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err) => {
    process.stderr.write(`maas: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
