// Types for saml-idp.js, which the identity tests (TypeScript) share with the quick start (plain Node).

export const SIMPLESAMLPHP_WWW: string;

export interface SamlIdpUser {
  username: string;
  password: string;
  /** LDAP-style names (uid, mail, displayName, eduPersonPrincipalName, eduPersonAffiliation); sent as urn:oid: names. */
  attributes: Record<string, string[]>;
}

export interface Certificate {
  keyFile: string;
  certFile: string;
  keyPem: string;
  certPem: string;
}

export interface WrittenIdpConfig {
  dir: string;
  configDir: string;
  spDir: string;
  logFile: string;
  cert: Certificate;
  metadataUrl: string;
  ssoUrl: string;
}

export function available(): boolean;

export function selfSignedCertificate(dir: string, name: string, commonName?: string, days?: number): Certificate;

export function writeIdpConfig(options: {
  dir: string;
  baseUrl: string;
  users: SamlIdpUser[];
  secretSalt: string;
  adminPassword: string;
  idpOptions?: Record<string, unknown>;
  certificateDays?: number;
  contact?: { name: string; email: string };
}): WrittenIdpConfig;

export function registerServiceProvider(
  spDir: string,
  name: string,
  metadataXml: string,
  options?: Record<string, unknown>,
): { update(options: Record<string, unknown>): void };

export function serverCommand(options: { configDir: string; host?: string; port: number; workers?: number }): {
  command: string;
  args: string[];
  env: Record<string, string>;
};
