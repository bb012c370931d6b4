import type { KeyLimits } from '@maas/contracts';
import type { LimitExceeded, LimitState } from './key-limits';

const SECOND = 1000;
const MINUTE = 60_000;

/** Counts per whole second: `[epoch second, n]`, oldest first. */
export type SecondCounts = readonly (readonly [number, number])[];

/**
 * One key's per-minute counts and concurrency as every gateway sees them (one KV entry). Requests
 * are counted per second when leased and tokens per second when reported, so a count covers exactly
 * the seconds of the last minute (see `countedFrom`), whichever gateway's clock wrote them.
 */
export interface SharedKeyState {
  /** Requests leased per second. */
  readonly requests: SecondCounts;
  /** Tokens reported per second. */
  readonly tokens: SecondCounts;
  /** Concurrency slots each gateway holds, with when it last said so. */
  readonly slots: Readonly<Record<string, { readonly n: number; readonly at: number }>>;
  /** When each gateway last exchanged with this entry: how many share the key. */
  readonly gateways: Readonly<Record<string, number>>;
  /**
   * Tokens of finished requests per second of their finish, by kind, every gateway's, for `recentMs`:
   * what the token windows add to the ledger's totals until the ledger has them.
   */
  readonly windows?: { readonly chat: SecondCounts; readonly batch: SecondCounts };
  /**
   * Each gateway's leases per second as this entry has them (those that send `held`): a write lost to a
   * concurrent one, or taken without the gateway hearing it, shows as a difference at its next exchange.
   */
  readonly leased?: Readonly<Record<string, SecondCounts>>;
}

/** Interactive (`chat`) and `batch` tokens count against separate windows. */
export type WindowKind = 'chat' | 'batch';

/** How much of the shared budget a gateway takes at a time, and for how long. */
export interface LeaseSpec {
  /** A lease is this share of the key's requests per minute (at least 1, at most `maxLease`). */
  readonly share: number;
  readonly maxLease: number;
  /**
   * A busy gateway asks for more: what it admits in `busyLeaseMs` at its rate of the last second, at most `maxBusyLease`
   * and never more than `share` of the limit (see `leaseWanted`), so its exchanges stay a few per second at any rate.
   */
  readonly busyLeaseMs: number;
  readonly maxBusyLease: number;
  /** A lease is used within this long of being granted, else given back; idle slots go back after it too. */
  readonly lifetimeMs: number;
  /** Slots of a gateway that has not refreshed them for this long are free again (a gateway that died). */
  readonly staleMs: number;
  /** Window tokens are kept this long: more than GATEWAY_LEDGER_RESEED plus GATEWAY_LEDGER_LAG (1 min + 10 s by default). */
  readonly recentMs: number;
  /**
   * A reserve is this share of the key's requests per minute, divided among the gateways sharing it (at most
   * `maxReserve`, and never more than half of what is left divided among them): requests a gateway admits only
   * while it cannot reach the shared state, counted there like a lease before it is needed.
   */
  readonly reserveShare: number;
  readonly maxReserve: number;
  /** A reserve is used within this long of being granted (it outlives a lease: a cluster elects a new leader in seconds). */
  readonly reserveLifetimeMs: number;
  /**
   * The next lease is asked for in the background once the fresh lease in hand falls to this share of a lease, so
   * requests keep being admitted from it meanwhile instead of waiting on the exchange (see `prefetchAt`).
   */
  readonly prefetchShare: number;
  /**
   * Concurrency slots are held with headroom over the requests in flight: this share of the key's concurrency among
   * the gateways sharing it, at most `maxSlotHeadroom`, and never more than half of the slots left among them (see
   * `slotHeadroom`), so a rise in concurrency is admitted from slots in hand rather than an exchange per request.
   */
  readonly slotShare: number;
  readonly maxSlotHeadroom: number;
}

