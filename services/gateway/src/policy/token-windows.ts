import type { KeyLimits } from '@maas/contracts';
import { LimitState, tighter } from './key-limits';

/** Interactive (`chat`) and `batch` use are counted and limited separately. */
export type UsageKind = 'chat' | 'batch';
export type WindowName = 'short' | 'long';

export interface WindowSpec {
  readonly shortMs: number;
  readonly longMs: number;
}

/** Points of the ledger asked per window: usage is known per quarter, so its expiry too. */
export const LEDGER_SLICES = 4;

/** Tokens used at (or, for ledger slices, at the latest by) `at`; they leave a window of length W at `at + W`. */
interface Entry {
  at: number;
  tokens: number;
  /** Counted by this gateway (replaced by the ledger's totals once the ledger has them), or from the ledger. */
  local: boolean;
}

/** Beyond this many entries the oldest are merged (only when the ledger stays away for long). */
const MAX_ENTRIES = 10_000;

/** One window's entries of one kind, oldest first. */
class WindowTally {
  readonly entries: Entry[] = [];

  constructor(private readonly lengthMs: number) {}

  add(tokens: number, at: number, local = true): void {
    const last = this.entries[this.entries.length - 1];
    // Local counts merge per whole second, so a seeding boundary (whole seconds) never splits an entry.
    if (last && local && last.local && Math.floor(last.at / 1000) === Math.floor(at / 1000)) {
      last.tokens += tokens;
      last.at = Math.max(last.at, at);
      return;
    }
    this.entries.push({ at, tokens, local });
    if (last && at < last.at) this.entries.sort((a, b) => a.at - b.at);
    if (this.entries.length > MAX_ENTRIES) {
      const [a, b] = this.entries.splice(0, 2);
      this.entries.unshift({ at: b.at, tokens: a.tokens + b.tokens, local: a.local && b.local });
    }
  }

  /**
   * The tokens in the window; with `shared`, every gateway's tokens since `shared.since` replace this gateway's own
   * — only while the window covers all of them (a window shorter than the time since the ledger's answer counts its own).
   */
  used(now: number, sharedRecent?: SharedRecent): number {
    this.expire(now);
    const shared = sharedRecent && sharedRecent.since > now - this.lengthMs ? sharedRecent : undefined;
    let sum = 0;
    let ownSince = 0;
    for (const e of this.entries) {
      if (shared && e.local && e.at >= shared.since) ownSince += e.tokens;
      else sum += e.tokens;
    }
    return sum + (shared ? Math.max(ownSince, shared.tokens) : ownSince);
  }

  /** Seconds until the used total falls below `ceiling` (tokens of other gateways, being recent, leave last). */
  secondsUntilBelow(ceiling: number, now: number, shared?: SharedRecent): number {
    let used = this.used(now, shared);
    for (const e of this.entries) {
      used -= e.tokens;
      if (used < ceiling) return Math.max(1, Math.ceil((e.at + this.lengthMs - now) / 1000));
    }
    return 1;
  }

  /** Milliseconds until every entry has left the window. */
  msUntilEmpty(now: number): number {
    this.expire(now);
    const last = this.entries[this.entries.length - 1];
    return last ? Math.max(0, last.at + this.lengthMs - now) : 0;
  }

  private expire(now: number): void {
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop].at <= now - this.lengthMs) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }
}

/**
 * What every gateway's requests of a kind finished since `since` (a whole second, the ledger answer's
 * end) used, from the gateways' shared state: it stands in for this gateway's own count since then.
 */
export interface SharedRecent {
  readonly since: number;
  readonly tokens: number;
}

/** Ledger totals since each instant asked for, as the key-usage command answers them. */
export interface LedgerTotals {
  readonly since: number;
  readonly chat: number;
  readonly batch: number;
}

/** The instants to ask the ledger about: every quarter of the short window, then of the long one. */
export function ledgerInstants(spec: WindowSpec, now: number): number[] {
  const out: number[] = [];
  for (const length of [spec.shortMs, spec.longMs]) {
    for (let k = 0; k < LEDGER_SLICES; k++) out.push(now - length + (k * length) / LEDGER_SLICES);
  }
  return out;
}

