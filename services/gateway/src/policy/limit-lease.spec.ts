import type { KeyLimits } from '@maas/contracts';
import { seededRng } from '@maas/random';
import {
  countedFrom,
  countSince,
  EMPTY_STATE,
  exchange,
  fallbackLimits,
  freshLeased,
  LEASE_SPEC,
  LeaseExchange,
  LeaseSlot,
  leaseSize,
  leaseWanted,
  localShare,
  nextLeased,
  prefetchAt,
  requestsExceeded,
  reserveSecond,
  reserveSize,
  SharedKeyState,
  sharedStanding,
  sharingGateways,
  slotHeadroom,
  tokensExceeded,
  windowTokensSince,
} from './limit-lease';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0); // the start of a minute
const at = (ms: number) => T0 + ms;
const sec = (ms: number) => Math.floor(at(ms) / 1000);
const rpm60: KeyLimits = { requestsPerMinute: 60 } as KeyLimits;
const ask = (over: Partial<LeaseExchange> = {}): LeaseExchange => ({ gateway: 'a', want: 1, tokens: 0, slots: 0, ...over });
/** A lease slot of `n` requests granted at `leasedAt` (epoch ms). */
const slot = (n: number, leasedAt: number): LeaseSlot => ({ n, second: Math.floor(leasedAt / 1000), leasedAt });

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

  it.each([
    // requests per minute, the gateway's admissions per second: requests it asks for
    [100_000, 0, 50],
    [100_000, 100, 50],
    [100_000, 2_000, 500],
    [10_000_000, 10_000, 1_000],
    [600, 100, 30],
    [60, 50, 3],
  ])('a gateway admitting at a rate asks a %d rpm key, at %d a second, for %d', (limit, rate, wanted) => {
    expect(leaseWanted(limit, rate, LEASE_SPEC)).toBe(wanted);
  });

  it.each([
    // maxConcurrent, slots left after what is needed, gateways sharing: headroom
    [10_000, 10_000, 1, 32],
    [10_000, 10_000, 4, 32],
    [100, 100, 1, 10],
    [100, 100, 2, 5],
    [100, 6, 2, 1],
    [100, 3, 2, 0],
    [20, 20, 1, 2],
    [9, 9, 1, 0],
  ])('slot headroom for a key of %d concurrent requests with %d slots left among %d gateways is %d', (max, left, gateways, headroom) => {
    expect(slotHeadroom(max, left, gateways, LEASE_SPEC)).toBe(headroom);
  });

  it('grants slot headroom from what is left, only with the slots needed, and fades it as the key fills', () => {
    const limits = { maxConcurrent: 100 } as KeyLimits;
    const a = exchange(undefined, ask({ want: 0, slots: 10, slotHeadroom: true }), limits, at(0), LEASE_SPEC);
    expect(a.slots).toBe(20);
    // b shares the key now: its headroom is a share among two, and a's next exchange sees two as well
    const b = exchange(a.state, ask({ gateway: 'b', want: 0, slots: 70, slotHeadroom: true }), limits, at(100), LEASE_SPEC);
    expect(b.slots).toBe(70 + 2); // 10 left after a's 20 and its 70: half of it between two, 2 each
    const a2 = exchange(b.state, ask({ want: 0, slots: 20, slotHeadroom: true }), limits, at(200), LEASE_SPEC);
    expect(a2.slots).toBe(20 + 2); // 8 left: 2
    // near the limit nothing spare is granted, and a gateway whose need is not met gets no headroom either
    const b2 = exchange(a2.state, ask({ gateway: 'b', want: 0, slots: 76, slotHeadroom: true }), limits, at(300), LEASE_SPEC);
    expect(b2.slots).toBe(76);
    const a3 = exchange(b2.state, ask({ want: 0, slots: 30, slotHeadroom: true }), limits, at(400), LEASE_SPEC);
    expect(a3.slots).toBe(24);
  });

  it('with headroom, gateways asking in any order never hold more slots together than the key allows', () => {
    const limits = { maxConcurrent: 50 } as KeyLimits;
    const random = seededRng(7);
    let state: SharedKeyState | undefined;
    const held = new Map<string, number>();
    for (let i = 0; i < 2_000; i++) {
      const gateway = 'abc'[Math.floor(random() * 3)];
      const grant = exchange(
        state,
        ask({ gateway, want: 0, slots: Math.floor(random() * 30), slotHeadroom: random() < 0.7 }),
        limits,
        at(i),
        LEASE_SPEC,
      );
      state = grant.state;
      held.set(gateway, grant.slots);
      expect([...held.values()].reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(50);
    }
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

  it('alone, a gateway limits tokens and concurrency to its share among the gateways last seen sharing the key', () => {
    const a = exchange(undefined, ask({ want: 0 }), rpm60, at(0), LEASE_SPEC);
    const b = exchange(a.state, ask({ gateway: 'b', want: 0 }), rpm60, at(100), LEASE_SPEC);
    const c = exchange(b.state, ask({ gateway: 'c', want: 0 }), rpm60, at(200), LEASE_SPEC);
    expect(sharingGateways(c.state, 'a', at(300), LEASE_SPEC)).toBe(3);
    expect(sharingGateways(c.state, 'a', at(LEASE_SPEC.staleMs + 150), LEASE_SPEC)).toBe(2);
    const limits = { requestsPerMinute: 60, tokensPerMinute: 1000, maxConcurrent: 4 } as KeyLimits;
    // rounded down: the shares of the gateways sum to no more than the limit
    expect(localShare(limits, 3, 2)).toMatchObject({ requestsPerMinute: 20, tokensPerMinute: 333, maxConcurrent: 2 });
    expect(localShare({ tokensPerMinute: 61 } as KeyLimits, 2, 0).tokensPerMinute).toBe(30);
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

  it('cut off from the shared state, a gateway admits only the unused part of its lease, within its lifetime', () => {
    const limits = { requestsPerMinute: 60 } as KeyLimits;
    // 25 admitted here, 2 of a lease taken 400 ms ago still unused: up to 27
    expect(fallbackLimits(limits, 2, 0, { ownRequests: 25, leases: [slot(2, at(4600))] }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(27);
    // the lease is past its lifetime: nothing more (its second may leave the count while a request from it is in a minute)
    expect(fallbackLimits(limits, 2, 0, { ownRequests: 25, leases: [slot(2, at(3900))] }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(25);
    // nothing held: 0, which the caller reads as "refuse" (the others may lease all that is left meanwhile)
    expect(fallbackLimits(limits, 2, 0, { ownRequests: 0, leases: [slot(0, at(4900))] }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(0);
    expect(fallbackLimits(limits, 1, 0, { ownRequests: 0, leases: [] }, at(5000), LEASE_SPEC).requestsPerMinute).toBe(0);
    // a key without a requests limit has none alone either
    expect(fallbackLimits({ tokensPerMinute: 100 } as KeyLimits, 2, 0, { ownRequests: 3, leases: [] }, at(5000), LEASE_SPEC)).toMatchObject(
      {
        tokensPerMinute: 50,
      },
    );
  });

  it.each([
    ['half of a lease of 50', 100_000, 25],
    ['half of a lease of 3, rounded down', 60, 1],
    ['never for a lease of one request (the request path asks)', 10, 0],
  ])('the next lease is fetched ahead at %s', (_, limit, at) => {
    expect(prefetchAt(limit, LEASE_SPEC)).toBe(at);
  });

  it('requests are taken from the oldest lease slot within its own lifetime; each counts alone, cut off', () => {
    const slots = [slot(0, at(0)), slot(5, at(100)), slot(50, at(700))];
    expect(nextLeased(slots, at(500), LEASE_SPEC)).toBe(1);
    expect(freshLeased(slots, at(500), LEASE_SPEC)).toBe(55);
    // the second slot is past its lifetime at 1.1 s; the third, granted later, is not, and keeps its own
    expect(nextLeased(slots, at(1100), LEASE_SPEC)).toBe(2);
    expect(freshLeased(slots, at(1100), LEASE_SPEC)).toBe(50);
    expect(nextLeased(slots, at(1700), LEASE_SPEC)).toBe(-1);
    expect(fallbackLimits(rpm60, 2, 0, { ownRequests: 10, leases: slots }, at(500), LEASE_SPEC).requestsPerMinute).toBe(65);
    expect(fallbackLimits(rpm60, 2, 0, { ownRequests: 10, leases: slots }, at(1100), LEASE_SPEC).requestsPerMinute).toBe(60);
  });

  it('a lease granted by a write the gateway never heard of counts as taken, and its next exchange gives it back', () => {
    // a's exchange x was taken by the entry, but a timed out waiting: its 3 count, unused
    const x = exchange(undefined, ask({ held: [] }), rpm60, at(0), LEASE_SPEC);
    const b = exchange(x.state, ask({ gateway: 'b', want: 60, held: [] }), rpm60, at(100), LEASE_SPEC);
    expect([x.requests, b.requests]).toEqual([3, 57]);
    // a's next exchange says what it holds (nothing): the 3 go back, and b leases them
    const again = exchange(b.state, ask({ want: 0, held: [] }), rpm60, at(1500), LEASE_SPEC);
    expect(countSince(again.state.requests, countedFrom(at(1500), LEASE_SPEC))).toBe(57);
    expect(exchange(again.state, ask({ gateway: 'b', want: 60, held: [[sec(100), 57]] }), rpm60, at(1600), LEASE_SPEC).requests).toBe(3);
    // given back once: the entry now has what a holds
    const twice = exchange(again.state, ask({ want: 0, held: [] }), rpm60, at(1700), LEASE_SPEC);
    expect(countSince(twice.state.requests, countedFrom(at(1700), LEASE_SPEC))).toBe(57);
  });

  it('a lease lost to a concurrent write (two writes taken on the same revision) is counted again at the next exchange', () => {
    const base = exchange(undefined, ask({ gateway: 'b', want: 30, held: [] }), rpm60, at(0), LEASE_SPEC).state;
    // a and b both write on `base`; NATS 2.9 in a cluster may take both, and b's write, the later, has no trace of a's lease
    const a = exchange(base, ask({ held: [] }), rpm60, at(500), LEASE_SPEC);
    const b = exchange(base, ask({ gateway: 'b', want: 27, held: [[sec(0), 30]] }), rpm60, at(510), LEASE_SPEC);
    expect([a.requests, b.requests]).toEqual([3, 27]);
    expect(countSince(b.state.requests, countedFrom(at(510), LEASE_SPEC))).toBe(57);
    // a's next exchange (giving back 1 unused) holds 2 at second 0.5: the entry counts them again, so nothing is left for b
    const repaired = exchange(b.state, ask({ want: 0, held: [[sec(500), 2]] }), rpm60, at(1500), LEASE_SPEC);
    expect(countSince(repaired.state.requests, countedFrom(at(1500), LEASE_SPEC))).toBe(59);
    expect(
      exchange(
        repaired.state,
        ask({
          gateway: 'b',
          want: 3,
          held: [
            [sec(0), 30],
            [sec(510), 27],
          ],
        }),
        rpm60,
        at(1600),
        LEASE_SPEC,
      ).requests,
    ).toBe(1);
  });

  it('gateways all cut off at once (a NATS outage) admit together no more than the limit', () => {
    const over: { limit: number; gateways: number; admitted: number }[] = [];
    for (const [limit, gateways] of [
      [10, 3],
      [60, 2],
      [61, 2],
      [1, 2],
    ]) {
      const limits = { requestsPerMinute: limit } as KeyLimits;
      const ids = Array.from({ length: gateways }, (_, i) => `g${i}`);
      // each gateway has leased once and admitted one request from its lease, then the state is gone
      let state: SharedKeyState | undefined;
      const held = ids.map((gateway, i) => {
        const g = exchange(state, ask({ gateway }), limits, at(i * 10), LEASE_SPEC);
        state = g.state;
        return { lease: g.requests, leasedAt: at(i * 10), own: Math.min(1, g.requests) };
      });
      const counted = countSince(state!.requests, countedFrom(at(100), LEASE_SPEC));
      let alone = 0;
      for (const h of held) {
        // what it read last: the state as the last gateway wrote it (the most any of them saw)
        const last = { state, ownRequests: h.own, leases: [slot(h.lease - h.own, h.leasedAt)] };
        alone += fallbackLimits(limits, gateways, 0, last, at(100), LEASE_SPEC).requestsPerMinute! - h.own;
      }
      over.push({ limit, gateways, admitted: counted - held.reduce((n, h) => n + h.lease - h.own, 0) + alone });
    }
    expect(over.filter((o) => o.admitted > o.limit)).toEqual([]);
  });

  /**
   * Gateways a and b offered 3 requests a second each for 20 s (b a sixth of a second after a), leasing from one
   * shared state as the service does; `fails(t)` says what becomes of a's exchange at t: done, lost (the state never
   * took it) or applied (the state took it but a never heard: a timeout). A failed exchange leaves a counting alone
   * for 5 s. Returns the admissions of each.
   */
  function drill(fails: (t: number) => 'done' | 'lost' | 'applied', reserve = false): { a: number; b: number; log: [number, number][] } {
    let state: SharedKeyState | undefined;
    const log: [number, number][] = [];
    const gw = (gateway: string) => ({
      gateway,
      lease: 0,
      leasedAt: -Infinity,
      leaseSecond: 0,
      reserve: 0,
      reservedAt: -Infinity,
      reserveSecond: 0,
      own: 0,
      aloneUntil: -Infinity,
      held: [] as [number, number][],
    });
    const side = { a: gw('a'), b: gw('b') };
    const offers = Array.from({ length: 60 }, (_, i) => [
      [i * 333, side.a],
      [i * 333 + 166, side.b],
    ]).flat() as [number, ReturnType<typeof gw>][];
    for (const [t, g] of offers) {
      const admit = () => {
        g.own++;
        log.push([t, 1]);
      };
      const alone = () => {
        // what the service passes; its last state too (a policy may use it)
        const last = {
          state,
          ownRequests: g.own,
          leases: [{ n: g.lease, second: g.leaseSecond, leasedAt: at(g.leasedAt) }],
          unusedReserve: g.reserve,
          reservedAt: at(g.reservedAt),
        };
        if (g.own < fallbackLimits(rpm60, 2, 0, last, at(t), LEASE_SPEC).requestsPerMinute!) {
          admit();
          if (g.lease >= 1 && t - g.leasedAt < LEASE_SPEC.lifetimeMs) g.lease--;
          else g.reserve--;
        }
      };
      if (t < g.aloneUntil) {
        alone();
        continue;
      }
      if (g.lease >= 1 && t - g.leasedAt < LEASE_SPEC.lifetimeMs) {
        admit();
        g.lease--;
        continue;
      }
      // as the service: an unused lease given back leaves what the gateway holds at once; the unused reserve is
      // left out of what is sent, and leaves what the gateway holds only once the exchange is done
      const i = g.held.findIndex(([s]) => s === g.leaseSecond);
      if (g.lease > 0 && i >= 0) g.held[i][1] -= g.lease;
      g.lease = 0;
      const sent = g.held.map(([s, n]): [number, number] => [s, s === g.reserveSecond ? n - g.reserve : n]).filter(([, n]) => n > 0);
      const grant = exchange(state, ask({ gateway: g.gateway, held: sent, reserve }), rpm60, at(t), LEASE_SPEC);
      const outcome = g.gateway === 'a' ? fails(t) : 'done';
      if (outcome !== 'lost') state = grant.state;
      if (outcome !== 'done') {
        g.aloneUntil = t + 5000;
        alone();
        continue;
      }
      [g.lease, g.leasedAt, g.leaseSecond] = [grant.requests, t, grant.second];
      [g.reserve, g.reservedAt, g.reserveSecond] = [grant.reserve, t, grant.reserveSecond];
      g.held = sent;
      if (grant.requests > 0) g.held.push([grant.second, grant.requests]);
      if (grant.reserve > 0) g.held.push([grant.reserveSecond, grant.reserve]);
      g.held.sort((x, y) => x[0] - y[0]);
      if (g.lease >= 1) {
        admit();
        g.lease--;
      }
    }
    return { a: side.a.own, b: side.b.own, log };
  }

  it.each([
    ['lost, early in the minute', (t: number) => (t >= 4000 && t < 9000 ? 'lost' : 'done')],
    ['lost, as the budget runs out', (t: number) => (t >= 8000 && t < 13_000 ? 'lost' : 'done')],
    ['timed out but applied', (t: number) => (t >= 8000 && t < 13_000 ? 'applied' : 'done')],
    ['timing out every other second', (t: number) => (Math.floor(t / 1000) % 2 ? 'applied' : 'done')],
  ] as const)("a gateway whose exchanges fail (%s) while the other's get through: together no more than the limit", (_, fails) => {
    for (const reserve of [false, true]) {
      const admitted = drill(fails, reserve);
      expect(admitted.a + admitted.b).toBeLessThanOrEqual(60);
      // the other gateway uses what the cut-off one does not; a lease (or reserve) taken by a write whose outcome was not heard
      // stays counted
      expect(admitted.a + admitted.b).toBeGreaterThanOrEqual(60 - 2 * leaseSize(60, 60, LEASE_SPEC) - (reserve ? 5 : 0));
      expect(admitted.a).toBeGreaterThan(0);
    }
  });

  it.each([
    ['a sixth of the limit among the gateways', 60, 60, 2, 5],
    ['at most maxReserve', 100_000, 100_000, 2, LEASE_SPEC.maxReserve],
    ['half of what is left among them, as the key nears its limit', 60, 12, 2, 3],
    ['nothing for a small limit', 3, 3, 1, 0],
    ['nothing when nothing is left', 60, 1, 1, 0],
  ])('a reserve is %s', (_, limit, room, gateways, size) => {
    expect(reserveSize(limit, room, gateways, LEASE_SPEC)).toBe(size);
  });

  it('a reserve is counted like a lease, seconds later, until a minute and a lease lifetime after its last possible use', () => {
    const limits = { requestsPerMinute: 600 } as KeyLimits;
    const g = exchange(undefined, ask({ held: [], reserve: true }), limits, at(200), LEASE_SPEC);
    expect([g.requests, g.reserve]).toEqual([30, 100]);
    expect(g.reserveSecond).toBe(reserveSecond(sec(200), LEASE_SPEC));
    expect(g.reserveSecond).toBe(sec(200) + 9);
    // its last use is just before 10.2 s; it counts while the count starts at 10.2 s - 61 s or earlier
    const counted = (t: number) => countSince(g.state.requests, countedFrom(at(t), LEASE_SPEC));
    expect(counted(10_199 + 60_000)).toBe(100);
    expect(counted(10_000 + 61_000 - 1)).toBe(100);
    expect(counted(10_000 + 61_000)).toBe(0);
    // every minute window holds no more than the limit when each gateway uses its reserve at its last moment
    const uses: [number, number][] = [
      [0, 30],
      [10_199, 100],
    ];
    expect(busiestMinute(uses)).toBeLessThanOrEqual(600);
  });

  it('the next exchange gives the unused reserve back and grants a new one; a key near its limit keeps none', () => {
    const g = exchange(undefined, ask({ held: [], reserve: true }), rpm60, at(0), LEASE_SPEC);
    // one gateway sharing the key: a sixth of 60
    expect([g.requests, g.reserve]).toEqual([3, 10]);
    // 2 of the reserve used alone, 8 left out of what is held: given back, and a new reserve in a later second
    const held: [number, number][] = [
      [sec(0), 3],
      [g.reserveSecond, 2],
    ];
    const next = exchange(g.state, ask({ want: 0, held, reserve: true }), rpm60, at(1500), LEASE_SPEC);
    expect(next.reserveSecond).toBe(g.reserveSecond + 1);
    expect(countSince(next.state.requests, countedFrom(at(1500), LEASE_SPEC))).toBe(3 + 2 + next.reserve);
    // another gateway takes all but 4: reserves fade (half of what is left among the two)
    const b = exchange(next.state, ask({ gateway: 'b', want: 60 - 5 - next.reserve - 4, held: [] }), rpm60, at(1600), LEASE_SPEC);
    const near = exchange(b.state, ask({ want: 0, held, reserve: true }), rpm60, at(2000), LEASE_SPEC);
    expect(near.reserve).toBe(Math.floor((4 + next.reserve) / 4));
    // without asking, the reserve goes back for good
    const done = exchange(near.state, ask({ want: 0, held }), rpm60, at(3000), LEASE_SPEC);
    expect([done.reserve, countSince(done.state.requests, countedFrom(at(3000), LEASE_SPEC))]).toEqual([0, 5 + b.requests]);
  });

  it('cut off, a gateway admits from its reserve within the reserve lifetime, after its lease', () => {
    const last = { ownRequests: 10, leases: [slot(2, at(4000))], unusedReserve: 5, reservedAt: at(4000) };
    expect(fallbackLimits(rpm60, 2, 0, last, at(4500), LEASE_SPEC).requestsPerMinute).toBe(17);
    // the lease is past its lifetime, the reserve is not
    expect(fallbackLimits(rpm60, 2, 0, last, at(9000), LEASE_SPEC).requestsPerMinute).toBe(15);
    // both are
    expect(fallbackLimits(rpm60, 2, 0, last, at(4000 + LEASE_SPEC.reserveLifetimeMs), LEASE_SPEC).requestsPerMinute).toBe(10);
  });

  it('with reserves, a gateway cut off for 5 s keeps admitting, and the two admit no more than the limit in any minute', () => {
    const lost = (t: number) => (t >= 4000 && t < 9000 ? 'lost' : 'done');
    const without = drill(lost, false);
    const withReserve = drill(lost, true);
    expect(busiestMinute(withReserve.log)).toBeLessThanOrEqual(60);
    expect(withReserve.a).toBeGreaterThan(without.a);
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
