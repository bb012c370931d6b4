import type { KeyLimits } from '@maas/contracts';

export type LimitName =
  | 'requests_per_minute'
  | 'tokens_per_minute'
  | 'concurrent_requests'
  | 'chat_short_window_tokens'
  | 'chat_long_window_tokens'
  | 'batch_short_window_tokens'
  | 'batch_long_window_tokens';

/** Why a request was refused: which limit, how much is used, the ceiling, and when to come back. */
export interface LimitExceeded {
  readonly limit: LimitName;
  readonly used: number;
  readonly ceiling: number;
  readonly retryAfterSeconds: number;
  /** Set when the default wording does not fit (the token windows name their length). */
  readonly message?: string;
}

/** How much of one limit is left and when it is whole again, as OpenAI's `x-ratelimit-*` headers say it. */
export interface LimitState {
  readonly limit: number;
  readonly remaining: number;
  /** Milliseconds until nothing counts against the limit any more. */
  readonly resetMs: number;
}

const MINUTE = 60_000;

/**
 * A sliding one-minute count kept per whole second: every second that overlaps the last 60 s counts in
 * full, so no 60 s ever hold more than the limit (a count from two fixed minutes, the previous one
 * weighted, lets a burst at the end of one minute be followed by most of another at once).
 */
class MinuteWindow {
  /** `[epoch second, n]`, oldest first, none older than the minute counted at the last look. */
  private readonly seconds: [number, number][] = [];
  private newest = 0;

  private prune(now: number): number {
    const from = Math.floor((now - MINUTE) / 1000);
    let drop = 0;
    while (drop < this.seconds.length && this.seconds[drop][0] < from) drop++;
    if (drop > 0) this.seconds.splice(0, drop);
    return from;
  }

  used(now: number): number {
    this.prune(now);
    let n = 0;
    for (const [, c] of this.seconds) n += c;
    return n;
  }

  add(n: number, now: number): void {
    this.prune(now);
    const second = Math.floor(now / 1000);
    this.newest = Math.max(this.newest, now);
    const last = this.seconds[this.seconds.length - 1];
    if (last && last[0] === second) last[1] += n;
    else if (!last || last[0] < second) this.seconds.push([second, n]);
    else {
      // Time passed in went back (another caller's earlier reading): keep the seconds in order.
      const at = this.seconds.findIndex(([s]) => s >= second);
      if (this.seconds[at][0] === second) this.seconds[at][1] += n;
      else this.seconds.splice(at, 0, [second, n]);
    }
  }

  /** Seconds until `used` falls to `target` or below: the oldest seconds leave first, each 60 s after it ends. */
  secondsUntil(target: number, now: number): number {
    let used = this.used(now);
    for (const [s, c] of this.seconds) {
      if (used <= target) break;
      used -= c;
      if (used <= target) return Math.max(1, Math.ceil(((s + 1) * 1000 + MINUTE - now) / 1000));
    }
    return 1;
  }

  /** Milliseconds until `used` is back to zero. */
  msUntilEmpty(now: number): number {
    this.prune(now);
    const last = this.seconds[this.seconds.length - 1];
    return last ? Math.max(0, (last[0] + 1) * 1000 + MINUTE - now) : 0;
  }

  idleSince(now: number): boolean {
    return now - this.newest >= 2 * MINUTE;
  }
}

function minuteState(limit: number, window: MinuteWindow | undefined, now: number): LimitState {
  if (!window) return { limit, remaining: limit, resetMs: 0 };
  return { limit, remaining: Math.max(0, Math.floor(limit - window.used(now))), resetMs: window.msUntilEmpty(now) };
}

interface KeyState {
  requests: MinuteWindow;
  tokens: MinuteWindow;
  concurrent: number;
}

/**
 * Per-key requests per minute, tokens per minute and concurrent requests, counted by this gateway
 * instance. Time is passed in; the caller releases what it admitted.
 */
export class KeyLimiter {
  private readonly keys = new Map<string, KeyState>();
  private admissions = 0;

  private state(keyId: string): KeyState {
    let s = this.keys.get(keyId);
    if (!s) {
      s = { requests: new MinuteWindow(), tokens: new MinuteWindow(), concurrent: 0 };
      this.keys.set(keyId, s);
    }
    return s;
  }

