import type { KeyLimits } from '@maas/contracts';
import { countedFrom, countSince, LEASE_SPEC, SharedKeyState } from '../policy/limit-lease';
import type { GatewayClock } from '../repositories/clock';
import type { SharedLimitsRepository } from '../repositories/shared-limits.repository';
import { KeyLimitsService } from './key-limits.service';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0); // the start of a minute
const KEY = 'key-1';
/** Far above the load: leases of 50, the next asked for at 25 left. */
const limits = { requestsPerMinute: 100_000 } as KeyLimits;

/** The shared entry in memory; `pause()` holds exchanges until `resume()`, `fail` makes them throw. */
class FakeSharedLimits {
  readonly gatewayId = 'gateway-a';
  state?: SharedKeyState;
  exchanges = 0;
  fail = false;
  private paused?: { wait: Promise<void>; resume: () => void };

  async update<T extends { state: SharedKeyState }>(_keyId: string, change: (current: SharedKeyState | undefined) => T): Promise<T> {
    this.exchanges++;
    await this.paused?.wait;
    if (this.fail) throw new Error('no responders');
    const result = change(this.state);
    this.state = result.state;
    return result;
  }

  pause(): void {
    let resume!: () => void;
    const wait = new Promise<void>((r) => (resume = r));
    this.paused = { wait, resume };
  }

  resume(): void {
    this.paused?.resume();
    this.paused = undefined;
  }

  /** Leased requests the entry counts up to `now`'s second (a reserve is counted seconds later). */
  leased(now: number): number {
    const second = Math.floor(now / 1000);
    return countSince(
      (this.state?.requests ?? []).filter(([s]) => s <= second),
      countedFrom(now, LEASE_SPEC),
    );
  }
}

const tick = () => new Promise((r) => setImmediate(r));

/** Whether `p` has settled once everything queued so far has run: an admission that waits on an exchange has not. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await tick();
  return done;
}

describe('KeyLimitsService with a shared state', () => {
  let t: number;
  let repository: FakeSharedLimits;
  let service: KeyLimitsService;
  const clock: GatewayClock = { now: () => t, monotonic: () => t };
  const admit = () => service.admit(KEY, limits, t);
  /** Admits `n` requests one after the other; returns how many were refused. */
  const admitMany = async (n: number) => {
    let refused = 0;
    for (let i = 0; i < n; i++) if (await admit()) refused++;
    return refused;
  };

  beforeEach(() => {
    t = T0;
    repository = new FakeSharedLimits();
    service = new KeyLimitsService(clock, undefined, repository as unknown as SharedLimitsRepository);
  });

  afterEach(() => service.onModuleDestroy());

  it('keeps admitting from the lease in hand while the next is fetched, then from the next without waiting', async () => {
    expect(await admitMany(24)).toBe(0);
    expect(repository.exchanges).toBe(1);
    repository.pause();
    // 25 left, the low-water mark: the next lease is asked for in the background
    expect(await admit()).toBeUndefined();
    expect(repository.exchanges).toBe(2);
    const meanwhile = Array.from({ length: 25 }, () => admit());
    for (const p of meanwhile) expect(await settled(p)).toBe(true);
    // the lease in hand is used up: the next request waits for the exchange in flight, and starts none of its own
    const waiting = admit();
    expect(await settled(waiting)).toBe(false);
    repository.resume();
    expect(await waiting).toBeUndefined();
    expect(repository.exchanges).toBe(2);
    // 49 of the second lease left: the third is fetched once 25 are, and no request waits
    expect(await admitMany(24)).toBe(0);
    await tick();
    expect(repository.exchanges).toBe(3);
    expect(repository.leased(t)).toBe(150);
  });

  it("uses a lease fetched ahead only within its own lifetime, the older first and within the older's", async () => {
    await admitMany(24);
    t = T0 + 600;
    await admit(); // 25 left: the next lease is fetched, granted at 0.6 s
    await tick();
    expect(repository.exchanges).toBe(2);
    // the first lease's 25 go first, within its lifetime; the second's 50 stay whole
    t = T0 + 900;
    expect(await admitMany(25)).toBe(0);
    expect(repository.exchanges).toBe(2);
    // the first lease is past its lifetime, the second is not: used without an exchange
    t = T0 + 1200;
    expect(await admitMany(10)).toBe(0);
    expect(repository.exchanges).toBe(2);
    // the second is past its own lifetime (from 0.6 s, not from when the first ran out): a new lease, its 40 unused go back
    t = T0 + 1600;
    expect(await admit()).toBeUndefined();
    expect(repository.exchanges).toBe(3);
    expect(repository.leased(t)).toBe(50 + 10 + 50);
    // what this gateway holds unused (the new lease's 49 and its reserve) is remaining
    expect(service.standing(KEY, limits, t).requests?.remaining).toBe(100_000 - 61);
  });

  it('gives back the unused part of every slot past its lifetime, each from the second it is counted in', async () => {
    t = T0 + 500;
    await admitMany(24); // the first lease, counted in second 0
    t = T0 + 1200;
    await admit(); // 25 left of it: the second is fetched, counted in second 1
    await tick();
    t = T0 + 1600;
    await admit(); // the first is past its lifetime: a request from the second
    expect(repository.exchanges).toBe(2);
    t = T0 + 2300;
    await admit(); // both past their lifetimes: the first's 25 go back, and the second's 49
    expect(repository.exchanges).toBe(3);
    const second = T0 / 1000;
    const requests = new Map(repository.state!.requests.filter(([s]) => s <= second + 2));
    expect([requests.get(second), requests.get(second + 1), requests.get(second + 2)]).toEqual([25, 1, 50]);
  });

  it("sizes leases to a busy gateway's rate: at 2,000 requests a second, about four exchanges a second rather than forty", async () => {
    const exchangesIn = async (ms: number) => {
      const before = repository.exchanges;
      for (const end = t + ms; t < end; t += 0.5) expect(await admit()).toBeUndefined();
      return repository.exchanges - before;
    };
    // the first second at leases of 50, as the rate is not known yet
    expect(await exchangesIn(1000)).toBeGreaterThanOrEqual(39);
    // then leases of a quarter of a second at the rate of the last: 500
    expect(await exchangesIn(1000)).toBeLessThanOrEqual(5);
    expect(await exchangesIn(1000)).toBeLessThanOrEqual(5);
    // the state counts what was admitted and what is in hand: at most half of one lease and the next, fetched then
    const admitted = 3 * 2000;
    expect(repository.leased(t)).toBeGreaterThanOrEqual(admitted);
    expect(repository.leased(t)).toBeLessThanOrEqual(admitted + 250 + 500);
  });

  it('a failed background exchange leaves the gateway on its own counts: the fresh lease in hand, then refused', async () => {
    await admitMany(24);
    repository.fail = true;
    expect(await admit()).toBeUndefined(); // 25 left: the next lease is asked for, and that fails
    await tick();
    expect(repository.exchanges).toBe(2);
    // the 25 left of the lease in hand, which the state counts for this gateway: nothing more
    expect(await admitMany(25)).toBe(0);
    expect(await admit()).toMatchObject({ limit: 'requests_per_minute' });
    expect(repository.exchanges).toBe(2);
  });
});