export const LEASE_SPEC: LeaseSpec = {
  share: 1 / 20,
  maxLease: 50,
  // A quarter of a second: about four exchanges a second however busy (at 2,000 requests/s, 500 a lease rather than 40
  // leases of 50), while what a lease holds unused is a quarter of a second of the gateway's own demand.
  busyLeaseMs: 250,
  maxBusyLease: 1000,
  lifetimeMs: 1000,
  staleMs: 10_000,
  recentMs: 150_000,
  reserveShare: 1 / 6,
  maxReserve: 200,
  reserveLifetimeMs: 10_000,
  // Half a lease: at 1,300 requests/s a lease of 50 lasts ~38 ms, and half of it leaves ~19 ms for the exchange (three
  // KV round trips, more on a compare-and-set conflict or a GC pause); a quarter (~9 ms) is overrun by one retry.
  // The cost is at most half a lease more held per gateway, and what goes unused goes back after its lifetime.
  prefetchShare: 1 / 2,
  // A key of 10,000 concurrent requests keeps 32 slots spare per gateway (0.3 %); one of 20 keeps 2, one under 10 none.
  slotShare: 1 / 10,
  maxSlotHeadroom: 32,
};

/**
 * The requests of one grant not used yet: each is used only within `lifetimeMs` of its own grant (`leasedAt`),
 * never of a later one, and given back in the second it is counted in (`second`) once past it.
 */
export interface LeaseSlot {
  readonly n: number;
  readonly second: number;
  readonly leasedAt: number;
}

/** The slot is within its lifetime at `now`. */
export function isFresh(slot: LeaseSlot, now: number, spec: LeaseSpec): boolean {
  return now - slot.leasedAt < spec.lifetimeMs;
}

/** Unused requests of the slots within their lifetime at `now`: what may be admitted without an exchange. */
export function freshLeased(slots: readonly LeaseSlot[], now: number, spec: LeaseSpec): number {
  let n = 0;
  for (const slot of slots) if (isFresh(slot, now, spec)) n += Math.max(0, slot.n);
  return n;
}

/** The slot the next request is taken from: the oldest within its lifetime with a request left (-1 when none is). */
export function nextLeased(slots: readonly LeaseSlot[], now: number, spec: LeaseSpec): number {
  return slots.findIndex((slot) => slot.n >= 1 && isFresh(slot, now, spec));
}

/**
 * The fresh lease at or below which the next one is asked for in the background: a share of the lease the gateway
 * asks for (at `admittedPerSecond`), 0 (never: the request path asks when nothing fresh is left) for keys whose lease
 * is a single request.
 */
export function prefetchAt(limit: number, spec: LeaseSpec, admittedPerSecond = 0): number {
  return Math.floor(leaseWanted(limit, admittedPerSecond, spec) * spec.prefetchShare);
}

/**
 * The requests a gateway asks for at an exchange: a lease (`leaseSize`), or for a busy gateway what it admits in
 * `busyLeaseMs` at `admittedPerSecond`, at most `maxBusyLease` and `share` of the limit.
 */
export function leaseWanted(limit: number, admittedPerSecond: number, spec: LeaseSpec): number {
  const busy = Math.min(spec.maxBusyLease, Math.floor(limit * spec.share), Math.ceil((admittedPerSecond * spec.busyLeaseMs) / SECOND));
  return Math.max(leaseSize(limit, limit, spec), busy);
}

/** What one gateway brings to an exchange with the shared state of a key. */
export interface LeaseExchange {
  readonly gateway: string;
  /** Requests wanted on top of what the gateway still holds. */
  readonly want: number;
  /** Leased requests given back unused, with the epoch second they were counted in. */
  readonly returned?: { readonly second: number; readonly n: number };
  /** Tokens the gateway's finished requests used since its last exchange. */
  readonly tokens: number;
  /** Slots the gateway means to hold from now on (its requests in flight, plus one when it needs another). */
  readonly slots: number;
  /** Hold headroom over `slots` too, from what is left (see `slotHeadroom`). */
  readonly slotHeadroom?: boolean;
  /** Window tokens of requests the gateway finished since its last exchange, per second of their finish. */
  readonly windowTokens?: { readonly chat: SecondCounts; readonly batch: SecondCounts };
  /** Requests the gateway admitted on its own counts while it could not reach the state, per second of admission. */
  readonly admittedAlone?: SecondCounts;
  /**
   * The gateway's leases of the counted minute per second, as it heard them granted and less what it gives back
   * (this exchange's included): its own truth, which replaces what the entry has for it. A lease whose write was
   * lost (NATS 2.9 may take two writes expecting the same revision of an entry: nats-server#4320) is counted again;
   * one the entry took but the gateway never heard of (a timeout) is given back. `returned` is not used with it.
   */
  readonly held?: SecondCounts;
  /**
   * Keep a reserve for when the state cannot be reached: one is granted on top of the lease, from what is left
   * (with `held` only; the unused part of the gateway's last reserve is given back by leaving it out of `held`).
   */
  readonly reserve?: boolean;
}

