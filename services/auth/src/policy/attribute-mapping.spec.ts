import { DEFAULT_ATTRIBUTE_NAMES, inScope, IssuingIdp, mapProfile, OID } from './attribute-mapping';

const roles = { userAffiliations: ['faculty', 'staff'], admins: ['https://idp.example.ac.jp/idp/shibboleth!boss@example.ac.jp'] };
const exampleIdp: IssuingIdp = {
  entityId: 'https://idp.example.ac.jp/idp/shibboleth',
  scopes: [{ value: 'example.ac.jp', regexp: false }],
  sole: false,
};
const otherIdp: IssuingIdp = {
  entityId: 'https://idp.other-u.ac.jp/idp/shibboleth',
  scopes: [{ value: 'other-u.ac.jp', regexp: false }],
  sole: false,
};
const strict = { allowEmailOnly: false };
const gakunin = (o: Record<string, string[]> = {}) => ({
  [OID.eduPersonPrincipalName]: ['Ada@Example.ac.jp'],
  [OID.mail]: ['Ada.Lovelace@Example.ac.jp'],
  [OID.displayName]: ['Ada Lovelace'],
  [OID.eduPersonAffiliation]: ['faculty', 'member'],
  ...o,
});
const map = (attrs: Record<string, string[]>, idp = exampleIdp, r = roles, identity = strict) =>
  mapProfile(attrs, DEFAULT_ATTRIBUTE_NAMES, r, idp, identity);

