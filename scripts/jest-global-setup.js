// Medium and e2e tests start services from dist/: transpile once before any test file runs.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--quiet'], { stdio: 'inherit' });
};