export interface LeaseGrant {
  readonly state: SharedKeyState;
  /** Requests leased, counted in `second`. */
  readonly requests: number;
  /** The epoch second the exchange counted in. */
  readonly second: number;
  /** Slots the gateway now holds: less than asked when the key's concurrency is used elsewhere, more by any headroom granted. */
  readonly slots: number;
  /** Requests reserved, counted in `reserveSecond` (see `reserveSecond`); 0 when not asked for or nothing is left. */
  readonly reserve: number;
  readonly reserveSecond: number;
}

export const EMPTY_STATE: SharedKeyState = { requests: [], tokens: [], slots: {}, gateways: {} };

const secondOf = (t: number) => Math.floor(t / SECOND);

/**
 * The first second whose count still weighs at `now`: a request admitted now may have been leased
 * up to a lease's lifetime ago, so a minute of requests spans a minute and a lifetime of leases. Every
 * second that overlaps that span counts in full: the count errs towards refusing, never towards
 * admitting more than the limit in any 60 seconds.
 */
export function countedFrom(now: number, spec: LeaseSpec): number {
  return secondOf(now - MINUTE - spec.lifetimeMs);
}

/** The sum of the counts from `from` on (a gateway whose clock runs ahead wrote later seconds: they count too). */
export function countSince(counts: SecondCounts, from: number): number {
  let n = 0;
  for (const [s, c] of counts) if (s >= from) n += c;
  return n;
}

/** `counts` without the seconds before `from`, with `n` added at `second` (kept in order). */
function added(counts: SecondCounts, from: number, second: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  let placed = n === 0;
  for (const [s, c] of counts) {
    if (s < from) continue;
    if (!placed && s === second) {
      if (c + n > 0) out.push([s, c + n]);
      placed = true;
    } else {
      if (!placed && s > second) {
        if (n > 0) out.push([second, n]);
        placed = true;
      }
      out.push([s, c]);
    }
  }
  if (!placed && n > 0 && second >= from) out.push([second, n]);
  return out;
}

/** Slots held by gateways other than `gateway` that are not stale. */
export function slotsElsewhere(state: SharedKeyState, gateway: string, now: number, spec: LeaseSpec): number {
  let n = 0;
  for (const [id, held] of Object.entries(state.slots)) if (id !== gateway && now - held.at < spec.staleMs) n += held.n;
  return n;
}

/** Gateways that exchanged with the key within the stale time, counting `gateway` itself: at least 1. */
export function sharingGateways(state: SharedKeyState, gateway: string, now: number, spec: LeaseSpec): number {
  let n = 1;
  for (const [id, at] of Object.entries(state.gateways ?? {})) if (id !== gateway && now - at < spec.staleMs) n++;
  return n;
}

/** A lease's size for a key: a share of its limit, never more than is left. */
export function leaseSize(limit: number, room: number, spec: LeaseSpec): number {
  return Math.max(0, Math.min(Math.floor(room), Math.max(1, Math.min(spec.maxLease, Math.floor(limit * spec.share)))));
}

/**
 * A reserve's size for a key: a share of its limit among the gateways sharing it, never more than half of
 * what is left among them (so reserves fade as the key nears its limit, and the leases take what is left).
 */
export function reserveSize(limit: number, room: number, gateways: number, spec: LeaseSpec): number {
  const n = Math.max(1, gateways);
  return Math.max(0, Math.min(spec.maxReserve, Math.floor((limit * spec.reserveShare) / n), Math.floor(room / (2 * n))));
}

