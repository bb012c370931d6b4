import { chatCookie, HandoffClaims, RedeemedCodes, safeNext, sameHost, signHandoff, verifyHandoff } from './webui-handoff';

const secret = Buffer.from('s'.repeat(32));
const user = { email: 'ada@example.ac.jp', displayName: 'Ada', roles: ['user'] };
const claims = (o: Partial<HandoffClaims> = {}): HandoffClaims => ({ purpose: 'code', user, exp: 10_000, nonce: 'n1', state: 'st', ...o });

describe('hand-off tokens', () => {
  it('verifies a token for its purpose until it expires', () => {
    const token = signHandoff(claims(), secret);
    expect(verifyHandoff(token, secret, 'code', 9_999)).toEqual(claims());
    expect(verifyHandoff(token, secret, 'code', 10_000)).toBeUndefined();
    // A code is not a chat cookie, nor the other way round.
    expect(verifyHandoff(token, secret, 'chat', 0)).toBeUndefined();
    expect(verifyHandoff(signHandoff(claims({ purpose: 'chat' }), secret), secret, 'code', 0)).toBeUndefined();
  });

  it('refuses another secret, an altered payload or signature, and garbage', () => {
    const token = signHandoff(claims(), secret);
    expect(verifyHandoff(token, Buffer.from('t'.repeat(32)), 'code', 0)).toBeUndefined();
    const [payload, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims(), user: { ...user, roles: ['admin'] } })).toString('base64url');
    expect(verifyHandoff(`${forged}.${mac}`, secret, 'code', 0)).toBeUndefined();
    expect(verifyHandoff(`${payload}.${mac.slice(0, -2)}AA`, secret, 'code', 0)).toBeUndefined();
    for (const bad of ['', '.', 'abc', `${payload}.`, `.${mac}`, 'x'.repeat(5000)])
      expect(verifyHandoff(bad, secret, 'code', 0)).toBeUndefined();
  });
});

describe('RedeemedCodes', () => {
  it('redeems a nonce once, and forgets it after it expired', () => {
    const codes = new RedeemedCodes();
    expect(codes.redeem('a', 100, 0)).toBe(true);
    expect(codes.redeem('a', 100, 50)).toBe(false);
    expect(codes.redeem('b', 300, 150)).toBe(true); // 'a' expired at 100: pruned
    expect(codes.redeem('b', 300, 160)).toBe(false);
  });

  it('stays within its bound', () => {
    const codes = new RedeemedCodes(3);
    for (const n of ['a', 'b', 'c', 'd']) expect(codes.redeem(n, 1000, 0)).toBe(true);
    expect(codes.redeem('d', 1000, 0)).toBe(false);
  });
});

describe('safeNext', () => {
  it.each([
    ['/c/123?q=1', '/c/123?q=1'],
    [null, '/'],
    ['', '/'],
    ['https://evil.example/', '/'],
    ['//evil.example/', '/'],
    ['/\\evil.example', '/'],
    ['/a\r\nset-cookie: x', '/'],
  ])('%j → %j', (given, expected) => expect(safeNext(given)).toBe(expected));
});

describe('sameHost', () => {
  it.each([
    ['chat.maas.example.ac.jp', 'chat.maas.example.ac.jp', true],
    ['CHAT.maas.example.ac.jp.', 'chat.maas.example.ac.jp', true],
    ['chat.maas.example.ac.jp:8443', 'chat.maas.example.ac.jp', true],
    ['chat.maas.example.ac.jp:8443', 'chat.maas.example.ac.jp:443', false],
    ['maas.example.ac.jp', 'chat.maas.example.ac.jp', false],
    ['chat.maas.example.ac.jp.evil.example', 'chat.maas.example.ac.jp', false],
    [undefined, 'chat.maas.example.ac.jp', false],
  ])('%j vs %j: %s', (host, configured, expected) => expect(sameHost(host, configured)).toBe(expected));
});

describe('chatCookie', () => {
  it('is host-only and HttpOnly; __Host- and Secure over https', () => {
    expect(chatCookie('maas_chat', 'v', true, 60)).toBe('__Host-maas_chat=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure');
    expect(chatCookie('maas_chat', 'v', false, 60)).toBe('maas_chat=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60');
    expect(chatCookie('maas_chat', 'v', true, 60)).not.toMatch(/domain/i);
  });
});
