/**
 * From SAML attributes to a profile, an identity bound to the issuing IdP, and roles. GakuNin IdPs
 * (and SimpleSAMLphp configured like them) name attributes by OID with no FriendlyName, so names are
 * matched by OID first. Scoped attributes are filtered as Shibboleth SP's attribute filter does: a
 * value whose scope (after `@`) is not one of the issuing IdP's `shibmd:Scope`s is not believed.
 */

export const OID = {
  eduPersonPrincipalName: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6',
  mail: 'urn:oid:0.9.2342.19200300.100.1.3',
  displayName: 'urn:oid:2.16.840.1.113730.3.1.241',
  eduPersonAffiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1',
  eduPersonScopedAffiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.9',
  /** GakuNin's jaDisplayName. */
  jaDisplayName: 'urn:oid:1.3.6.1.4.1.32264.1.1.3',
  /** SAML V2.0 Subject Identifier Attributes Profile. */
  subjectId: 'urn:oasis:names:tc:SAML:attribute:subject-id',
  pairwiseId: 'urn:oasis:names:tc:SAML:attribute:pairwise-id',
} as const;

export const DEFAULT_ATTRIBUTE_NAMES = {
  eppn: [OID.eduPersonPrincipalName, 'eduPersonPrincipalName', 'eppn'],
  subjectId: [OID.subjectId, 'subject-id'],
  pairwiseId: [OID.pairwiseId, 'pairwise-id'],
  mail: [OID.mail, 'mail', 'email'],
  displayName: [OID.displayName, OID.jaDisplayName, 'displayName'],
  affiliation: [OID.eduPersonAffiliation, OID.eduPersonScopedAffiliation, 'eduPersonAffiliation', 'eduPersonScopedAffiliation'],
};

export interface AttributeNames {
  eppn: string[];
  subjectId: string[];
  pairwiseId: string[];
  mail: string[];
  displayName: string[];
  affiliation: string[];
}

/** A `shibmd:Scope` from an IdP's metadata: a domain, or (regexp="true") a regular expression over the whole scope. */
export interface Scope {
  value: string;
  regexp: boolean;
}

/** The IdP that issued the assertion, as its metadata describes it. */
export interface IssuingIdp {
  entityId: string;
  scopes: Scope[];
  /** Whether it is the only IdP trusted: unqualified AUTH_ADMINS entries apply only then. */
  sole: boolean;
}

export interface RolePolicy {
  /** Affiliations that grant the `user` role; `*` grants it to everyone. */
  userAffiliations: string[];
  /** `<IdP entityID>!<identifier>` (or a bare identifier when one IdP is trusted) that get `admin`. */
  admins: string[];
}

export interface IdentityPolicy {
  /** Whether an e-mail address alone (no eppn, subject-id or pairwise-id) may identify an account. */
  allowEmailOnly: boolean;
}

export type Role = 'user' | 'admin';
export type SubjectKind = 'eppn' | 'subject-id' | 'pairwise-id' | 'mail';

export interface MappedProfile {
  /** The account id a new account gets (its identifier at the IdP). */
  userId: string;
  /** What identifies the person at the issuing IdP; accounts are keyed on (IdP, subject). */
  subject: string;
  subjectKind: SubjectKind;
  email: string;
  eppn: string | null;
  displayName: string | null;
  affiliations: string[];
  roles: Role[];
}

export type MappingResult =
  | { ok: true; profile: MappedProfile; dropped: string[] }
  | { ok: false; reason: 'missing_attribute' | 'not_entitled' | 'scope_mismatch'; detail: string };

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
  return names
    .flatMap((n) => attrs[n] ?? [])
    .map((v) => v.trim())
    .filter(Boolean);
}

const EMAIL = /^[^@\s]+@[^@\s]+$/;

/** Whether `scope` is one of the IdP's: a literal compares case-insensitively, a regexp must match it whole. */
export function inScope(scope: string, scopes: readonly Scope[]): boolean {
  return scopes.some((s) => {
    if (!s.regexp) return s.value.toLowerCase() === scope.toLowerCase();
    try {
      return new RegExp(`^(?:${s.value})$`).test(scope);
    } catch {
      return false; // a broken expression in metadata vouches for nothing
    }
  });
}

