'use strict';
// The compose development IdP. Writes SimpleSAMLphp's config with the shared writer (eduPerson
// attributes sent by urn:oid: name, as for the identity tests and the quick start) into the state
// volume, with one test account; leaves there what auth reads at start-up (the IdP's metadata, auth's
// SP key and certificate); runs `php -S`; and trusts auth as an SP as soon as auth serves its metadata.
// `start.js --check` is the container's health check.
// Environment: DEV_IDP_STATE_DIR, DEV_IDP_PORT, DEV_IDP_PUBLIC_URL, DEV_IDP_SP_METADATA_URL,
// DEV_IDP_USERNAME, DEV_IDP_EMAIL, DEV_IDP_PASSWORD (else one is made and kept in secrets.json).
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const samlIdp = require('../../../scripts/lib/saml-idp'); // the same layout in the image as in the repository

const env = (name, fallback) => process.env[name] || fallback;
const STATE = env('DEV_IDP_STATE_DIR', '/var/lib/dev-idp');
const PORT = Number(env('DEV_IDP_PORT', '8090'));
/** Where browsers reach the IdP (a published port): every URL in its metadata derives from it. */
const PUBLIC_URL = env('DEV_IDP_PUBLIC_URL', `http://localhost:${PORT}`).replace(/\/+$/, '');
/** auth's SP metadata, fetched inside the compose network. */
const SP_METADATA_URL = env('DEV_IDP_SP_METADATA_URL', 'http://auth:8081/auth/saml/metadata');
const USERNAME = env('DEV_IDP_USERNAME', 'admin');
const EMAIL = env('DEV_IDP_EMAIL', 'admin@localhost');
const CERTIFICATE_DAYS = 3650;
const DISPLAY_NAME = 'open-maas development IdP (not for production)';

const files = {
  secrets: path.join(STATE, 'secrets.json'),
  idpMetadata: path.join(STATE, 'idp-metadata.xml'),
  spDir: path.join(STATE, 'auth-sp'),
};
const localMetadataUrl = `http://127.0.0.1:${PORT}/saml2/idp/metadata.php`;
const log = (msg, fields = {}) =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'info', service: 'saml-idp', msg, ...fields })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The test account's password (DEV_IDP_PASSWORD, else made once) and the IdP's own secrets, kept owner-only. */
function secrets() {
  const kept = fs.existsSync(files.secrets) ? JSON.parse(fs.readFileSync(files.secrets, 'utf8')) : {};
  const made = {
    username: USERNAME,
    password: process.env.DEV_IDP_PASSWORD || kept.password || crypto.randomBytes(12).toString('base64url'),
    secretSalt: kept.secretSalt || crypto.randomBytes(24).toString('hex'),
    adminPassword: kept.adminPassword || crypto.randomBytes(24).toString('base64url'),
  };
  fs.writeFileSync(files.secrets, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600 });
  return made;
}

async function check() {
  const res = await fetch(localMetadataUrl, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) throw new Error(`${localMetadataUrl} answered ${res.status}`);
  for (const file of [files.idpMetadata, path.join(files.spDir, 'sp.pem'), path.join(files.spDir, 'sp.crt')]) {
    if (!fs.existsSync(file)) throw new Error(`${file} not written yet`);
  }
}

/** Trusts auth once its metadata answers, then re-reads it now and then (a new SP key shows up there). */
async function trustAuth(spDir) {
  let trusted = '';
  for (;;) {
    try {
      const res = await fetch(SP_METADATA_URL, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      const xml = await res.text();
      if (xml !== trusted) {
        samlIdp.registerServiceProvider(spDir, 'open-maas', xml);
        trusted = xml;
        log('trusting auth as a service provider', { metadata: SP_METADATA_URL });
      }
      await sleep(300_000);
    } catch {
      await sleep(3_000); // auth starts after this IdP is healthy
    }
  }
}

async function main() {
  fs.mkdirSync(STATE, { recursive: true, mode: 0o700 });
  const kept = secrets();
  const written = samlIdp.writeIdpConfig({
    dir: STATE,
    baseUrl: PUBLIC_URL,
    users: [
      {
        username: kept.username,
        password: kept.password,
        attributes: {
          uid: [kept.username],
          mail: [EMAIL],
          displayName: ['Compose admin'],
          eduPersonPrincipalName: [EMAIL],
          eduPersonAffiliation: ['staff', 'member'],
        },
      },
    ],
    secretSalt: kept.secretSalt,
    adminPassword: kept.adminPassword,
    certificateDays: CERTIFICATE_DAYS,
    contact: { name: 'open-maas docker-compose', email: EMAIL },
    // As a federation IdP would: it wants signed AuthnRequests, and names itself in its metadata.
    idpOptions: { 'validate.authnrequest': true, 'redirect.validate': true, UIInfo: { DisplayName: { en: DISPLAY_NAME } } },
  });
  if (!fs.existsSync(path.join(files.spDir, 'sp.pem')))
    samlIdp.selfSignedCertificate(files.spDir, 'sp', 'open-maas (compose)', CERTIFICATE_DAYS);

  const server = samlIdp.serverCommand({ configDir: written.configDir, host: '0.0.0.0', port: PORT });
  // Its own process group: php -S forks workers that must stop with it.
  const php = spawn(server.command, server.args, { env: { ...process.env, ...server.env }, stdio: 'inherit', detached: true });
  const stop = (signal) => {
    try {
      process.kill(-php.pid, signal);
    } catch {
      /* already gone */
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGTERM'));
  php.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));

  for (;;) {
    try {
      const res = await fetch(localMetadataUrl, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        fs.writeFileSync(files.idpMetadata, await res.text());
        break;
      }
    } catch {
      /* not up yet */
    }
    await sleep(200);
  }
  log('ready', { url: PUBLIC_URL, metadata: written.metadataUrl, login: kept.username, passwordIn: files.secrets });
  await trustAuth(written.spDir);
}

if (process.argv.includes('--check')) {
  check().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`saml-idp: ${err.message}\n`);
      process.exit(1);
    },
  );
} else {
  main().catch((err) => {
    process.stderr.write(`saml-idp: ${err.message}\n`);
    process.exit(1);
  });
}
