import type { KeyLimits } from '@maas/contracts';
import type { LimitExceeded, LimitState } from './key-limits';

const MINUTE = 60_000;

/**
 * One key's per-minute counts and concurrency as every gateway sees them (one KV entry). Counts are
 * two fixed minutes, the previous one weighted by its remaining overlap, as the local limiter counts.
 */
export interface SharedKeyState {
  /** Start (epoch ms) of the current fixed minute. */
  readonly minute: number;
  /** Requests leased in the previous and the current minute. */
  readonly requests: readonly [number, number];
  /** Tokens used in the previous and the current minute. */
  readonly tokens: readonly [number, number];
  /** Concurrency slots each gateway holds, with when it last said so. */
  readonly slots: Readonly<Record<string, { readonly n: number; readonly at: number }>>;
}

/** How much of the shared budget a gateway takes at a time, and for how long. */
export interface LeaseSpec {
  /** A lease is this share of the key's requests per minute (at least 1, at most `maxLease`). */
  readonly share: number;
  readonly maxLease: number;
  /** Unused requests and idle slots go back to the shared budget after this long. */
  readonly lifetimeMs: number;
  /** Slots of a gateway that has not refreshed them for this long are free again (a gateway that died). */
  readonly staleMs: number;
}

export const LEASE_SPEC: LeaseSpec = { share: 1 / 20, maxLease: 50, lifetimeMs: 1000, staleMs: 10_000 };

/** What one gateway brings to an exchange with the shared state of a key. */
export interface LeaseExchange {
  readonly gateway: string;
  /** Requests wanted on top of what the gateway still holds. */
  readonly want: number;
  /** Leased requests given back unused, with the minute they were leased in. */
  readonly returned?: { readonly minute: number; readonly n: number };
  /** Tokens the gateway's finished requests used since its last exchange. */
  readonly tokens: number;
  /** Slots the gateway means to hold from now on (its requests in flight, plus one when it needs another). */
  readonly slots: number;
}

export interface LeaseGrant {
  readonly state: SharedKeyState;
  /** Requests leased, counted in `state.minute`. */
  readonly requests: number;
  /** Slots the gateway now holds (less than asked when the key's concurrency is used elsewhere). */
  readonly slots: number;
}

export const EMPTY_STATE: SharedKeyState = { minute: 0, requests: [0, 0], tokens: [0, 0], slots: {} };

/** The state with its windows moved to the minute of `now` (nothing else changed). */
export function rolled(state: SharedKeyState, now: number): SharedKeyState {
  const minute = now - (now % MINUTE);
  if (minute === state.minute) return state;
  const shift = (pair: readonly [number, number]): [number, number] => [minute - state.minute === MINUTE ? pair[1] : 0, 0];
  return { ...state, minute, requests: shift(state.requests), tokens: shift(state.tokens) };
}

/** The sliding one-minute count of a rolled pair. */
export function slidingUsed(pair: readonly [number, number], minute: number, now: number): number {
  return pair[0] * (1 - (now - minute) / MINUTE) + pair[1];
}

/** Slots held by gateways other than `gateway` that are not stale. */
export function slotsElsewhere(state: SharedKeyState, gateway: string, now: number, spec: LeaseSpec): number {
  let n = 0;
  for (const [id, held] of Object.entries(state.slots)) if (id !== gateway && now - held.at < spec.staleMs) n += held.n;
  return n;
}

