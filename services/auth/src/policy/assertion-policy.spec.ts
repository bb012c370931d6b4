import { AssertionFacts, checkAssertion } from './assertion-policy';

const ACS = 'https://maas.example.ac.jp/auth/saml/acs';
const SP = 'https://maas.example.ac.jp/auth/saml/metadata';
const IDP = 'https://idp.example.ac.jp/idp/shibboleth';
const NOW = Date.parse('2026-04-01T09:00:00Z');
const at = (offsetS: number) => new Date(NOW + offsetS * 1000).toISOString();
const expectations = { idpEntityId: IDP, spEntityId: SP, acsUrl: ACS, skewMs: 60_000 };

/** A valid assertion's facts, with overrides. */
function facts(o: Partial<AssertionFacts> = {}): AssertionFacts {
  return {
    response: { issuer: IDP, destination: ACS, inResponseTo: '_req1' },
    assertionId: '_a1',
    issuer: IDP,
    nameId: { value: 'x', format: null, nameQualifier: null, spNameQualifier: null },
    bearer: [{ recipient: ACS, inResponseTo: '_req1', notBefore: null, notOnOrAfter: at(300) }],
    notBefore: at(-30),
    notOnOrAfter: at(300),
    audienceRestrictions: [[SP]],
    sessionIndex: '_s1',
    sessionNotOnOrAfter: null,
    attributes: {},
    ...o,
  };
}

describe('checkAssertion', () => {
  it('accepts a valid assertion and says which request it answers and how long to remember it', () => {
    expect(checkAssertion(facts(), expectations, NOW)).toEqual({
      ok: true,
      assertionId: '_a1',
      requestId: '_req1',
      idp: IDP,
      notOnOrAfter: NOW + 360_000,
    });
  });

  it.each([
    ['no assertion ID', { assertionId: null }, 'malformed'],
    ['another issuer', { issuer: 'https://evil.example/idp' }, 'wrong_issuer'],
    [
      'an envelope from another issuer',
      { response: { issuer: 'https://evil.example/idp', destination: ACS, inResponseTo: '_req1' } },
      'wrong_issuer',
    ],
    [
      'another destination',
      { response: { issuer: IDP, destination: 'https://other.example/acs', inResponseTo: '_req1' } },
      'wrong_destination',
    ],
    ['not yet valid (beyond the skew)', { notBefore: at(61) }, 'not_yet_valid'],
    ['expired (beyond the skew)', { notOnOrAfter: at(-61) }, 'expired'],
    ['an unreadable time', { notOnOrAfter: 'tomorrow' }, 'malformed'],
    ['another audience', { audienceRestrictions: [['https://other-sp.example/']] }, 'wrong_audience'],
    ['no audience restriction', { audienceRestrictions: [] }, 'wrong_audience'],
    ['a second restriction without us', { audienceRestrictions: [[SP], ['https://other-sp.example/']] }, 'wrong_audience'],
    ['no bearer confirmation', { bearer: [] }, 'no_bearer_confirmation'],
    [
      'another recipient',
      { bearer: [{ recipient: 'https://other.example/acs', inResponseTo: '_req1', notBefore: null, notOnOrAfter: at(300) }] },
      'wrong_recipient',
    ],
    ['an expired confirmation', { bearer: [{ recipient: ACS, inResponseTo: '_req1', notBefore: null, notOnOrAfter: at(-61) }] }, 'expired'],
    [
      'a confirmation without NotOnOrAfter',
      { bearer: [{ recipient: ACS, inResponseTo: '_req1', notBefore: null, notOnOrAfter: null }] },
      'malformed',
    ],
    [
      'an unsolicited response',
      {
        response: { issuer: IDP, destination: ACS, inResponseTo: null },
        bearer: [{ recipient: ACS, inResponseTo: null, notBefore: null, notOnOrAfter: at(300) }],
      },
      'unsolicited',
    ],
    [
      'envelope and assertion answering different requests',
      { response: { issuer: IDP, destination: ACS, inResponseTo: '_other' } },
      'in_response_to_mismatch',
    ],
  ] as [string, Partial<AssertionFacts>, string][])('rejects %s', (_what, override, reason) => {
    expect(checkAssertion(facts(override), expectations, NOW)).toMatchObject({ ok: false, reason });
  });

  it('tolerates clock skew up to the configured amount on both ends', () => {
    expect(checkAssertion(facts({ notBefore: at(59) }), expectations, NOW).ok).toBe(true);
    expect(
      checkAssertion(
        facts({ notOnOrAfter: at(-59), bearer: [{ recipient: ACS, inResponseTo: '_req1', notBefore: null, notOnOrAfter: at(-59) }] }),
        expectations,
        NOW,
      ).ok,
    ).toBe(true);
  });

  it('accepts when any one bearer confirmation satisfies every condition', () => {
    const bearer = [
      { recipient: 'https://other.example/acs', inResponseTo: '_req1', notBefore: null, notOnOrAfter: at(300) },
      { recipient: ACS, inResponseTo: '_req1', notBefore: null, notOnOrAfter: at(300) },
    ];
    expect(checkAssertion(facts({ bearer }), expectations, NOW).ok).toBe(true);
  });

  it('accepts an envelope without Destination or InResponseTo (only the signed assertion is binding)', () => {
    expect(checkAssertion(facts({ response: { issuer: null, destination: null, inResponseTo: null } }), expectations, NOW).ok).toBe(true);
  });
});