/**
 * Slots held beyond the ones a gateway needs, so its concurrency can rise without an exchange per request: a share of
 * the key's concurrency among the gateways sharing it, at most `maxSlotHeadroom`, never more than half of the slots
 * `left` (after what it needs) among them. Headroom fades as the key nears its concurrency, so it never refuses a
 * request that the key's limit would admit for longer than the holder's next exchange (a lease lifetime).
 */
export function slotHeadroom(maxConcurrent: number, left: number, gateways: number, spec: LeaseSpec): number {
  const n = Math.max(1, gateways);
  return Math.max(0, Math.min(spec.maxSlotHeadroom, Math.floor((maxConcurrent * spec.slotShare) / n), Math.floor(left / (2 * n))));
}

/**
 * The second a reserve granted in `second` is counted in: as many seconds later as it outlives a lease, so
 * that it counts for a minute and a lease lifetime after its last possible use, as a lease does.
 */
export function reserveSecond(second: number, spec: LeaseSpec): number {
  return second + Math.max(0, Math.ceil((spec.reserveLifetimeMs - spec.lifetimeMs) / SECOND));
}

/**
 * One gateway's exchange with a key's shared state: gives back unused requests, adds its tokens,
 * leases requests from what is left and holds the slots it can. Pure; the caller writes `state` back
 * with compare-and-set and repeats the exchange on a conflict.
 */
export function exchange(
  current: SharedKeyState | undefined,
  ask: LeaseExchange,
  limits: KeyLimits,
  now: number,
  spec: LeaseSpec,
): LeaseGrant {
  const s = current ?? EMPTY_STATE;
  const from = countedFrom(now, spec);
  const second = secondOf(now);
  let requests = added(s.requests, from, second, 0);
  // Admitted while cut off: counted now, so the others do not lease them again within the minute.
  for (const [sec, n] of ask.admittedAlone ?? []) if (n > 0 && sec >= from) requests = added(requests, from, sec, n);
  const giveBack = (back: { second: number; n: number } | undefined) => {
    if (!back || back.n <= 0 || back.second < from) return;
    // Never below zero: the second may hold leases of other gateways only.
    const held = requests.find(([sec]) => sec === back.second)?.[1] ?? 0;
    requests = added(requests, from, back.second, -Math.min(held, back.n));
  };
  let mine: [number, number][] | undefined;
  if (ask.held) {
    mine = [];
    for (const [sec, n] of ask.held) if (n > 0) mine = added(mine, from, sec, n);
    // What the gateway holds less what the entry has for it, per second.
    const diff = new Map<number, number>();
    for (const [sec, n] of mine) diff.set(sec, n);
    for (const [sec, n] of s.leased?.[ask.gateway] ?? []) diff.set(sec, (diff.get(sec) ?? 0) - n);
    for (const [sec, d] of diff) {
      if (d > 0 && sec >= from) requests = added(requests, from, sec, d);
      else if (d < 0) giveBack({ second: sec, n: -d });
    }
  } else giveBack(ask.returned);
  const tokens = added(s.tokens, from, second, Math.max(0, ask.tokens));
  let leased = 0;
  if (ask.want > 0) {
    const limit = limits.requestsPerMinute;
    const room = limit ? limit - countSince(requests, from) : ask.want;
    leased = limit ? Math.max(0, Math.min(Math.max(ask.want, leaseSize(limit, room, spec)), room)) : ask.want;
    requests = added(requests, from, second, leased);
    if (mine) mine = added(mine, from, second, leased);
  }
  let reserve = 0;
  const reservedIn = reserveSecond(second, spec);
  if (ask.reserve && mine && limits.requestsPerMinute) {
    const limit = limits.requestsPerMinute;
    reserve = reserveSize(limit, limit - countSince(requests, from), sharingGateways(s, ask.gateway, now, spec), spec);
    requests = added(requests, from, reservedIn, reserve);
    mine = added(mine, from, reservedIn, reserve);
  }
  const slots: Record<string, { n: number; at: number }> = {};
  for (const [id, held] of Object.entries(s.slots)) if (id !== ask.gateway && now - held.at < spec.staleMs && held.n > 0) slots[id] = held;
  const free = limits.maxConcurrent ? Math.max(0, limits.maxConcurrent - slotsElsewhere(s, ask.gateway, now, spec)) : ask.slots;
  const needed = Math.min(ask.slots, free);
  const headroom =
    ask.slotHeadroom && limits.maxConcurrent && needed === ask.slots
      ? slotHeadroom(limits.maxConcurrent, free - needed, sharingGateways(s, ask.gateway, now, spec), spec)
      : 0;
  const held = needed + headroom;
  if (held > 0) slots[ask.gateway] = { n: held, at: now };
  const gateways: Record<string, number> = {};
  for (const [id, at] of Object.entries(s.gateways ?? {})) if (id !== ask.gateway && now - at < spec.staleMs) gateways[id] = at;
  gateways[ask.gateway] = now;
  const recentFrom = secondOf(now - spec.recentMs);
  const kept = (kind: WindowKind) => {
    let counts = added(s.windows?.[kind] ?? [], recentFrom, second, 0);
    for (const [sec, n] of ask.windowTokens?.[kind] ?? []) if (n > 0) counts = added(counts, recentFrom, sec, n);
    return counts;
  };
  const windows = { chat: kept('chat'), batch: kept('batch') };
  const leasedBy: Record<string, SecondCounts> = {};
  for (const [id, counts] of Object.entries(s.leased ?? {})) {
    const kept = id === ask.gateway ? [] : added(counts, from, second, 0);
    if (kept.length > 0) leasedBy[id] = kept;
  }
  if (mine && mine.length > 0) leasedBy[ask.gateway] = mine;
  return {
    state: { requests, tokens, slots, gateways, windows, leased: leasedBy },
    requests: leased,
    second,
    slots: held,
    reserve,
    reserveSecond: reservedIn,
  };
}

