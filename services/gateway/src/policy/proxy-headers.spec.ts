import { forwardedHost, isOwnCookie, withoutOwnCookies } from './proxy-headers';

describe('withoutOwnCookies', () => {
  it.each<[string | string[] | undefined, string | undefined]>([
    ['maas_session=secret', undefined],
    ['token=owui; maas_session=secret; theme=dark', 'token=owui; theme=dark'],
    ['__Host-maas_session=secret; maas_login=nonce; __Secure-maas_csrf=x; token=owui', 'token=owui'],
    [['a=1', 'maas_session=s'], 'a=1'],
    ['notmaas_session=1;  b=2 ', 'notmaas_session=1; b=2'],
    [undefined, undefined],
  ])('%j → %j', (header, expected) => {
    expect(withoutOwnCookies(header, 'maas_session')).toBe(expected);
  });

  it('knows a renamed session cookie and its __Host- form', () => {
    expect(isOwnCookie('uni_sso', 'uni_sso')).toBe(true);
    expect(isOwnCookie('__Host-uni_sso', 'uni_sso')).toBe(true);
    expect(isOwnCookie('uni_ssox', 'uni_sso')).toBe(false);
  });
});

describe('forwardedHost', () => {
  it('believes X-Forwarded-Host from a trusted proxy only', () => {
    expect(forwardedHost('evil.example', 'maas.example.ac.jp', false)).toBe('maas.example.ac.jp');
    expect(forwardedHost('maas.example.ac.jp', '10.0.0.2:8080', true)).toBe('maas.example.ac.jp');
    expect(forwardedHost(undefined, 'maas.example.ac.jp', true)).toBe('maas.example.ac.jp');
    expect(forwardedHost(['a', 'b'], 'h', true)).toBe('h');
  });
});
