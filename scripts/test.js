#!/usr/bin/env node
'use strict';
// `npm test`: contracts check, type check, build, then every jest project (unit, medium against the
// real NATS and PostgreSQL, e2e against started services). NATS and PostgreSQL are the ones at
// NATS_URL / TEST_DATABASE_URL (or DATABASE_URL) when they answer, else started here for the run.
// Extra arguments go to jest (e.g. `npm test -- --selectProjects unit`).
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const infra = require('./lib/infra');

function step(label, fn) {
  const started = Date.now();
  infra.say(`▸ ${label}`);
  const result = fn();
  infra.say(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function main() {
  infra.ensureDependencies();
  step('contracts: generated types match proto/', () =>
    execFileSync(process.execPath, [path.join(infra.root, 'scripts', 'gen-contracts.js'), '--check'], { stdio: 'inherit' }));
  step('type check (tsc --noEmit)', () =>
    execFileSync(process.execPath, [path.join(infra.root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], { cwd: infra.root, stdio: 'inherit' }));
  step('build (swc → dist/)', () => infra.build());

  const nats = await infra.ensureNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', { label: 'test-nats' });
  const pg = await infra.ensurePostgres(process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', { label: 'test-postgres' });

  const artifacts = path.join(infra.root, 'artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  const resultsFile = path.join(artifacts, 'jest-results.json');
  fs.rmSync(resultsFile, { force: true });
  const jestArgs = ['--ci', '--maxWorkers=2', '--json', `--outputFile=${resultsFile}`, ...process.argv.slice(2)];
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(infra.root, 'node_modules', 'jest', 'bin', 'jest.js'), ...jestArgs], {
      cwd: infra.root,
      stdio: 'inherit',
      env: { ...process.env, NATS_URL: nats.url, TEST_DATABASE_URL: pg.url },
    });
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  await pg.stop().catch(() => {});
  await nats.stop().catch(() => {});

  if (fs.existsSync(resultsFile)) {
    const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    process.stdout.write(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped\n`);
    if (r.numTotalTests === 0) {
      process.stdout.write('no test ran\n');
      process.exit(1);
    }
  }
  process.exit(code);
}

main().catch((err) => {
  process.stderr.write(`npm test: ${err.message}\n`);
  process.exit(1);
});
