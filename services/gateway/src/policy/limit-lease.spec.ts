import type { KeyLimits } from '@maas/contracts';
import {
  countedFrom,
  countSince,
  EMPTY_STATE,
  exchange,
  fallbackLimits,
  LEASE_SPEC,
  LeaseExchange,
  leaseSize,
  localShare,
  requestsExceeded,
  SharedKeyState,
  sharedStanding,
  sharingGateways,
  tokensExceeded,
  windowTokensSince,
} from './limit-lease';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0); // the start of a minute
const at = (ms: number) => T0 + ms;
const sec = (ms: number) => Math.floor(at(ms) / 1000);
const rpm60: KeyLimits = { requestsPerMinute: 60 } as KeyLimits;
const ask = (over: Partial<LeaseExchange> = {}): LeaseExchange => ({ gateway: 'a', want: 1, tokens: 0, slots: 0, ...over });

/** Requests leased in each 60-second window starting at every 100 ms step: the most any window saw. */
function busiestMinute(leases: [number, number][]): number {
  let most = 0;
  for (const [start] of leases) {
    let n = 0;
    for (const [t, k] of leases) if (t >= start && t < start + 60_000) n += k;
    most = Math.max(most, n);
  }
  return most;
}

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

  it.each([
    ['steady asks', (i: number) => i * 250],
    ['bursts at the end of each minute', (i: number) => Math.floor(i / 40) * 60_000 + 58_000 + (i % 40) * 50],
    ['bursts every 45 s', (i: number) => Math.floor(i / 40) * 45_000 + (i % 40) * 20],
  ])('three gateways never hold more than 60 leased requests in any 60 s (%s)', (_, time) => {
    let state: SharedKeyState | undefined;
    const leases: [number, number][] = [];
    for (let i = 0; i < 400; i++) {
      const g = exchange(state, ask({ gateway: 'abc'[i % 3] }), rpm60, at(time(i)), LEASE_SPEC);
      state = g.state;
      if (g.requests > 0) leases.push([time(i), g.requests]);
    }
    const most = busiestMinute(leases);
    expect(most).toBeLessThanOrEqual(60);
    expect(most).toBeGreaterThanOrEqual(55);
  });

  it('an unused lease given back can be leased by another gateway', () => {
    const a = exchange(undefined, ask({ want: 60 }), rpm60, at(0), LEASE_SPEC);
    expect(a.requests).toBe(60);
    expect(exchange(a.state, ask({ gateway: 'b' }), rpm60, at(500), LEASE_SPEC).requests).toBe(0);
    const back = exchange(a.state, ask({ want: 0, returned: { second: a.second, n: 10 } }), rpm60, at(1000), LEASE_SPEC);
    expect(exchange(back.state, ask({ gateway: 'b', want: 10 }), rpm60, at(1500), LEASE_SPEC).requests).toBe(10);
  });

  it('a lease counts for a minute and a lease lifetime after its second, then not at all', () => {
    const full = exchange(undefined, ask({ want: 60 }), rpm60, at(0), LEASE_SPEC).state;
    expect(exchange(full, ask(), rpm60, at(60_999), LEASE_SPEC).requests).toBe(0);
    expect(exchange(full, ask({ want: 60 }), rpm60, at(62_000), LEASE_SPEC).requests).toBe(60);
    expect(requestsExceeded(full, 60, at(30_000))).toMatchObject({ used: 60, retryAfterSeconds: 32 });
    // A lease given back after its second stopped counting takes nothing from later seconds.
    const later = exchange(full, ask({ want: 60, returned: { second: sec(0), n: 30 } }), rpm60, at(125_000), LEASE_SPEC);
    expect(later.requests).toBe(60);
    expect(later.state.requests).toEqual([[sec(125_000), 60]]);
  });

  it("a gateway whose clock is behind neither wipes nor hides another gateway's counts", () => {
    // Gateway a is 2 s ahead, across a minute boundary.
    const a = exchange(undefined, ask({ want: 30 }), rpm60, at(60_500), LEASE_SPEC);
    const b = exchange(a.state, ask({ gateway: 'b', want: 60 }), rpm60, at(58_500), LEASE_SPEC);
    expect(b.requests).toBe(30);
    expect(exchange(b.state, ask(), rpm60, at(60_600), LEASE_SPEC).requests).toBe(0);
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
    // The second of the last tokens stops counting 61 s after it ends.
    expect(sharedStanding(b.state, limits, 0, 50, at(200)).tokens).toEqual({ limit: 1000, remaining: 50, resetMs: 61_800 });
  });

  it("standing counts this gateway's unused lease as remaining", () => {
    const a = exchange(EMPTY_STATE, ask({ want: 1 }), rpm60, at(0), LEASE_SPEC);
    expect(a.requests).toBe(3);
    expect(sharedStanding(a.state, rpm60, 2, 0, at(0)).requests).toEqual({ limit: 60, remaining: 59, resetMs: 62_000 });
  });

  it('counts the seconds of the last minute and a lease lifetime', () => {
    expect(countedFrom(at(62_000), LEASE_SPEC)).toBe(sec(1000));
    expect(countedFrom(at(62_999), LEASE_SPEC)).toBe(sec(1000));
  });

  it('alone, a gateway limits to its share among the gateways last seen sharing the key', () => {
    const a = exchange(undefined, ask({ want: 0 }), rpm60, at(0), LEASE_SPEC);
    const b = exchange(a.state, ask({ gateway: 'b', want: 0 }), rpm60, at(100), LEASE_SPEC);
    const c = exchange(b.state, ask({ gateway: 'c', want: 0 }), rpm60, at(200), LEASE_SPEC);
    expect(sharingGateways(c.state, 'a', at(300), LEASE_SPEC)).toBe(3);
    expect(sharingGateways(c.state, 'a', at(LEASE_SPEC.staleMs + 150), LEASE_SPEC)).toBe(2);
    const limits = { requestsPerMinute: 60, tokensPerMinute: 1000, maxConcurrent: 4 } as KeyLimits;
    expect(localShare(limits, 3, 2)).toMatchObject({ requestsPerMinute: 20, tokensPerMinute: 334, maxConcurrent: 2 });
    expect(localShare(limits, 1, 0)).toMatchObject({ requestsPerMinute: 60, tokensPerMinute: 1000, maxConcurrent: 4 });
  });

  it('counts what a gateway admitted while cut off at its next exchange, so the others do not lease it again', () => {
    // gateway a leased 30 of the minute; b, cut off, admitted 25 on its own counts
    const a = exchange(undefined, ask({ want: 30 }), rpm60, at(0), LEASE_SPEC);
    const b = exchange(
      a.state,
      ask({
        gateway: 'b',
        want: 0,
        admittedAlone: [
          [sec(1000), 20],
          [sec(2000), 5],
        ],
      }),
      rpm60,
      at(6000),
      LEASE_SPEC,
    );
    expect(countSince(b.state.requests, countedFrom(at(6000), LEASE_SPEC))).toBe(55);
    // a asks for more: only the 5 left in the minute
    expect(exchange(b.state, ask({ want: 10 }), rpm60, at(7000), LEASE_SPEC).requests).toBe(5);
    // admissions older than the counted minute are not added
    const late = exchange(undefined, ask({ gateway: 'b', want: 0, admittedAlone: [[sec(0), 9]] }), rpm60, at(62_000), LEASE_SPEC);
    expect(countSince(late.state.requests, countedFrom(at(62_000), LEASE_SPEC))).toBe(0);
  });

  it('cut off from the shared state, a gateway admits no more than the others left it when it last read the state', () => {
    const limits = { requestsPerMinute: 60 } as KeyLimits;
    // 60 counted in the last minute: this gateway admitted 25 and holds 1 unused lease; the others had 34
    const state: SharedKeyState = { ...EMPTY_STATE, requests: [[sec(0), 60]] };
    const behind = fallbackLimits(limits, 2, 0, { state, ownRequests: 25, unusedLease: 1 }, at(5000), LEASE_SPEC);
    expect(behind.requestsPerMinute).toBe(26); // not its share of 30: 25 + 34 + 1 is the limit already
    // the gateway that admitted most keeps its share as the ceiling (its own count refuses the next)
    expect(fallbackLimits(limits, 2, 0, { state, ownRequests: 34, unusedLease: 0 }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(30);
    // counts older than a minute and a lease lifetime leave no trace
    expect(fallbackLimits(limits, 2, 0, { state, ownRequests: 0, unusedLease: 0 }, at(62_000), LEASE_SPEC).requestsPerMinute).toBe(30);
    // never read the state: the share
    expect(fallbackLimits(limits, 2, 0, { ownRequests: 0, unusedLease: 0 }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(30);
    // everything used by the others: 1 (a limit of 0 would read as none), at most one more from here
    const full: SharedKeyState = { ...EMPTY_STATE, requests: [[sec(0), 60]] };
    expect(fallbackLimits(limits, 2, 0, { state: full, ownRequests: 0, unusedLease: 0 }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(1);
  });

  it("keeps every gateway's window tokens by kind and second for recentMs", () => {
    const a = exchange(undefined, ask({ want: 0, windowTokens: { chat: [[sec(0), 100]], batch: [[sec(0), 7]] } }), {}, at(500), LEASE_SPEC);
    const b = exchange(
      a.state,
      ask({ gateway: 'b', want: 0, windowTokens: { chat: [[sec(1000), 50]], batch: [] } }),
      {},
      at(1500),
      LEASE_SPEC,
    );
    expect(windowTokensSince(b.state, 'chat', at(0))).toBe(150);
    expect(windowTokensSince(b.state, 'chat', at(1000))).toBe(50);
    expect(windowTokensSince(b.state, 'batch', at(0))).toBe(7);
    const later = exchange(b.state, ask({ want: 0 }), {}, at(LEASE_SPEC.recentMs + 1000), LEASE_SPEC);
    expect(windowTokensSince(later.state, 'chat', at(0))).toBe(50);
  });
});