export interface WindowUsage {
  readonly used: number;
  readonly limit: number | null;
}

export interface WindowExceeded {
  readonly kind: UsageKind;
  readonly window: WindowName;
  readonly windowMs: number;
  readonly used: number;
  readonly ceiling: number;
  readonly retryAfterSeconds: number;
}

/**
 * A key's token use over the short and long sliding windows, per kind: the ledger's totals at the
 * last seeding (placed at the end of the quarter they fell in) plus what this gateway counted since.
 * Time is passed in; nothing here does I/O.
 */
export class KeyTokenWindows {
  private readonly tallies = new Map<string, WindowTally>();
  /** Epoch ms of the ledger answer the tallies start from; undefined until seeded. */
  seededAt?: number;
  /** The end (epoch ms, a whole second) of the ledger's answer: later use is counted here, or shared. */
  seededUntil?: number;

  constructor(private readonly spec: WindowSpec) {}

  private tally(kind: UsageKind, window: WindowName): WindowTally {
    const id = `${kind}:${window}`;
    let t = this.tallies.get(id);
    if (!t) this.tallies.set(id, (t = new WindowTally(window === 'short' ? this.spec.shortMs : this.spec.longMs)));
    return t;
  }

  /**
   * Replaces what was counted before `until` (a whole second) with the ledger's totals (given in
   * `ledgerInstants` order, counting requests finished before `until`); local counts from `until` on are kept.
   */
  seed(totals: readonly LedgerTotals[], askedAt: number, until = askedAt): void {
    for (const kind of ['chat', 'batch'] as const) {
      (['short', 'long'] as const).forEach((window, w) => {
        const length = window === 'short' ? this.spec.shortMs : this.spec.longMs;
        const fresh = new WindowTally(length);
        const slice = totals.slice(w * LEDGER_SLICES, (w + 1) * LEDGER_SLICES);
        slice.forEach((t, k) => {
          const tokens = t[kind] - (slice[k + 1]?.[kind] ?? 0);
          if (tokens > 0) fresh.add(tokens, Math.min(until, askedAt - length + ((k + 1) * length) / LEDGER_SLICES), false);
        });
        // Finished from `until` on: not in the ledger's answer, counted here.
        for (const e of this.tally(kind, window).entries) if (e.local && e.at >= until) fresh.add(e.tokens, e.at);
        this.tallies.set(`${kind}:${window}`, fresh);
      });
    }
    this.seededAt = askedAt;
    this.seededUntil = until;
  }

  add(kind: UsageKind, tokens: number, at: number): void {
    if (tokens <= 0) return;
    this.tally(kind, 'short').add(tokens, at);
    this.tally(kind, 'long').add(tokens, at);
  }

  used(kind: UsageKind, window: WindowName, now: number): number {
    return this.tally(kind, window).used(now);
  }

  /** The first window of `kind` whose ceiling is reached, short before long; undefined when within all. */
  exceeded(kind: UsageKind, limits: KeyLimits, now: number, shared?: SharedRecent): WindowExceeded | undefined {
    for (const window of ['short', 'long'] as const) {
      const ceiling = windowLimit(limits, kind, window);
      if (ceiling === null) continue;
      const t = this.tally(kind, window);
      const used = t.used(now, shared);
      if (used >= ceiling) {
        const windowMs = window === 'short' ? this.spec.shortMs : this.spec.longMs;
        return { kind, window, windowMs, used, ceiling, retryAfterSeconds: t.secondsUntilBelow(ceiling, now, shared) };
      }
    }
    return undefined;
  }

  /** The window of `kind` with the fewest tokens left, as a rate-limit state; undefined without window limits. */
  standing(kind: UsageKind, limits: KeyLimits, now: number): LimitState | undefined {
    let out: LimitState | undefined;
    for (const window of ['short', 'long'] as const) {
      const limit = windowLimit(limits, kind, window);
      if (limit === null) continue;
      const t = this.tally(kind, window);
      out = tighter(out, { limit, remaining: Math.max(0, Math.floor(limit - t.used(now))), resetMs: t.msUntilEmpty(now) });
    }
    return out;
  }

