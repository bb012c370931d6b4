import { AuthFailureLimiter } from './auth-failures';

describe('AuthFailureLimiter', () => {
  const at = (s: number) => 1_000_000 + s * 1000;

  it('refuses an address after N failures in a minute, until the minute is over', () => {
    const limiter = new AuthFailureLimiter({ maxPerMinute: 3, maxAddresses: 10 });
    for (let i = 0; i < 3; i++) {
      expect(limiter.blocked('198.51.100.7', at(i))).toBeUndefined();
      limiter.failed('198.51.100.7', at(i));
    }
    expect(limiter.blocked('198.51.100.7', at(10))).toBe(50);
    expect(limiter.blocked('198.51.100.8', at(10))).toBeUndefined();
    expect(limiter.blocked('198.51.100.7', at(60))).toBeUndefined();
    limiter.failed('198.51.100.7', at(60));
    expect(limiter.blocked('198.51.100.7', at(61))).toBeUndefined();
  });

  it('remembers a bounded number of addresses, oldest first out', () => {
    const limiter = new AuthFailureLimiter({ maxPerMinute: 1, maxAddresses: 2 });
    for (const a of ['a', 'b', 'c']) limiter.failed(a, at(0));
    expect(limiter.blocked('a', at(1))).toBeUndefined();
    expect(limiter.blocked('b', at(1))).toBe(59);
    expect(limiter.blocked('c', at(1))).toBe(59);
  });
});