/** The scope of a scoped value (`local@scope`), or undefined when it is not one. */
function scopeOf(value: string): string | undefined {
  const at = value.indexOf('@');
  return at > 0 && at === value.lastIndexOf('@') && at < value.length - 1 ? value.slice(at + 1) : undefined;
}

/** Whether an AUTH_ADMINS entry names this identifier at this IdP. */
export function isAdmin(entries: readonly string[], idp: IssuingIdp, subject: string): boolean {
  return entries.some((entry) => {
    const bang = entry.lastIndexOf('!');
    const entityId = bang >= 0 ? entry.slice(0, bang) : null;
    const identifier = (bang >= 0 ? entry.slice(bang + 1) : entry).trim().toLowerCase();
    if (identifier !== subject) return false;
    return entityId === null ? idp.sole : entityId === idp.entityId;
  });
}

/**
 * Maps attributes to a profile, its identity at the issuing IdP, and roles. Refuses a login whose
 * identifier is scoped outside the IdP's scopes, that has no identifier (an e-mail address counts only
 * when allowed), no usable e-mail address, or no entitling affiliation.
 */
export function mapProfile(
  attrs: SamlAttributes,
  names: AttributeNames,
  roles: RolePolicy,
  idp: IssuingIdp,
  identity: IdentityPolicy,
): MappingResult {
  const email = first(attrs, names.mail)?.toLowerCase();
  if (!email || !EMAIL.test(email)) {
    return { ok: false, reason: 'missing_attribute', detail: `no e-mail address among ${names.mail.join(', ')}` };
  }
  const candidates: [SubjectKind, string | undefined][] = [
    ['eppn', first(attrs, names.eppn)?.toLowerCase()],
    ['subject-id', first(attrs, names.subjectId)?.toLowerCase()],
    ['pairwise-id', first(attrs, names.pairwiseId)?.toLowerCase()],
  ];
  // An identifier out of the issuer's scope is another institution's person: refuse, do not fall back.
  for (const [kind, value] of candidates) {
    if (value === undefined) continue;
    const scope = scopeOf(value);
    if (scope === undefined || !inScope(scope, idp.scopes)) {
      const allowed = idp.scopes.map((s) => (s.regexp ? `/${s.value}/` : s.value)).join(', ') || 'none';
      return { ok: false, reason: 'scope_mismatch', detail: `${kind} ${value} is not scoped within ${idp.entityId}'s scopes (${allowed})` };
    }
  }
  const found = candidates.find((c): c is [SubjectKind, string] => c[1] !== undefined);
  let subjectKind: SubjectKind;
  let subject: string;
  if (found) {
    [subjectKind, subject] = found;
  } else if (identity.allowEmailOnly) {
    [subjectKind, subject] = ['mail', email];
  } else {
    return {
      ok: false,
      reason: 'missing_attribute',
      detail: `no identifier among eduPersonPrincipalName, subject-id, pairwise-id (an e-mail address alone is not accepted)`,
    };
  }
  const eppn = candidates[0][1] ?? null;

  // Scoped affiliations (staff@example.ac.jp) count by their unscoped part, and only within the IdP's scopes.
  const dropped: string[] = [];
  const affiliationValues = all(attrs, names.affiliation).filter((a) => {
    if (!a.includes('@')) return true;
    const scope = scopeOf(a);
    if (scope !== undefined && inScope(scope, idp.scopes)) return true;
    dropped.push(a);
    return false;
  });
  const affiliations = [...new Set(affiliationValues.map((a) => a.split('@')[0].toLowerCase()))];
  const admin = isAdmin(roles.admins, idp, subject);
  const entitling = roles.userAffiliations.map((u) => u.toLowerCase());
  const isUser = admin || entitling.includes('*') || affiliations.some((a) => entitling.includes(a));
  if (!isUser) {
    return {
      ok: false,
      reason: 'not_entitled',
      detail: `affiliation ${affiliations.length ? affiliations.join(', ') : '(none)'} is not one of ${roles.userAffiliations.join(', ')}`,
    };
  }
  return {
    ok: true,
    dropped,
    profile: {
      userId: subject,
      subject,
      subjectKind,
      email,
      eppn,
      displayName: first(attrs, names.displayName) ?? null,
      affiliations,
      roles: admin ? ['user', 'admin'] : ['user'],
    },
  };
}