  /** Counts the request in, or says which limit it would break (and counts nothing). */
  admit(keyId: string, limits: KeyLimits, now: number): LimitExceeded | undefined {
    if (++this.admissions % 10_000 === 0) this.prune(now);
    const s = this.state(keyId);
    const { maxConcurrent, requestsPerMinute, tokensPerMinute } = limits;
    if (maxConcurrent && s.concurrent >= maxConcurrent) {
      return { limit: 'concurrent_requests', used: s.concurrent, ceiling: maxConcurrent, retryAfterSeconds: 1 };
    }
    if (requestsPerMinute) {
      const used = s.requests.used(now);
      if (used + 1 > requestsPerMinute) {
        return {
          limit: 'requests_per_minute',
          used: Math.ceil(used),
          ceiling: requestsPerMinute,
          retryAfterSeconds: s.requests.secondsUntil(requestsPerMinute - 1, now),
        };
      }
    }
    if (tokensPerMinute) {
      const used = s.tokens.used(now);
      if (used >= tokensPerMinute) {
        return {
          limit: 'tokens_per_minute',
          used: Math.ceil(used),
          ceiling: tokensPerMinute,
          retryAfterSeconds: s.tokens.secondsUntil(tokensPerMinute - 1, now),
        };
      }
    }
    s.requests.add(1, now);
    s.concurrent += 1;
    return undefined;
  }

  /** The request finished: frees its concurrency slot and counts its tokens. */
  release(keyId: string, tokens: number, now: number): void {
    const s = this.keys.get(keyId);
    if (!s) return;
    s.concurrent = Math.max(0, s.concurrent - 1);
    if (tokens > 0) s.tokens.add(tokens, now);
  }

  /** Where the key stands against its per-minute limits (a limit the key does not have is absent). */
  standing(keyId: string, limits: KeyLimits, now: number): { requests?: LimitState; tokens?: LimitState } {
    const s = this.keys.get(keyId);
    const out: { requests?: LimitState; tokens?: LimitState } = {};
    if (limits.requestsPerMinute) out.requests = minuteState(limits.requestsPerMinute, s?.requests, now);
    if (limits.tokensPerMinute) out.tokens = minuteState(limits.tokensPerMinute, s?.tokens, now);
    return out;
  }

  /** Requests this gateway admitted for the key in the last minute. */
  requestsUsed(keyId: string, now: number): number {
    return this.keys.get(keyId)?.requests.used(now) ?? 0;
  }

  concurrent(keyId: string): number {
    return this.keys.get(keyId)?.concurrent ?? 0;
  }

  private prune(now: number): void {
    for (const [id, s] of this.keys) {
      if (s.concurrent === 0 && s.requests.idleSince(now) && s.tokens.idleSince(now)) this.keys.delete(id);
    }
  }
}

const LABEL: Record<LimitName, string> = {
  requests_per_minute: 'requests per minute',
  tokens_per_minute: 'tokens per minute',
  concurrent_requests: 'concurrent requests',
  chat_short_window_tokens: 'chat tokens in the short window',
  chat_long_window_tokens: 'chat tokens in the long window',
  batch_short_window_tokens: 'batch tokens in the short window',
  batch_long_window_tokens: 'batch tokens in the long window',
};

export function describeLimit(e: LimitExceeded): string {
  if (e.message) return e.message;
  return `rate limit reached for ${LABEL[e.limit]}: used ${e.used}, limit ${e.ceiling}; retry after ${e.retryAfterSeconds} s`;
}

/** The tighter of two states of one resource: the one with less left (then the later reset). */
export function tighter(a: LimitState | undefined, b: LimitState | undefined): LimitState | undefined {
  if (!a || !b) return a ?? b;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return a.resetMs >= b.resetMs ? a : b;
}

/** A duration as OpenAI writes its resets (Go's notation): `20ms`, `1s`, `1.5s`, `6m0s`, `2h0m30s`. */
export function formatReset(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = `${(total % 60_000) / 1000}s`;
  return h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
}

/** OpenAI's rate-limit headers for the limits a key has; none for a key without request or token limits. */
export function rateLimitHeaders(requests: LimitState | undefined, tokens: LimitState | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (requests) {
    headers['x-ratelimit-limit-requests'] = String(requests.limit);
    headers['x-ratelimit-remaining-requests'] = String(requests.remaining);
    headers['x-ratelimit-reset-requests'] = formatReset(requests.resetMs);
  }
  if (tokens) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.limit);
    headers['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
    headers['x-ratelimit-reset-tokens'] = formatReset(tokens.resetMs);
  }
  return headers;
}