/** Window tokens of `kind` every gateway finished from `since` (epoch ms, a whole second) on, as the state has them. */
export function windowTokensSince(state: SharedKeyState, kind: WindowKind, since: number): number {
  return countSince(state.windows?.[kind] ?? [], secondOf(since));
}

/** Milliseconds until the last second counted now no longer counts. */
function resetMs(counts: SecondCounts, now: number, spec: LeaseSpec): number {
  const from = countedFrom(now, spec);
  const last = counts.filter(([s]) => s >= from).pop();
  return last ? Math.max(0, (last[0] + 1) * SECOND + MINUTE + spec.lifetimeMs - now) : 0;
}

/** Where the key stands against its per-minute limits by the shared state, plus what this gateway holds unused. */
export function sharedStanding(
  state: SharedKeyState,
  limits: KeyLimits,
  unusedLease: number,
  pendingTokens: number,
  now: number,
  spec: LeaseSpec = LEASE_SPEC,
): { requests?: LimitState; tokens?: LimitState } {
  const from = countedFrom(now, spec);
  const out: { requests?: LimitState; tokens?: LimitState } = {};
  if (limits.requestsPerMinute) {
    const used = countSince(state.requests, from) - unusedLease;
    out.requests = {
      limit: limits.requestsPerMinute,
      remaining: Math.max(0, Math.floor(limits.requestsPerMinute - used)),
      resetMs: resetMs(state.requests, now, spec),
    };
  }
  if (limits.tokensPerMinute) {
    const used = countSince(state.tokens, from) + pendingTokens;
    out.tokens = {
      limit: limits.tokensPerMinute,
      remaining: Math.max(0, Math.floor(limits.tokensPerMinute - used)),
      resetMs: resetMs(state.tokens, now, spec),
    };
  }
  return out;
}

