'use strict';
// SimpleSAMLphp (Debian's package) as a SAML 2.0 IdP under `php -S`: its config, keys, users and the
// command that runs it. Used by the quick start's development IdP and by the identity tests.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const SIMPLESAMLPHP_WWW = '/usr/share/simplesamlphp/www';
const ATTRIBUTE_MAPS = '/etc/simplesamlphp/attributemap/';

/** Whether Debian's SimpleSAMLphp and a php binary are on this machine. */
function available() {
  if (!fs.existsSync(path.join(SIMPLESAMLPHP_WWW, 'saml2', 'idp', 'metadata.php'))) return false;
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, 'php')));
}

/** A self-signed RSA certificate and key (PEM) made with openssl; the key file is readable by its owner only. */
function selfSignedCertificate(dir, name, commonName = name, days = 3) {
  fs.mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, `${name}.pem`);
  const certFile = path.join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      String(days),
      '-subj',
      `/CN=${commonName}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'pipe' },
  );
  fs.chmodSync(keyFile, 0o600);
  return { keyFile, certFile, keyPem: fs.readFileSync(keyFile, 'utf8'), certPem: fs.readFileSync(certFile, 'utf8') };
}

/** A JavaScript value as a PHP literal. */
function php(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(php).join(', ')}]`;
  return `[${Object.entries(value)
    .map(([k, v]) => `${php(k)} => ${php(v)}`)
    .join(', ')}]`;
}

/**
 * Writes a complete SimpleSAMLphp IdP under `dir` (config/, cert/, metadata/, sp/, log/, data/, tmp/,
 * sessions/): users with eduPerson attributes sent by `urn:oid:` name as GakuNin IdPs do, and every
 * SP whose metadata XML is dropped into sp/ (read on each request, so SPs can be added while it runs).
 * The signing certificate in cert/ is kept when it exists. Returns where things are.
 */
