import { loginRoute } from './login-route';
import { DEFAULT_RETURN, safeReturnPath } from './return-to';
import { needsTouch, sessionStatus } from './session-policy';
import { dailySeries, dayIn } from './usage-series';

describe('safeReturnPath', () => {
  it.each([
    ['/portal/admin', '/portal/admin'],
    ['/chat?x=1', '/chat?x=1'],
    ['https://evil.example/', DEFAULT_RETURN],
    ['//evil.example/', DEFAULT_RETURN],
    ['/\\evil.example', DEFAULT_RETURN],
    ['/portal\r\nSet-Cookie: x=1', DEFAULT_RETURN],
    ['/auth/saml/login', DEFAULT_RETURN],
    [undefined, DEFAULT_RETURN],
    [['/a'], DEFAULT_RETURN],
  ])('%j → %s', (input, expected) => {
    expect(safeReturnPath(input)).toBe(expected);
  });
});

describe('sessionStatus', () => {
  const s = { expiresAt: 10_000, lastSeenAt: 5_000, revokedAt: null };
  it.each([
    [6_000, 3_000, 'active'],
    [10_000, 60_000, 'expired'],
    [8_000, 3_000, 'idle'],
  ])('at %i with idle %i → %s', (now, idle, status) => {
    expect(sessionStatus(s, now, idle)).toBe(status);
  });
  it('is revoked once revoked, whatever the time', () => {
    expect(sessionStatus({ ...s, revokedAt: 5_500 }, 6_000, 60_000)).toBe('revoked');
  });
  it('records use at most once a minute', () => {
    expect(needsTouch(0, 59_999)).toBe(false);
    expect(needsTouch(0, 60_000)).toBe(true);
  });
});

describe('loginRoute', () => {
  const base = {
    known: (id: string) => id === 'https://idp.a/',
    count: 2,
    onlyIdp: 'https://idp.a/',
    discoveryUrl: undefined,
    spEntityId: 'https://sp/',
    returnUrl: 'https://sp/auth/saml/login?next=%2Fportal',
  };
  it('goes straight to a requested, known IdP and refuses an unknown one', () => {
    expect(loginRoute({ ...base, requested: 'https://idp.a/' })).toEqual({ kind: 'idp', entityId: 'https://idp.a/' });
    expect(loginRoute({ ...base, requested: 'https://idp.z/' })).toEqual({ kind: 'unknown-idp', entityId: 'https://idp.z/' });
  });
  it('uses the only IdP, else the discovery service (IdP discovery protocol), else our chooser', () => {
    expect(loginRoute({ ...base, requested: undefined, count: 1 })).toEqual({ kind: 'idp', entityId: 'https://idp.a/' });
    const ds = loginRoute({ ...base, requested: undefined, discoveryUrl: 'https://ds.gakunin.nii.ac.jp/WAYF' });
    expect(ds.kind).toBe('discovery');
    const url = new URL((ds as { url: string }).url);
    expect(Object.fromEntries(url.searchParams)).toEqual({ entityID: 'https://sp/', return: base.returnUrl, returnIDParam: 'entityID' });
    expect(loginRoute({ ...base, requested: undefined })).toEqual({ kind: 'choose' });
    expect(loginRoute({ ...base, requested: undefined, count: 0 })).toEqual({ kind: 'none' });
  });
});

describe('dailySeries', () => {
  const now = Date.parse('2026-04-03T01:00:00Z');
  it('has one point per day in the zone, zero-filled, batch tokens counted apart', () => {
    const rows = [
      { day: '2026-04-02', kind: 'interactive', requests: 2, promptTokens: 10, completionTokens: 5 },
      { day: '2026-04-02', kind: 'batch', requests: 1, promptTokens: 100, completionTokens: 50 },
      { day: '2026-03-01', kind: 'interactive', requests: 9, promptTokens: 9, completionTokens: 9 },
    ];
    expect(dailySeries(rows, now, 3, 'UTC')).toEqual([
      { day: '2026-04-01', requests: 0, promptTokens: 0, completionTokens: 0, batchTokens: 0 },
      { day: '2026-04-02', requests: 3, promptTokens: 110, completionTokens: 55, batchTokens: 150 },
      { day: '2026-04-03', requests: 0, promptTokens: 0, completionTokens: 0, batchTokens: 0 },
    ]);
  });
  it('counts days where the user lives', () => {
    expect(dayIn('Asia/Tokyo', Date.parse('2026-04-02T16:00:00Z'))).toBe('2026-04-03');
    expect(dayIn('UTC', Date.parse('2026-04-02T16:00:00Z'))).toBe('2026-04-02');
  });
});