  /**
   * Like `exceeded`, but also when `extra` more tokens would take a window past its ceiling (a
   * batch's input, checked at creation). `retryAfterSeconds` is null when `extra` alone exceeds the ceiling.
   */
  exceededWith(kind: UsageKind, limits: KeyLimits, extra: number, now: number): WindowWouldExceed | undefined {
    for (const window of ['short', 'long'] as const) {
      const ceiling = windowLimit(limits, kind, window);
      if (ceiling === null) continue;
      const t = this.tally(kind, window);
      const used = t.used(now);
      if (used >= ceiling || used + extra > ceiling) {
        const windowMs = window === 'short' ? this.spec.shortMs : this.spec.longMs;
        // Room once used falls below the ceiling and to at most ceiling - extra.
        const retryAfterSeconds = extra > ceiling ? null : t.secondsUntilBelow(Math.min(ceiling, ceiling - extra + 1), now);
        return { kind, window, windowMs, used, ceiling, extra, retryAfterSeconds };
      }
    }
    return undefined;
  }
}

export interface WindowWouldExceed extends Omit<WindowExceeded, 'retryAfterSeconds'> {
  /** The tokens asked for on top of `used`. */
  readonly extra: number;
  /** Null when the window can never hold `extra` (it is larger than the ceiling). */
  readonly retryAfterSeconds: number | null;
}

export function windowLimit(limits: KeyLimits, kind: UsageKind, window: WindowName): number | null {
  const v =
    kind === 'chat'
      ? window === 'short'
        ? limits.chatShortWindowTokens
        : limits.chatLongWindowTokens
      : window === 'short'
        ? limits.batchShortWindowTokens
        : limits.batchLongWindowTokens;
  return v ?? null;
}

/** `3-hour`, `7-day`, `90-second`: how the windows are named in messages. */
export function windowLabel(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) if (ms >= size && ms % size === 0) return `${ms / size}-${name}`;
  return `${ms}-millisecond`;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** `chat token limit for the 3-hour window reached: 120,345 of 120,000 tokens used; retry after 1,520 s` */
export function describeWindowExceeded(e: WindowExceeded): string {
  return `${e.kind} token limit for the ${windowLabel(e.windowMs)} window reached: ${n(e.used)} of ${n(e.ceiling)} tokens used; retry after ${n(e.retryAfterSeconds)} s`;
}

/** `batch token limit for the 3-hour window: this batch has ~5,000 input tokens and 9,000 of 12,000 tokens are used; retry after 60 s` */
export function describeWindowWouldExceed(e: WindowWouldExceed): string {
  const retry = e.retryAfterSeconds === null ? 'the batch is larger than the limit; split it' : `retry after ${n(e.retryAfterSeconds)} s`;
  return `${e.kind} token limit for the ${windowLabel(e.windowMs)} window (${e.kind}_${e.window}_window_tokens): this batch has ~${n(e.extra)} input tokens and ${n(e.used)} of ${n(e.ceiling)} tokens are used; ${retry}`;
}

export interface WindowReport {
  readonly used_tokens: number;
  readonly limit_tokens: number | null;
  readonly remaining_tokens: number | null;
}

/** One kind's part of `GET /v1/usage`, in the production service's shape. */
export function usageReport(windows: KeyTokenWindows, limits: KeyLimits, kind: UsageKind, spec: WindowSpec, now: number) {
  const report = (window: WindowName): WindowReport => {
    const used = Math.round(windows.used(kind, window, now));
    const limit = windowLimit(limits, kind, window);
    return { used_tokens: used, limit_tokens: limit, remaining_tokens: limit === null ? null : Math.max(0, limit - used) };
  };
  return {
    short_window: { window_hours: round(spec.shortMs / 3_600_000), ...report('short') },
    long_window: { window_days: round(spec.longMs / 86_400_000), ...report('long') },
  };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
