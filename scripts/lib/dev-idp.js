'use strict';
// The quick start's development IdP: SimpleSAMLphp on loopback with one test user, its config, keys
// and secrets under <state>/dev-idp (the test user's password is made once per installation), and
// auth's SP key beside them. Not for production: anyone on this machine who can read .maas/ can sign in.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const samlIdp = require('./saml-idp');

const TEST_USER = 'admin';
const TEST_EMAIL = 'admin@localhost';
const DISPLAY_NAME = 'open-maas development IdP (not for production)';
/** Long enough that an installation's IdP and SP keys do not lapse under it. */
const CERTIFICATE_DAYS = 3650;

/** The installation's secrets: made on first use, then read back (owner-only file). */
function secrets(dir) {
  const file = path.join(dir, 'secrets.json');
  if (fs.existsSync(file)) {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (kept.testUserPassword && kept.secretSalt && kept.adminPassword) return { file, ...kept };
  }
  const made = {
    testUserPassword: crypto.randomBytes(12).toString('base64url'),
    secretSalt: crypto.randomBytes(24).toString('hex'),
    adminPassword: crypto.randomBytes(24).toString('base64url'),
  };
  fs.writeFileSync(file, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600 });
  return { file, ...made };
}

/**
 * Writes the IdP's config for 127.0.0.1:port and returns how to run it, the login, and what auth needs
 * (its SP key and certificate; the IdP's metadata file once `saveMetadata` has fetched it).
 */
function prepareDevIdp({ stateDir, port }) {
  const dir = path.join(stateDir, 'dev-idp');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const kept = secrets(dir);
  const baseUrl = `http://127.0.0.1:${port}`;
  const written = samlIdp.writeIdpConfig({
    dir,
    baseUrl,
    users: [
      {
        username: TEST_USER,
        password: kept.testUserPassword,
        attributes: {
          uid: [TEST_USER],
          mail: [TEST_EMAIL],
          displayName: ['Quick-start admin'],
          eduPersonPrincipalName: [TEST_EMAIL],
          eduPersonAffiliation: ['staff', 'member'],
        },
      },
    ],
    secretSalt: kept.secretSalt,
    adminPassword: kept.adminPassword,
    certificateDays: CERTIFICATE_DAYS,
    contact: { name: 'open-maas quick start', email: TEST_EMAIL },
    // As a federation IdP would: it wants signed AuthnRequests, and names itself in its metadata.
    idpOptions: { 'validate.authnrequest': true, 'redirect.validate': true, UIInfo: { DisplayName: { en: DISPLAY_NAME } } },
  });
  const spDir = path.join(dir, 'auth-sp');
  const spKey = path.join(spDir, 'sp.pem');
  const spCert = path.join(spDir, 'sp.crt');
  if (!fs.existsSync(spKey) || !fs.existsSync(spCert))
    samlIdp.selfSignedCertificate(spDir, 'sp', 'open-maas quick start', CERTIFICATE_DAYS);
  const metadataFile = path.join(dir, 'idp-metadata.xml');
  return {
    ...written,
    baseUrl,
    displayName: DISPLAY_NAME,
    login: { username: TEST_USER, password: kept.testUserPassword, email: TEST_EMAIL },
    secretsFile: kept.file,
    server: samlIdp.serverCommand({ configDir: written.configDir, host: '127.0.0.1', port }),
    authEnv: {
      SAML_SP_KEY_FILE: spKey,
      SAML_SP_CERT_FILE: spCert,
      SAML_IDP_METADATA: metadataFile,
      SAML_SP_DISPLAY_NAME: 'open-maas (quick start)',
      AUTH_ADMINS: TEST_EMAIL,
    },
    /** Fetches the running IdP's metadata into the file auth reads; false when it did not answer in time. */
    async saveMetadata(timeoutMs, stillRunning) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && stillRunning()) {
        try {
          const res = await fetch(written.metadataUrl, { signal: AbortSignal.timeout(2000) });
          if (res.ok) {
            fs.writeFileSync(metadataFile, await res.text());
            return true;
          }
        } catch {
          /* not yet */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    },
    /** Trusts auth as an SP: its metadata, as the gateway serves it. */
    async trust(spMetadataUrl) {
      const res = await fetch(spMetadataUrl, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`GET ${spMetadataUrl} answered ${res.status}`);
      samlIdp.registerServiceProvider(written.spDir, 'quick-start', await res.text());
    },
  };
}

module.exports = { prepareDevIdp, available: samlIdp.available };
