#!/usr/bin/env node
'use strict';
// `npm test`: contracts check, type check, build, then every jest project (unit, medium against the
// real NATS and PostgreSQL, e2e against started services). NATS and PostgreSQL are the ones at
// NATS_URL / TEST_DATABASE_URL (or DATABASE_URL) when they answer, else started here for the run.
// First it installs the Debian packages the suites use when missing and it can (as `npm start`
// installs what it needs); when it cannot, it says which parts are missing, and their suites fail.
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

const USAGE = `usage: npm test [-- JEST_OPTIONS…]

Installs what is missing (npm dependencies; the Debian packages of scripts/install-system-packages.sh
when run as root or with passwordless sudo), checks the generated contracts, type-checks, lints, checks formatting (prettier), builds, finds
or starts NATS and PostgreSQL, then runs every jest project (unit, medium, e2e) and prints one summary
line. Options after -- go to jest, e.g. \`npm test -- --selectProjects unit\` or \`npm test -- e2e/batch\`.

environment: NATS_URL, TEST_DATABASE_URL (or DATABASE_URL); MAAS_SKIP_SYSTEM_PACKAGES=1 skips the apt step.
`;

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.env.MAAS_SKIP_SYSTEM_PACKAGES !== '1') step('system packages', () => infra.ensureSystemPackages());
  infra.ensureDependencies();
  step('contracts: generated types match proto/', () =>
    execFileSync(process.execPath, [path.join(infra.root, 'scripts', 'gen-contracts.js'), '--check'], { stdio: 'inherit' }),
  );
  step('type check (tsc --noEmit)', () =>
    execFileSync(process.execPath, [path.join(infra.root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], {
      cwd: infra.root,
      stdio: 'inherit',
    }),
  );
  step('lint (eslint: pure policies, one gateway clock)', () =>
    execFileSync(process.execPath, [path.join(infra.root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--max-warnings', '0', '.'], {
      cwd: infra.root,
      stdio: 'inherit',
    }),
  );
  step('format (prettier --check)', () =>
    execFileSync(
      process.execPath,
      [path.join(infra.root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '.', '--log-level', 'warn'],
      {
        cwd: infra.root,
        stdio: 'inherit',
      },
    ),
  );
  step('build (swc → dist/)', () => infra.build());

  const nats = await infra.ensureNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', { label: 'test-nats' });
  const pg = await infra.ensurePostgres(
    process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    { label: 'test-postgres' },
  );

  const artifacts = path.join(infra.root, 'artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  const resultsFile = path.join(artifacts, 'jest-summary.json');
  fs.rmSync(resultsFile, { force: true });
  const jestArgs = [
    '--ci',
    '--maxWorkers=2',
    '--reporters=default',
    `--reporters=${path.join(infra.root, 'scripts', 'jest-summary-reporter.js')}`,
    ...process.argv.slice(2),
  ];
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(infra.root, 'node_modules', 'jest', 'bin', 'jest.js'), ...jestArgs], {
      cwd: infra.root,
      stdio: 'inherit',
      env: { ...process.env, NATS_URL: nats.url, TEST_DATABASE_URL: pg.url, MAAS_JEST_SUMMARY: resultsFile },
    });
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    // Ctrl-C reaches jest too (same process group); wait for it so NATS and PostgreSQL stop after it.
    process.on('SIGINT', () => {});
  });
  await pg.stop().catch(() => {});
  await nats.stop().catch(() => {});

  return summarise(resultsFile, code);
}

/** The one summary line, whatever happened to jest's own reporters. */
function summarise(resultsFile, code) {
  let r;
  try {
    r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  } catch {
    process.stdout.write(`\ntests: no summary (jest exited with code ${code} before reporting)\n`);
    return code || 1;
  }
  for (const name of r.failedTests.slice(0, 50)) process.stdout.write(`  failed: ${name}\n`);
  process.stdout.write(
    `\ntests: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.suitesThatDidNotRun ? ` (${r.suitesThatDidNotRun} suites failed to run)` : ''}\n`,
  );
  if (r.total === 0) {
    process.stdout.write('no test ran\n');
    return 1;
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`npm test: ${infra.lastLine(err.message)}\n`);
    process.exit(1);
  },
);
