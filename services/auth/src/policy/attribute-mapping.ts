/**
 * From SAML attributes to a user profile and roles. GakuNin IdPs (and SimpleSAMLphp configured like
 * them) name attributes by OID with no FriendlyName, so names are matched by OID first.
 */

export const OID = {
  eduPersonPrincipalName: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6',
  mail: 'urn:oid:0.9.2342.19200300.100.1.3',
  displayName: 'urn:oid:2.16.840.1.113730.3.1.241',
  eduPersonAffiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1',
  eduPersonScopedAffiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.9',
  /** GakuNin's jaDisplayName. */
  jaDisplayName: 'urn:oid:1.3.6.1.4.1.32264.1.1.3',
} as const;

export const DEFAULT_ATTRIBUTE_NAMES = {
  eppn: [OID.eduPersonPrincipalName, 'eduPersonPrincipalName', 'eppn'],
  mail: [OID.mail, 'mail', 'email'],
  displayName: [OID.displayName, OID.jaDisplayName, 'displayName'],
  affiliation: [OID.eduPersonAffiliation, OID.eduPersonScopedAffiliation, 'eduPersonAffiliation', 'eduPersonScopedAffiliation'],
};

export interface AttributeNames {
  eppn: string[];
  mail: string[];
  displayName: string[];
  affiliation: string[];
}

export interface RolePolicy {
  /** Affiliations that grant the `user` role; `*` grants it to everyone. */
  userAffiliations: string[];
  /** eppn or e-mail addresses (lower-case compare) that get `admin`. */
  admins: string[];
}

export type Role = 'user' | 'admin';

export interface MappedProfile {
  userId: string;
  email: string;
  eppn: string | null;
  displayName: string | null;
  affiliations: string[];
  roles: Role[];
}

export type MappingResult = { ok: true; profile: MappedProfile } | { ok: false; reason: 'missing_attribute' | 'not_entitled'; detail: string };

/** Attributes as received: name (and FriendlyName, when sent) → values. */
export type SamlAttributes = Record<string, string[]>;

function first(attrs: SamlAttributes, names: string[]): string | undefined {
  for (const name of names) {
    const value = attrs[name]?.find((v) => v.trim() !== '');
    if (value !== undefined) return value.trim();
  }
  return undefined;
}

function all(attrs: SamlAttributes, names: string[]): string[] {
  return names.flatMap((n) => attrs[n] ?? []).map((v) => v.trim()).filter(Boolean);
}

const EMAIL = /^[^@\s]+@[^@\s]+$/;

/** Maps attributes to a profile and roles; refuses a login with no usable e-mail or no entitling affiliation. */
export function mapProfile(attrs: SamlAttributes, names: AttributeNames, roles: RolePolicy): MappingResult {
  const email = first(attrs, names.mail)?.toLowerCase();
  if (!email || !EMAIL.test(email)) {
    return { ok: false, reason: 'missing_attribute', detail: `no e-mail address among ${names.mail.join(', ')}` };
  }
  const eppn = first(attrs, names.eppn)?.toLowerCase() ?? null;
  // Scoped affiliations (staff@example.ac.jp) count by their unscoped part.
  const affiliations = [...new Set(all(attrs, names.affiliation).map((a) => a.split('@')[0].toLowerCase()))];
  const admins = roles.admins.map((a) => a.toLowerCase());
  const isAdmin = admins.includes(email) || (eppn !== null && admins.includes(eppn));
  const isUser = isAdmin || roles.userAffiliations.includes('*') || affiliations.some((a) => roles.userAffiliations.map((u) => u.toLowerCase()).includes(a));
  if (!isUser) {
    return {
      ok: false,
      reason: 'not_entitled',
      detail: `affiliation ${affiliations.length ? affiliations.join(', ') : '(none)'} is not one of ${roles.userAffiliations.join(', ')}`,
    };
  }
  return {
    ok: true,
    profile: {
      userId: eppn ?? email,
      email,
      eppn,
      displayName: first(attrs, names.displayName) ?? null,
      affiliations,
      roles: isAdmin ? ['user', 'admin'] : ['user'],
    },
  };
}
