import { createHash } from 'node:crypto';
import { checkSignInLink, parseSignInLink } from './sign-in-link';

const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const same = (a: string, b: string) => a === b;
const AT = Date.parse('2026-12-07T00:00:00Z');
const file = (o: Record<string, unknown> = {}) =>
  JSON.stringify({
    tokenSha256: sha('the-token'),
    email: 'Admin@Localhost',
    displayName: 'Quick-start admin',
    admin: true,
    expiresAt: new Date(AT + 900_000).toISOString(),
    ...o,
  });

describe('one-time sign-in links', () => {
  it.each([
    ['accepts the right token before the expiry', file(), 'the-token', AT + 899_999, { ok: true }],
    ['refuses it at the expiry', file(), 'the-token', AT + 900_000, { ok: false, reason: 'expired' }],
    ['refuses another token', file(), 'another-token', AT, { ok: false, reason: 'wrong_token' }],
    ['refuses when there is no link (never issued, or already used)', undefined, 'the-token', AT, { ok: false, reason: 'no_link' }],
    ['refuses a file that is not JSON', '{"tokenSha256":', 'the-token', AT, { ok: false, reason: 'unreadable' }],
    ['refuses a record without an expiry', file({ expiresAt: 'soon' }), 'the-token', AT, { ok: false, reason: 'unreadable' }],
    [
      'refuses a record whose hash is not SHA-256 hex',
      file({ tokenSha256: 'the-token' }),
      'the-token',
      AT,
      { ok: false, reason: 'unreadable' },
    ],
    ['refuses a record without an e-mail address', file({ email: 'admin' }), 'the-token', AT, { ok: false, reason: 'unreadable' }],
  ])('%s', (_name, text, token, now, expected) => {
    expect(checkSignInLink(text, sha(token), same, now)).toMatchObject(expected);
  });

  it('reads the account: lower-case address, display name, administrator only when said so', () => {
    expect(parseSignInLink(file())).toEqual({
      tokenSha256: sha('the-token'),
      email: 'admin@localhost',
      displayName: 'Quick-start admin',
      admin: true,
      expiresAt: AT + 900_000,
    });
    expect(parseSignInLink(file({ admin: 'yes', displayName: ' ' }))).toMatchObject({ admin: false, displayName: null });
  });
});
