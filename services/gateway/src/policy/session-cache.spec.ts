import { sessionDigest } from '@maas/contracts';
import { cookieValue, SessionCache, SessionVerdict } from './session-cache';

const ada: SessionVerdict = { valid: true, user: { email: 'ada@example.org', displayName: 'Ada', roles: ['user'] } };
const spec = { ttlMs: 5000, negativeTtlMs: 1000, maxEntries: 2 };

describe('SessionCache', () => {
  it('keeps valid verdicts for the TTL, never past the session’s own expiry, and refusals for the shorter TTL', () => {
    const c = new SessionCache({ ...spec, maxEntries: 10 });
    c.store('cookie-a', ada, 0);
    c.store('cookie-b', { ...ada, expiresAt: 2000 }, 0);
    c.store('cookie-c', { valid: false }, 0);
    expect([c.get('cookie-a', 4999), c.get('cookie-b', 1999), c.get('cookie-c', 999)]).toEqual([
      ada,
      { ...ada, expiresAt: 2000 },
      { valid: false },
    ]);
    expect([c.get('cookie-a', 5000), c.get('cookie-b', 2000), c.get('cookie-c', 1000)]).toEqual([undefined, undefined, undefined]);
  });

  it('holds digests, not cookies: the digest of a cookie is no cookie that matches', () => {
    const c = new SessionCache(spec);
    c.store('cookie-a', ada, 0);
    expect(c.get('cookie-a', 1)).toEqual(ada);
    expect(c.get(sessionDigest('cookie-a'), 1)).toBeUndefined();
    expect(c.get('cookie-A', 1)).toBeUndefined();
  });

  it('stays bounded, dropping the oldest verdict', () => {
    const c = new SessionCache(spec);
    for (const t of ['t1', 't2', 't3']) c.store(t, ada, 0);
    expect([c.get('t1', 1), c.get('t2', 1), c.get('t3', 1)]).toEqual([undefined, ada, ada]);
  });
});

describe('cookieValue', () => {
  it.each([
    ['maas_session=abc; theme=dark', 'abc'],
    ['theme=dark;  maas_session="a%20b"', 'a b'],
    ['maas_session=%E0%A4%A', '%E0%A4%A'],
    ['maas_sessionx=abc', undefined],
    [undefined, undefined],
  ])('reads %j', (header, value) => {
    expect(cookieValue(header, 'maas_session')).toBe(value);
  });
});
