import * as fs from 'node:fs';
import { ConfigError, env, Field, loadConfig } from '@maas/config';
import { DEFAULT_ATTRIBUTE_NAMES } from './policy/attribute-mapping';

/** A comma-separated list (blank entries dropped). */
function list(fallback: string[]): Field<string[]> {
  return {
    describe: 'a comma-separated list',
    parse: (raw) =>
      raw === undefined || raw.trim() === ''
        ? fallback
        : raw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
  };
}

/** A readable file; its contents are the value. */
function optionalFile(): Field<{ path: string; text: string } | undefined> {
  return {
    describe: 'a readable file path (optional)',
    parse(raw, key) {
      if (raw === undefined || raw === '') return undefined;
      try {
        return { path: raw, text: fs.readFileSync(raw, 'utf8') };
      } catch (err) {
        throw new ConfigError(
          `${key} must be a readable file, got ${JSON.stringify(raw)} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
        );
      }
    },
  };
}

function timeZone(fallback: string): Field<string> {
  return {
    describe: 'an IANA time zone',
    parse(raw, key) {
      const value = raw === undefined || raw === '' ? fallback : raw;
      try {
        new Intl.DateTimeFormat('en', { timeZone: value });
      } catch {
        throw new ConfigError(`${key} must be an IANA time zone such as Asia/Tokyo, got ${JSON.stringify(raw)}`);
      }
      return value;
    },
  };
}

/** Every knob of auth, read once at start-up; a bad value fails the start naming the variable. */
export const authConfigSpec = {
  /** The origin browsers use to reach the platform (through the gateway); SAML endpoints and cookies derive from it. */
  AUTH_PUBLIC_URL: env.url('http://127.0.0.1:8080', ['http', 'https']),
  /** SP entityID; defaults to the metadata URL. */
  SAML_SP_ENTITY_ID: env.optionalString(),
  /** SP signing (and decryption) key and certificate, PEM. Required once an IdP is configured. */
  SAML_SP_KEY_FILE: optionalFile(),
  SAML_SP_CERT_FILE: optionalFile(),
  /** Display name in the SP metadata (mdui). */
  SAML_SP_DISPLAY_NAME: env.string('open-maas'),
  /** IdP metadata: files or http(s) URLs, each one IdP or a federation aggregate (comma-separated). */
  SAML_IDP_METADATA: list([]),
  /** Certificates (PEM files) that sign the metadata sources; when set, unsigned or badly signed metadata is refused. */
  SAML_IDP_METADATA_CERTS: list([]),
  /** How often metadata from URLs is fetched again. */
  SAML_METADATA_REFRESH: env.duration('6h'),
  /** A SAML discovery service (GakuNin: https://ds.gakunin.nii.ac.jp/WAYF) used when the login names no IdP. */
  SAML_DISCOVERY_URL: env.optionalString(),
  /** Clock skew tolerated on NotBefore / NotOnOrAfter. */
  SAML_CLOCK_SKEW: env.duration('60s'),
  /** How long an AuthnRequest we sent stays answerable (unanswered ones are deleted on a timer after that). */
  SAML_REQUEST_TTL: env.duration('10m'),
  /** Logins one client address may start per minute (each stores a pending request); more get 429. A campus NAT is one address. */
  AUTH_LOGIN_RATE_LIMIT: env.int(120, 1, 100_000),
  /** Attribute names (urn:oid: first) for each profile field. */
  SAML_ATTR_EPPN: list(DEFAULT_ATTRIBUTE_NAMES.eppn),
  SAML_ATTR_SUBJECT_ID: list(DEFAULT_ATTRIBUTE_NAMES.subjectId),
  SAML_ATTR_PAIRWISE_ID: list(DEFAULT_ATTRIBUTE_NAMES.pairwiseId),
  SAML_ATTR_MAIL: list(DEFAULT_ATTRIBUTE_NAMES.mail),
  SAML_ATTR_DISPLAY_NAME: list(DEFAULT_ATTRIBUTE_NAMES.displayName),
  SAML_ATTR_AFFILIATION: list(DEFAULT_ATTRIBUTE_NAMES.affiliation),
  /** eduPersonAffiliation values that grant use of the platform (`*`: everyone the IdP vouches for). */
  AUTH_USER_AFFILIATIONS: list(['faculty', 'staff', 'member']),
  /**
   * Administrators, each `<IdP entityID>!<identifier>` (eppn, subject-id or pairwise-id as that IdP
   * sends it). A bare identifier applies only while a single IdP is trusted.
   */
  AUTH_ADMINS: list([]),
  /** Whether an IdP that sends an e-mail address but no eppn, subject-id or pairwise-id may sign people in by it. */
  AUTH_ALLOW_EMAIL_ONLY: env.bool(false),
  /** Browser session lifetime, and how long an unused one survives. */
  AUTH_SESSION_TTL: env.duration('12h'),
  AUTH_SESSION_IDLE: env.duration('2h'),
  /** Peers whose X-Forwarded-For / -Proto are believed (Express trust-proxy syntax: IPs, CIDRs, loopback). */
  AUTH_TRUSTED_PROXIES: list(['loopback']),
  AUTH_COOKIE_NAME: env.string('maas_session'),
  /** Days in the portal's usage chart start at midnight here. */
  PORTAL_TIME_ZONE: timeZone('UTC'),
  /** How many days the usage chart shows. */
  PORTAL_USAGE_DAYS: env.int(30, 7, 366),
  /**
   * A one-time sign-in link's record (JSON: the token's SHA-256, the account, the expiry), written by
   * whoever printed the link (`npm start` without an IdP); redeeming it deletes the file. Empty: no links.
   */
  AUTH_SIGN_IN_LINK_FILE: env.optionalString(),
};

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export function loadAuthConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(authConfigSpec, source);
  if (config.SAML_IDP_METADATA.length > 0 && (!config.SAML_SP_KEY_FILE || !config.SAML_SP_CERT_FILE)) {
    throw new ConfigError('config: SAML_SP_KEY_FILE and SAML_SP_CERT_FILE must be set when SAML_IDP_METADATA is');
  }
  const base = config.AUTH_PUBLIC_URL.replace(/\/+$/, '');
  return {
    ...config,
    AUTH_PUBLIC_URL: base,
    SAML_SP_ENTITY_ID: config.SAML_SP_ENTITY_ID ?? `${base}/auth/saml/metadata`,
    /** Derived endpoints, all from the configured public URL (never from a request's Host header). */
    endpoints: {
      metadata: `${base}/auth/saml/metadata`,
      login: `${base}/auth/saml/login`,
      acs: `${base}/auth/saml/acs`,
      slo: `${base}/auth/saml/slo`,
      portal: `${base}/portal`,
    },
  };
}

export const AUTH_CONFIG = Symbol('AUTH_CONFIG');
