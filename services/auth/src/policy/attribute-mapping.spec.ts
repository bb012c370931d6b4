import { DEFAULT_ATTRIBUTE_NAMES, mapProfile, OID } from './attribute-mapping';

const roles = { userAffiliations: ['faculty', 'staff'], admins: ['boss@example.ac.jp'] };
const gakunin = (o: Record<string, string[]> = {}) => ({
  [OID.eduPersonPrincipalName]: ['Ada@Example.ac.jp'],
  [OID.mail]: ['Ada.Lovelace@Example.ac.jp'],
  [OID.displayName]: ['Ada Lovelace'],
  [OID.eduPersonAffiliation]: ['faculty', 'member'],
  ...o,
});

describe('mapProfile', () => {
  it('maps OID-named attributes (no FriendlyName) to a profile with the user role', () => {
    expect(mapProfile(gakunin(), DEFAULT_ATTRIBUTE_NAMES, roles)).toEqual({
      ok: true,
      profile: {
        userId: 'ada@example.ac.jp',
        email: 'ada.lovelace@example.ac.jp',
        eppn: 'ada@example.ac.jp',
        displayName: 'Ada Lovelace',
        affiliations: ['faculty', 'member'],
        roles: ['user'],
      },
    });
  });

  it('counts scoped affiliations by their unscoped part', () => {
    const attrs = gakunin({ [OID.eduPersonAffiliation]: [], [OID.eduPersonScopedAffiliation]: ['staff@example.ac.jp'] });
    expect(mapProfile(attrs, DEFAULT_ATTRIBUTE_NAMES, roles)).toMatchObject({ ok: true, profile: { affiliations: ['staff'], roles: ['user'] } });
  });

  it('makes listed eppns or addresses administrators, whatever their affiliation', () => {
    const attrs = gakunin({ [OID.mail]: ['Boss@example.ac.jp'], [OID.eduPersonAffiliation]: ['affiliate'] });
    expect(mapProfile(attrs, DEFAULT_ATTRIBUTE_NAMES, roles)).toMatchObject({ ok: true, profile: { roles: ['user', 'admin'] } });
  });

  it('refuses an affiliation that is not entitled, and names it', () => {
    expect(mapProfile(gakunin({ [OID.eduPersonAffiliation]: ['student', 'alum'] }), DEFAULT_ATTRIBUTE_NAMES, roles)).toEqual({
      ok: false,
      reason: 'not_entitled',
      detail: 'affiliation student, alum is not one of faculty, staff',
    });
    expect(mapProfile(gakunin({ [OID.eduPersonAffiliation]: ['student'] }), DEFAULT_ATTRIBUTE_NAMES, { ...roles, userAffiliations: ['*'] }).ok).toBe(true);
  });

  it('refuses a login without a usable e-mail address', () => {
    expect(mapProfile(gakunin({ [OID.mail]: ['not an address'] }), DEFAULT_ATTRIBUTE_NAMES, roles)).toMatchObject({ ok: false, reason: 'missing_attribute' });
  });

  it('falls back to friendly names and to the e-mail address as account id', () => {
    const attrs = { mail: ['bob@example.ac.jp'], eduPersonAffiliation: ['staff'] };
    expect(mapProfile(attrs, DEFAULT_ATTRIBUTE_NAMES, roles)).toMatchObject({ ok: true, profile: { userId: 'bob@example.ac.jp', eppn: null, displayName: null } });
  });
});