describe('mapProfile', () => {
  it('maps OID-named attributes (no FriendlyName) to a profile keyed on the eppn, with the user role', () => {
    expect(map(gakunin())).toEqual({
      ok: true,
      dropped: [],
      profile: {
        userId: 'ada@example.ac.jp',
        subject: 'ada@example.ac.jp',
        subjectKind: 'eppn',
        email: 'ada.lovelace@example.ac.jp',
        eppn: 'ada@example.ac.jp',
        displayName: 'Ada Lovelace',
        affiliations: ['faculty', 'member'],
        roles: ['user'],
      },
    });
  });

  it("refuses an eppn, subject-id or pairwise-id scoped outside the issuing IdP's scopes", () => {
    expect(map(gakunin(), otherIdp)).toMatchObject({
      ok: false,
      reason: 'scope_mismatch',
      detail: expect.stringContaining('eppn ada@example.ac.jp'),
    });
    const noEppn = gakunin({ [OID.eduPersonPrincipalName]: [] });
    expect(map({ ...noEppn, [OID.subjectId]: ['x9@example.ac.jp'] }, otherIdp)).toMatchObject({ ok: false, reason: 'scope_mismatch' });
    expect(map({ ...noEppn, [OID.pairwiseId]: ['HASH@example.ac.jp'] }, otherIdp)).toMatchObject({ ok: false, reason: 'scope_mismatch' });
    // An identifier with no scope at all, or two, is not believed either.
    expect(map(gakunin({ [OID.eduPersonPrincipalName]: ['ada'] }))).toMatchObject({ ok: false, reason: 'scope_mismatch' });
    expect(map(gakunin({ [OID.eduPersonPrincipalName]: ['ada@evil@example.ac.jp'] }))).toMatchObject({
      ok: false,
      reason: 'scope_mismatch',
    });
    // An IdP whose metadata lists no scope vouches for no scoped identifier.
    expect(map(gakunin(), { ...exampleIdp, scopes: [] })).toMatchObject({ ok: false, reason: 'scope_mismatch' });
  });

  it('matches regexp scopes against the whole scope', () => {
    const scopes = [{ value: '^([a-z]+\\.)?example\\.ac\\.jp$', regexp: true }];
    expect(inScope('example.ac.jp', scopes)).toBe(true);
    expect(inScope('med.example.ac.jp', scopes)).toBe(true);
    expect(inScope('example.ac.jp.evil.example', scopes)).toBe(false);
    expect(inScope('evilexample.ac.jp', [{ value: 'example\\.ac\\.jp', regexp: true }])).toBe(false);
    expect(inScope('example.ac.jp', [{ value: '(', regexp: true }])).toBe(false);
    expect(map(gakunin({ [OID.eduPersonPrincipalName]: ['ada@med.example.ac.jp'] }), { ...exampleIdp, scopes })).toMatchObject({
      ok: true,
      profile: { subject: 'ada@med.example.ac.jp' },
    });
  });

  it('keys on subject-id, then pairwise-id, when there is no eppn', () => {
    const noEppn = gakunin({ [OID.eduPersonPrincipalName]: [] });
    expect(map({ ...noEppn, [OID.subjectId]: ['x9@example.ac.jp'], [OID.pairwiseId]: ['p1@example.ac.jp'] })).toMatchObject({
      ok: true,
      profile: { subject: 'x9@example.ac.jp', subjectKind: 'subject-id', eppn: null },
    });
    expect(map({ ...noEppn, [OID.pairwiseId]: ['P1@example.ac.jp'] })).toMatchObject({
      ok: true,
      profile: { subject: 'p1@example.ac.jp', subjectKind: 'pairwise-id' },
    });
  });

  it('never makes an account from an e-mail address alone unless configured to', () => {
    const mailOnly = gakunin({ [OID.eduPersonPrincipalName]: [] });
    expect(map(mailOnly)).toMatchObject({
      ok: false,
      reason: 'missing_attribute',
      detail: expect.stringContaining('e-mail address alone'),
    });
    expect(map(mailOnly, exampleIdp, roles, { allowEmailOnly: true })).toMatchObject({
      ok: true,
      profile: { subject: 'ada.lovelace@example.ac.jp', subjectKind: 'mail' },
    });
  });

  it('counts scoped affiliations by their unscoped part, dropping those of another scope', () => {
    const attrs = gakunin({
      [OID.eduPersonAffiliation]: [],
      [OID.eduPersonScopedAffiliation]: ['staff@example.ac.jp', 'faculty@other-u.ac.jp'],
    });
    expect(map(attrs)).toMatchObject({
      ok: true,
      dropped: ['faculty@other-u.ac.jp'],
      profile: { affiliations: ['staff'], roles: ['user'] },
    });
    const onlyForeign = gakunin({ [OID.eduPersonAffiliation]: [], [OID.eduPersonScopedAffiliation]: ['faculty@other-u.ac.jp'] });
    expect(map(onlyForeign)).toMatchObject({ ok: false, reason: 'not_entitled' });
  });

  it('makes administrators per (IdP, identifier), never by e-mail address', () => {
    const boss = gakunin({ [OID.eduPersonPrincipalName]: ['boss@example.ac.jp'], [OID.eduPersonAffiliation]: ['affiliate'] });
    expect(map(boss)).toMatchObject({ ok: true, profile: { roles: ['user', 'admin'] } });
    // The same identifier from another IdP is not the administrator (and here is out of scope anyway).
    const sameScope = { ...exampleIdp, entityId: 'https://idp2.example.ac.jp/idp/shibboleth' };
    expect(map(boss, sameScope)).toMatchObject({ ok: false, reason: 'not_entitled' });
    // An e-mail address in the list grants nothing.
    const byMail = { ...roles, admins: ['https://idp.example.ac.jp/idp/shibboleth!ada.lovelace@example.ac.jp'] };
    expect(map(gakunin(), exampleIdp, byMail)).toMatchObject({ ok: true, profile: { roles: ['user'] } });
    // A bare identifier applies only when one IdP is trusted.
    const bare = { ...roles, admins: ['boss@example.ac.jp'] };
    expect(map(boss, exampleIdp, bare)).toMatchObject({ ok: false, reason: 'not_entitled' });
    expect(map(boss, { ...exampleIdp, sole: true }, bare)).toMatchObject({ ok: true, profile: { roles: ['user', 'admin'] } });
  });

  it('refuses an affiliation that is not entitled, and names it', () => {
    expect(map(gakunin({ [OID.eduPersonAffiliation]: ['student', 'alum'] }))).toEqual({
      ok: false,
      reason: 'not_entitled',
      detail: 'affiliation student, alum is not one of faculty, staff',
    });
    expect(map(gakunin({ [OID.eduPersonAffiliation]: ['student'] }), exampleIdp, { ...roles, userAffiliations: ['*'] }).ok).toBe(true);
  });

  it('refuses a login without a usable e-mail address', () => {
    expect(map(gakunin({ [OID.mail]: ['not an address'] }))).toMatchObject({ ok: false, reason: 'missing_attribute' });
  });

  it('falls back to friendly names', () => {
    const attrs = { eduPersonPrincipalName: ['bob@example.ac.jp'], mail: ['bob@example.ac.jp'], eduPersonAffiliation: ['staff'] };
    expect(map(attrs)).toMatchObject({ ok: true, profile: { userId: 'bob@example.ac.jp', eppn: 'bob@example.ac.jp', displayName: null } });
  });
});
