// Medium and e2e tests start services from dist/: transpile once before any test file runs.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  // The shared test NATS (127.0.0.1:4222) has no authentication: tests and the services and workers they
  // start opt out of NATS credentials. Tests of the secured stack start their own NATS and clear this.
  process.env.MAAS_NATS_INSECURE ??= '1';
  execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--quiet'], { stdio: 'inherit' });
};
