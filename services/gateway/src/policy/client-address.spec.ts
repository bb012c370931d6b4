import { addressMatcher, clientAddress, parseCidrs } from './client-address';

describe('client address and allow-lists', () => {
  const list = addressMatcher(parseCidrs('10.0.0.0/8, 2001:db8::/32, 192.0.2.7'))!;

  it.each([
    ['10.2.3.4', true],
    ['::ffff:10.2.3.4', true],
    ['11.0.0.1', false],
    ['2001:db8:ff::1', true],
    ['2001:db9::1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['garbage', false],
  ])('%s allowed: %s', (address, allowed) => {
    expect(list(address as string)).toBe(allowed);
  });

  it('refuses what is not an address or CIDR, and means "anywhere" when empty', () => {
    expect(() => parseCidrs('10.0.0.0/33')).toThrow('"10.0.0.0/33" is not an IP address or CIDR');
    expect(() => parseCidrs('example.org')).toThrow();
    expect(addressMatcher(parseCidrs(' '))).toBeUndefined();
  });

  const proxies = addressMatcher(['127.0.0.1', '10.0.0.0/8']);
  it.each([
    ['203.0.113.1', '198.51.100.1', '203.0.113.1'], // untrusted peer: its header is ignored
    ['127.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['127.0.0.1', '1.1.1.1, 198.51.100.1, 10.0.0.2', '198.51.100.1'], // walked from the right past trusted hops
    ['127.0.0.1', 'nonsense', '127.0.0.1'],
    ['::ffff:127.0.0.1', '2001:db8::9', '2001:db8::9'],
  ])('peer %s with X-Forwarded-For "%s" is %s', (peer, xff, expected) => {
    expect(clientAddress(peer, xff, proxies)).toBe(expected);
  });
});