describe('KeyLimitsService concurrency slots with a shared state', () => {
  let t: number;
  let repository: FakeSharedLimits;
  let service: KeyLimitsService;
  const clock: GatewayClock = { now: () => t, monotonic: () => t };
  /** Admits `n` requests, none finishing; returns how many waited on an exchange and how many were refused. */
  const rise = async (limits: KeyLimits, n: number) => {
    let waited = 0;
    let refused = 0;
    for (let i = 0; i < n; i++) {
      repository.pause(); // an exchange this admission starts waits until it has been seen waiting (or not)
      const p = service.admit(KEY, limits, t);
      if (!(await settled(p))) waited++;
      repository.resume();
      if (await p) refused++;
    }
    return { waited, refused };
  };
  const slotsHeld = () => repository.state?.slots['gateway-a']?.n ?? 0;

  beforeEach(() => {
    t = T0;
    repository = new FakeSharedLimits();
    service = new KeyLimitsService(clock, undefined, repository as unknown as SharedLimitsRepository);
  });

  afterEach(() => {
    service.onModuleDestroy();
    jest.useRealTimers();
  });

  it('admits a rise from 0 to 60 in flight waiting on one exchange: more slots are fetched ahead, in the background', async () => {
    const limits = { maxConcurrent: 10_000 } as KeyLimits;
    expect(await rise(limits, 60)).toEqual({ waited: 1, refused: 0 });
    // 1 + 32 on the request path; 32 more at 17 in flight and at 49, each while 16 spare were left
    expect(repository.exchanges).toBe(3);
    expect(slotsHeld()).toBe(97);
  });

  it('keeps no spare slots for a small key: each slot is asked for when needed, and the one past the limit refused', async () => {
    const limits = { maxConcurrent: 5 } as KeyLimits;
    expect(await rise(limits, 6)).toEqual({ waited: 6, refused: 1 });
    expect(repository.exchanges).toBe(6);
    expect(slotsHeld()).toBe(5);
  });

  it('keeps the slots of its busiest moment and headroom while the key is in use, and gives all back once idle', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const limits = { maxConcurrent: 10_000 } as KeyLimits;
    await rise(limits, 40);
    expect(slotsHeld()).toBe(65);
    for (let i = 0; i < 30; i++) service.release(KEY, 0, t);
    // in use (a request admitted within a lease lifetime): the peak of 40 and 32 spare
    t = T0 + 500;
    await jest.advanceTimersByTimeAsync(LEASE_SPEC.lifetimeMs);
    expect(slotsHeld()).toBe(72);
    // idle: the 10 still in flight, no headroom
    t = T0 + 1500;
    await jest.advanceTimersByTimeAsync(LEASE_SPEC.lifetimeMs);
    expect(slotsHeld()).toBe(10);
    for (let i = 0; i < 10; i++) service.release(KEY, 0, t);
    t = T0 + 2500;
    await jest.advanceTimersByTimeAsync(LEASE_SPEC.lifetimeMs);
    expect(slotsHeld()).toBe(0);
  });
});
