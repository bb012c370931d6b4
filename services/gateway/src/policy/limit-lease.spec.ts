import type { KeyLimits } from '@maas/contracts';
import {
  EMPTY_STATE,
  exchange,
  LEASE_SPEC,
  LeaseExchange,
  leaseSize,
  requestsExceeded,
  SharedKeyState,
  sharedStanding,
  tokensExceeded,
} from './limit-lease';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0); // the start of a minute
const at = (ms: number) => T0 + ms;
const rpm60: KeyLimits = { requestsPerMinute: 60 } as KeyLimits;
const ask = (over: Partial<LeaseExchange> = {}): LeaseExchange => ({ gateway: 'a', want: 1, tokens: 0, slots: 0, ...over });

describe('limit leases', () => {
  it.each([
    ['a twentieth of the limit', 60, 60, 3],
    ['at least one', 10, 10, 1],
    ['at most 50', 100_000, 100_000, 50],
    ['never more than is left', 60, 2, 2],
    ['nothing when nothing is left', 60, 0, 0],
  ])('a lease is %s', (_, limit, room, size) => {
    expect(leaseSize(limit, room, LEASE_SPEC)).toBe(size);
  });

  it('two gateways leasing in turn are granted 60 requests of a 60 rpm key in a minute, not 120', () => {
    let state: SharedKeyState | undefined;
    const granted = { a: 0, b: 0 };
    for (let i = 0; i < 200; i++) {
      const gateway = i % 2 ? 'a' : 'b';
      const g = exchange(state, ask({ gateway }), rpm60, at(i * 100), LEASE_SPEC);
      state = g.state;
      granted[gateway] += g.requests;
    }
    expect(granted.a + granted.b).toBe(60);
    expect(granted.a).toBeGreaterThan(20);
    expect(granted.b).toBeGreaterThan(20);
  });

  it('an unused lease given back can be leased by another gateway', () => {
    const a = exchange(undefined, ask({ want: 60 }), rpm60, at(0), LEASE_SPEC);
    expect(a.requests).toBe(60);
    expect(exchange(a.state, ask({ gateway: 'b' }), rpm60, at(500), LEASE_SPEC).requests).toBe(0);
    const back = exchange(a.state, ask({ want: 0, returned: { minute: T0, n: 10 } }), rpm60, at(1000), LEASE_SPEC);
    expect(exchange(back.state, ask({ gateway: 'b', want: 10 }), rpm60, at(1500), LEASE_SPEC).requests).toBe(10);
  });

  it('the previous minute weighs by its remaining overlap; older leases count nowhere', () => {
    const full = exchange(undefined, ask({ want: 60 }), rpm60, at(0), LEASE_SPEC).state;
    // 15 s into the next minute, 3/4 of the previous 60 still count.
    expect(exchange(full, ask({ want: 60 }), rpm60, at(75_000), LEASE_SPEC).requests).toBe(15);
    // Full at 30 s: one fits again a second into the next minute, when the 60 weigh 59.
    expect(requestsExceeded(full, 60, at(30_000)).retryAfterSeconds).toBe(31);
    // Two minutes on, nothing counts and a lease from then is not subtracted anywhere.
    const later = exchange(full, ask({ want: 60, returned: { minute: T0, n: 30 } }), rpm60, at(125_000), LEASE_SPEC);
    expect(later.requests).toBe(60);
  });

  it("concurrency slots are held per gateway, up to the key's limit across all, and freed when a holder goes stale", () => {
    const limits = { maxConcurrent: 2 } as KeyLimits;
    const a = exchange(undefined, ask({ want: 0, slots: 2 }), limits, at(0), LEASE_SPEC);
    expect(a.slots).toBe(2);
    const b = exchange(a.state, ask({ gateway: 'b', want: 0, slots: 1 }), limits, at(100), LEASE_SPEC);
    expect(b.slots).toBe(0);
    const aDown = exchange(b.state, ask({ want: 0, slots: 1 }), limits, at(200), LEASE_SPEC);
    expect(exchange(aDown.state, ask({ gateway: 'b', want: 0, slots: 1 }), limits, at(300), LEASE_SPEC).slots).toBe(1);
    // Gateway a stops refreshing (it died): its slots are free after the stale time.
    expect(exchange(a.state, ask({ gateway: 'b', want: 0, slots: 2 }), limits, at(LEASE_SPEC.staleMs + 1), LEASE_SPEC).slots).toBe(2);
  });

  it('tokens of every gateway count against tokens per minute, with what this gateway has not sent yet', () => {
    const limits = { tokensPerMinute: 1000 } as KeyLimits;
    const a = exchange(undefined, ask({ want: 0, tokens: 700 }), limits, at(0), LEASE_SPEC);
    const b = exchange(a.state, ask({ gateway: 'b', want: 0, tokens: 200 }), limits, at(100), LEASE_SPEC);
    expect(tokensExceeded(b.state, 1000, 0, at(200))).toBeUndefined();
    expect(tokensExceeded(b.state, 1000, 100, at(200))).toMatchObject({ limit: 'tokens_per_minute', used: 1000, ceiling: 1000 });
    expect(sharedStanding(b.state, limits, 0, 50, at(200)).tokens).toEqual({ limit: 1000, remaining: 50, resetMs: 119_800 });
  });

  it("standing counts this gateway's unused lease as remaining", () => {
    const a = exchange(EMPTY_STATE, ask({ want: 1 }), rpm60, at(0), LEASE_SPEC);
    expect(a.requests).toBe(3);
    expect(sharedStanding(a.state, rpm60, 2, 0, at(0)).requests).toEqual({ limit: 60, remaining: 59, resetMs: 120_000 });
  });
});