function writeIdpConfig({
  dir,
  baseUrl,
  users,
  secretSalt,
  adminPassword,
  idpOptions = {},
  certificateDays = 3,
  contact = { name: 'Test', email: 'test@example.ac.jp' },
}) {
  const sub = (name) => {
    const p = path.join(dir, name);
    fs.mkdirSync(p, { recursive: true, mode: 0o700 });
    return `${p}/`;
  };
  const [configDir, certDir, metadataDir, spDir, logDir] = ['config', 'cert', 'metadata', 'sp', 'log'].map(sub);
  const keyFile = path.join(certDir, 'server.pem');
  const certFile = path.join(certDir, 'server.crt');
  const cert =
    fs.existsSync(keyFile) && fs.existsSync(certFile)
      ? { keyFile, certFile, keyPem: fs.readFileSync(keyFile, 'utf8'), certPem: fs.readFileSync(certFile, 'utf8') }
      : selfSignedCertificate(certDir, 'server', new URL(baseUrl).hostname, certificateDays);

  const config = {
    baseurlpath: `${baseUrl}/`,
    certdir: certDir,
    loggingdir: logDir,
    datadir: sub('data'),
    tempdir: sub('tmp'),
    metadatadir: metadataDir,
    attributenamemapdir: ATTRIBUTE_MAPS,
    secretsalt: secretSalt,
    'auth.adminpassword': adminPassword,
    technicalcontact_name: contact.name,
    technicalcontact_email: contact.email,
    timezone: 'UTC',
    'enable.saml20-idp': true,
    // Redirects back to any loopback port (the SPs), e.g. after IdP-initiated logout.
    'trusted.url.domains': ['127\\.0\\.0\\.1:\\d+', 'localhost:\\d+'],
    'trusted.url.regex': true,
    'module.enable': { exampleauth: true, core: true, saml: true, admin: false },
    'session.cookie.secure': false,
    'session.cookie.samesite': null,
    'language.cookie.secure': false,
    'session.phpsession.savepath': sub('sessions'),
    'store.type': 'phpsession',
    'logging.handler': 'file',
    'logging.logfile': 'idp.log',
    'metadata.sources': [{ type: 'flatfile' }],
    showerrors: true,
    errorreporting: false,
    production: false,
  };
  const secret = { mode: 0o600 };
  fs.writeFileSync(
    path.join(configDir, 'config.php'),
    `<?php\n$config = ${php(config)};\n$config['logging.level'] = SimpleSAML\\Logger::INFO;\n`,
    secret,
  );

  const userPass = {};
  for (const u of users) userPass[`${u.username}:${u.password}`] = u.attributes;
  fs.writeFileSync(
    path.join(configDir, 'authsources.php'),
    `<?php\n$config = ${php({ admin: ['core:AdminPassword'], 'example-userpass': { 0: 'exampleauth:UserPass', ...userPass } })};\n`,
    secret,
  );

  fs.writeFileSync(
    path.join(metadataDir, 'saml20-idp-hosted.php'),
    `<?php\n$metadata['__DYNAMIC:1__'] = ${php({
      host: '__DEFAULT__',
      privatekey: 'server.pem',
      certificate: 'server.crt',
      auth: 'example-userpass',
      // GakuNin style: attributes named by OID, no FriendlyName.
      'attributes.NameFormat': 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
      authproc: { 100: { class: 'core:AttributeMap', 0: 'name2oid' } },
      // As a federation IdP does, its metadata names the scopes of the identities it vouches for (shibmd:Scope).
      scope: [
        ...new Set(
          users
            .flatMap((u) => u.attributes.eduPersonPrincipalName ?? [])
            .map((eppn) => eppn.split('@')[1])
            .filter(Boolean),
        ),
      ],
      ...idpOptions,
    })};\n`,
  );

  // SPs come from their own metadata XML, with options (a .json beside it) merged on top.
  fs.writeFileSync(
    path.join(metadataDir, 'saml20-sp-remote.php'),
    `<?php
foreach (glob(${php(spDir)} . '*.xml') as $file) {
    $options = is_file($file . '.json') ? json_decode(file_get_contents($file . '.json'), true) : [];
    foreach (\\SimpleSAML\\Metadata\\SAMLParser::parseDescriptorsFile($file) as $entityId => $entity) {
        $sp = $entity->getMetadata20SP();
        if ($sp !== null) {
            $metadata[$entityId] = array_merge($sp, $options);
        }
    }
}
`,
  );

  return {
    dir,
    configDir,
    spDir,
    logFile: path.join(logDir, 'idp.log'),
    cert,
    metadataUrl: `${baseUrl}/saml2/idp/metadata.php`,
    ssoUrl: `${baseUrl}/saml2/idp/SSOService.php`,
  };
}

/** Trusts an SP: its metadata XML (and SimpleSAMLphp options for it) under the IdP's sp/ folder, as `name`. */
function registerServiceProvider(spDir, name, metadataXml, options = {}) {
  const file = path.join(spDir, `${name}.xml`);
  fs.writeFileSync(file, metadataXml);
  fs.writeFileSync(`${file}.json`, JSON.stringify(options));
  return { update: (o) => fs.writeFileSync(`${file}.json`, JSON.stringify(o)) };
}

/**
 * How to run the IdP on host:port. `php -S` forks its workers into the same process group, so run it
 * detached and stop it by group; -q keeps the per-request lines out of the output.
 */
function serverCommand({ configDir, host = '127.0.0.1', port, workers = 4 }) {
  return {
    command: 'php',
    args: ['-S', `${host}:${port}`, '-q', '-t', SIMPLESAMLPHP_WWW],
    env: { SIMPLESAMLPHP_CONFIG_DIR: configDir, PHP_CLI_SERVER_WORKERS: String(workers) },
  };
}

module.exports = { SIMPLESAMLPHP_WWW, available, selfSignedCertificate, writeIdpConfig, registerServiceProvider, serverCommand };