/** A lease's size for a key: a share of its limit, never more than is left. */
export function leaseSize(limit: number, room: number, spec: LeaseSpec): number {
  return Math.max(0, Math.min(Math.floor(room), Math.max(1, Math.min(spec.maxLease, Math.floor(limit * spec.share)))));
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
  const s = rolled(current ?? EMPTY_STATE, now);
  const requests: [number, number] = [s.requests[0], s.requests[1]];
  const tokens: [number, number] = [s.tokens[0], s.tokens[1]];
  if (ask.returned && ask.returned.n > 0) {
    // A lease from before the previous minute no longer counts anywhere.
    const at = ask.returned.minute === s.minute ? 1 : ask.returned.minute === s.minute - MINUTE ? 0 : undefined;
    if (at !== undefined) requests[at] = Math.max(0, requests[at] - ask.returned.n);
  }
  tokens[1] += Math.max(0, ask.tokens);
  let leased = 0;
  if (ask.want > 0) {
    const limit = limits.requestsPerMinute;
    const room = limit ? Math.floor(limit - slidingUsed(requests, s.minute, now)) : ask.want;
    leased = limit ? Math.max(0, Math.min(Math.max(ask.want, leaseSize(limit, room, spec)), room)) : ask.want;
    requests[1] += leased;
  }
  const slots: Record<string, { n: number; at: number }> = {};
  for (const [id, held] of Object.entries(s.slots)) if (id !== ask.gateway && now - held.at < spec.staleMs && held.n > 0) slots[id] = held;
  const free = limits.maxConcurrent ? Math.max(0, limits.maxConcurrent - slotsElsewhere(s, ask.gateway, now, spec)) : ask.slots;
  const held = Math.min(ask.slots, free);
  if (held > 0) slots[ask.gateway] = { n: held, at: now };
  return { state: { minute: s.minute, requests, tokens, slots }, requests: leased, slots: held };
}

/** Where the key stands against its per-minute limits by the shared state, plus what this gateway holds unused. */
export function sharedStanding(
  state: SharedKeyState,
  limits: KeyLimits,
  unusedLease: number,
  pendingTokens: number,
  now: number,
): { requests?: LimitState; tokens?: LimitState } {
  const s = rolled(state, now);
  const out: { requests?: LimitState; tokens?: LimitState } = {};
  const reset = (pair: readonly [number, number]) =>
    pair[1] > 0 ? s.minute + 2 * MINUTE - now : pair[0] > 0 ? s.minute + MINUTE - now : 0;
  if (limits.requestsPerMinute) {
    const used = slidingUsed(s.requests, s.minute, now) - unusedLease;
    out.requests = {
      limit: limits.requestsPerMinute,
      remaining: Math.max(0, Math.floor(limits.requestsPerMinute - used)),
      resetMs: reset(s.requests),
    };
  }
  if (limits.tokensPerMinute) {
    const used = slidingUsed(s.tokens, s.minute, now) + pendingTokens;
    out.tokens = {
      limit: limits.tokensPerMinute,
      remaining: Math.max(0, Math.floor(limits.tokensPerMinute - used)),
      resetMs: reset(s.tokens),
    };
  }
  return out;
}

/** Seconds until a pair's sliding count falls to `target` or below. */
function secondsUntil(pair: readonly [number, number], minute: number, target: number, now: number): number {
  if (pair[1] > target) return Math.ceil((minute + MINUTE - now) / 1000) + 1;
  if (pair[0] <= 0) return 1;
  const t = minute + MINUTE * (1 - (target - pair[1]) / pair[0]);
  return Math.max(1, Math.ceil((t - now) / 1000));
}

/** The refusal when the shared requests-per-minute budget has nothing left to lease. */
export function requestsExceeded(state: SharedKeyState, ceiling: number, now: number): LimitExceeded {
  const s = rolled(state, now);
  const used = slidingUsed(s.requests, s.minute, now);
  return {
    limit: 'requests_per_minute',
    used: Math.ceil(used),
    ceiling,
    retryAfterSeconds: secondsUntil(s.requests, s.minute, ceiling - 1, now),
  };
}

/** The refusal when the key's tokens per minute, across gateways, are used up; undefined while within. */
export function tokensExceeded(state: SharedKeyState, ceiling: number, pendingTokens: number, now: number): LimitExceeded | undefined {
  const s = rolled(state, now);
  const used = slidingUsed(s.tokens, s.minute, now) + pendingTokens;
  if (used < ceiling) return undefined;
  return {
    limit: 'tokens_per_minute',
    used: Math.ceil(used),
    ceiling,
    retryAfterSeconds: secondsUntil([s.tokens[0], s.tokens[1] + pendingTokens], s.minute, ceiling - 1, now),
  };
}
