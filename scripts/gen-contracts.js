#!/usr/bin/env node
// Generates TypeScript types for every message schema under proto/ into libs/contracts/src/generated/.
// `--check` exits non-zero when the committed types differ from what the schemas generate.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { compile, compileFromFile } = require('json-schema-to-typescript');

const root = path.resolve(__dirname, '..');
const protoDir = path.join(root, 'proto');
const outDir = path.join(root, 'libs', 'contracts', 'src', 'generated');

function schemaFiles() {
  const files = [];
  for (const domain of fs.readdirSync(protoDir).sort()) {
    const versionDir = path.join(protoDir, domain, 'v1');
    if (!fs.existsSync(versionDir)) continue;
    for (const f of fs.readdirSync(versionDir).sort()) {
      if (f.endsWith('.schema.json')) files.push({ domain, file: path.join(versionDir, f) });
    }
  }
  return files;
}

async function generate() {
  const byDomain = new Map();
  for (const { domain, file } of schemaFiles()) {
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    const options = {
      bannerComment: '',
      cwd: path.dirname(file),
      additionalProperties: false,
      declareExternallyReferenced: false,
      ignoreMinAndMaxItems: true,
      style: { singleQuote: true },
    };
    let ts = '';
    if (schema.type) {
      ts = await compileFromFile(file, options);
    } else {
      // A definitions-only file: one exported type per $def, referenced from the other schemas.
      for (const [name, def] of Object.entries(schema.$defs ?? {})) {
        ts += await compile({ ...def, title: name, $defs: schema.$defs }, name, options);
      }
    }
    byDomain.set(domain, (byDomain.get(domain) ?? '') + ts + '\n');
  }
  const out = new Map();
  for (const [domain, body] of byDomain) {
    out.set(
      `${domain}.ts`,
      `/* Generated from proto/${domain}/v1 by scripts/gen-contracts.js; do not edit. */\n/* eslint-disable */\n\n${body.trimEnd()}\n`,
    );
  }
  return out;
}

async function main() {
  const generated = await generate();
  if (process.argv.includes('--check')) {
    const stale = [...generated].filter(([name, text]) => {
      const file = path.join(outDir, name);
      return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text;
    });
    if (stale.length) {
      process.stderr.write(`contracts out of date: ${stale.map(([n]) => n).join(', ')}; run npm run gen:contracts\n`);
      process.exit(1);
    }
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, text] of generated) fs.writeFileSync(path.join(outDir, name), text);
  process.stderr.write(`generated ${generated.size} files in ${path.relative(root, outDir)}\n`);
}

main().catch((err) => {
  process.stderr.write(`gen-contracts: ${err.message}\n`);
  process.exit(1);
});
