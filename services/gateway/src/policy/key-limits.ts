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

/** A sliding one-minute count from two fixed windows, the previous one weighted by its remaining overlap. */
class MinuteWindow {
  private start = 0;
  private current = 0;
  private previous = 0;

  private roll(now: number): number {
    const start = now - (now % MINUTE);
    if (start !== this.start) {
      this.previous = start - this.start === MINUTE ? this.current : 0;
      this.current = 0;
      this.start = start;
    }
    return (now - start) / MINUTE;
  }

  used(now: number): number {
    const elapsed = this.roll(now);
    return this.previous * (1 - elapsed) + this.current;
  }

  add(n: number, now: number): void {
    this.roll(now);
    this.current += n;
  }

  /** Seconds until `used` falls to `target` or below. */
  secondsUntil(target: number, now: number): number {
    this.roll(now);
    if (this.current > target) return Math.ceil((this.start + MINUTE - now) / 1000) + 1;
    if (this.previous <= 0) return 1;
    // previous * (1 - (t - start) / MINUTE) + current = target
    const t = this.start + MINUTE * (1 - (target - this.current) / this.previous);
    return Math.max(1, Math.ceil((t - now) / 1000));
  }

  /** Milliseconds until `used` is back to zero: the current minute weighs fully until it ends, then fades over the next. */
  msUntilEmpty(now: number): number {
    this.roll(now);
    if (this.current > 0) return this.start + 2 * MINUTE - now;
    if (this.previous > 0) return this.start + MINUTE - now;
    return 0;
  }

  idleSince(now: number): boolean {
    return now - this.start >= 2 * MINUTE;
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
