#!/usr/bin/env node
// Transpiles every TypeScript source to dist/ with swc (about a second on two cores);
// type checking is a separate step (`npm run typecheck`), run by the test command.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..');
const sourceRoots = ['services', 'libs', 'bench', 'e2e', 'cli'];
const outRoot = path.join(root, 'dist');

function* walk(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield full;
  }
}

const options = {
  module: { type: 'commonjs' },
  sourceMaps: true,
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    keepClassNames: true,
    baseUrl: root,
    paths: { '@maas/*': ['libs/*/src'] },
  },
};

async function build() {
  const started = Date.now();
  const files = sourceRoots.flatMap((dir) => [...walk(path.join(root, dir))]);
  let written = 0;
  await Promise.all(
    files.map(async (file) => {
      const rel = path.relative(root, file);
      const out = path.join(outRoot, rel.replace(/\.ts$/, '.js'));
      const srcStat = fs.statSync(file);
      if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= srcStat.mtimeMs) return;
      const result = await swc.transformFile(file, { ...options, filename: file, sourceFileName: path.relative(path.dirname(out), file) });
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, `${result.code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
      if (result.map) fs.writeFileSync(`${out}.map`, result.map);
      written += 1;
    }),
  );
  if (!process.argv.includes('--quiet')) {
    process.stderr.write(`build: ${written} of ${files.length} files transpiled in ${Date.now() - started} ms\n`);
  }
}

build().catch((err) => {
  process.stderr.write(`build failed: ${err.message}\n`);
  process.exit(1);
});