/** Seconds until the count falls to `target` or below (the oldest seconds leave first). */
function secondsUntil(counts: SecondCounts, target: number, extra: number, now: number, spec: LeaseSpec): number {
  const from = countedFrom(now, spec);
  let used = countSince(counts, from) + extra;
  for (const [s, c] of counts) {
    if (s < from) continue;
    if (used <= target) break;
    used -= c;
    // Second `s` stops counting once `countedFrom` passes it.
    if (used <= target) return Math.max(1, Math.ceil(((s + 1) * SECOND + MINUTE + spec.lifetimeMs - now) / SECOND));
  }
  return used <= target ? 1 : Math.ceil((MINUTE + spec.lifetimeMs) / SECOND) + 1;
}

/** The refusal when the shared requests-per-minute budget has nothing left to lease. */
export function requestsExceeded(state: SharedKeyState, ceiling: number, now: number, spec: LeaseSpec = LEASE_SPEC): LimitExceeded {
  return {
    limit: 'requests_per_minute',
    used: countSince(state.requests, countedFrom(now, spec)),
    ceiling,
    retryAfterSeconds: secondsUntil(state.requests, ceiling - 1, 0, now, spec),
  };
}

/** The refusal when the key's tokens per minute, across gateways, are used up; undefined while within. */
export function tokensExceeded(
  state: SharedKeyState,
  ceiling: number,
  pendingTokens: number,
  now: number,
  spec: LeaseSpec = LEASE_SPEC,
): LimitExceeded | undefined {
  const used = countSince(state.tokens, countedFrom(now, spec)) + pendingTokens;
  if (used < ceiling) return undefined;
  return {
    limit: 'tokens_per_minute',
    used: Math.ceil(used),
    ceiling,
    retryAfterSeconds: secondsUntil(state.tokens, ceiling - 1, pendingTokens, now, spec),
  };
}

/**
 * The limits for this gateway's own counts while the shared state cannot be reached, or while the outcome
 * of its last write there is unknown (a timeout: the write may have been applied, so what it asked for
 * counts as taken and what it gave back as not given back). `requestsPerMinute` is the most this
 * gateway's own count of the last minute may reach: what it has counted (`ownRequests`) plus the unused
 * part of each lease slot within its own lifetime and of its reserve within the reserve's, all of which the
 * shared state already counts. Nothing more: the other gateways may still reach the state and lease
 * whatever it shows as left, and requests admitted on a share of the limit on top of that are what made two
 * gateways admit up to 74 of a 60 rpm key when the shared state answered slowly. So the gateways' fallback
 * allowances always sum to no more than the limit; 0 means refuse every request (not "no limit"). Tokens
 * per minute and concurrency keep a share among the gateways last seen (`localShare`).
 */
export function fallbackLimits(
  limits: KeyLimits,
  gateways: number,
  slotsHeld: number,
  last: { ownRequests: number; leases: readonly LeaseSlot[]; unusedReserve?: number; reservedAt?: number },
  now: number,
  spec: LeaseSpec = LEASE_SPEC,
): KeyLimits {
  const share = localShare(limits, gateways, slotsHeld);
  if (!limits.requestsPerMinute) return share;
  const within = (at: number | undefined, lifetime: number) => at !== undefined && now - at < lifetime;
  const lease = Math.floor(freshLeased(last.leases, now, spec));
  const reserve = within(last.reservedAt, spec.reserveLifetimeMs) ? Math.max(0, Math.floor(last.unusedReserve ?? 0)) : 0;
  return { ...share, requestsPerMinute: Math.max(0, last.ownRequests) + lease + reserve };
}

/**
 * The limits a gateway applies alone while the shared state cannot be reached: its share of the
 * per-minute limits among the gateways last seen sharing the key (rounded down, so the shares sum to no
 * more than the limit; at least 1, as 0 would read as none), and the slots it held.
 */
export function localShare(limits: KeyLimits, gateways: number, slotsHeld: number): KeyLimits {
  const share = (v: number | null | undefined) => (v ? Math.max(1, Math.floor(v / Math.max(1, gateways))) : v);
  return {
    ...limits,
    requestsPerMinute: share(limits.requestsPerMinute),
    tokensPerMinute: share(limits.tokensPerMinute),
    ...(limits.maxConcurrent && gateways > 1 ? { maxConcurrent: Math.max(1, slotsHeld) } : {}),
  } as KeyLimits;
}
