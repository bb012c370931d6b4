import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import type { KeyLimits } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { KeyLimiter, LimitExceeded, LimitState } from '../policy/key-limits';
import {
  countedFrom,
  exchange,
  LEASE_SPEC,
  LeaseGrant,
  LeaseSpec,
  fallbackLimits,
  freshLeased,
  isFresh,
  LeaseSlot,
  nextLeased,
  prefetchAt,
  leaseWanted,
  slotHeadroom,
  requestsExceeded,
  SharedKeyState,
  sharedStanding,
  sharingGateways,
  tokensExceeded,
  WindowKind,
  windowTokensSince,
} from '../policy/limit-lease';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { SharedLimitsRepository } from '../repositories/shared-limits.repository';

/** An exchange with the shared state waits at most this long on the request path. */
const EXCHANGE_TIMEOUT_MS = 1000;
/**
 * After the shared state could not be reached, the request path does not ask it for this long (requests are
 * admitted only from the lease in hand); an exchange in the background tries every lease lifetime and ends it.
 */
const LOCAL_ONLY_MS = 5000;

/** What this gateway holds of one key's shared budget. */
interface Holding {
  /** The shared state as last read or written by this gateway. */
  state?: SharedKeyState;
  syncedAt: number;
  /**
   * Requests leased and not used yet, one slot per grant, oldest first: each used only within a lifetime of its own
   * grant, so a lease fetched ahead of need never stretches an older one's. Slots past it go back at the next exchange.
   */
  leases: LeaseSlot[];
  /** Requests reserved for when the state cannot be reached and not used yet, the second they are counted in and when they were granted. */
  reserve: number;
  reserveSecond: number;
  reservedAt: number;
  /** When the key last admitted a request here: a reserve is kept while it is in use. */
  admittedAt: number;
  /** Requests admitted here per second over the last whole second counted (`countFrom` on), and since then. */
  rate: number;
  countFrom: number;
  counted: number;
  /** Gateways sharing the key when last seen (this one included). */
  gateways: number;
  /** Concurrency slots held in the shared state (requests in flight plus headroom). */
  slots: number;
  /** The most requests in flight since the last exchange off the request path: the slots kept at the next. */
  peak: number;
  /** When an exchange asking for headroom last got none. */
  headroomDeniedAt: number;
  /** Tokens of finished requests not yet added to the shared state. */
  tokens: number;
  /** Window tokens of finished requests not yet added to the shared state, per second of their finish. */
  windowTokens: { chat: [number, number][]; batch: [number, number][] };
  /** The key's limits when last seen, for exchanges off the request path. */
  limits?: KeyLimits;
  /** Requests leased per second in the counted minute, as this gateway heard them granted, less what it gave back. */
  held: [number, number][];
  exchanging?: Promise<LeaseGrant>;
  timer?: NodeJS.Timeout;
}

/**
 * Requests per minute, tokens per minute and concurrency of a key, held across every gateway: each
 * gateway leases a few requests and the slots it needs from a shared entry (NATS KV), admits from its
 * lease without a round trip and gives back what it did not use after `LEASE_SPEC.lifetimeMs`. A lease
 * is only used within that lifetime, and the shared count covers a minute plus a lifetime of leases,
 * so no 60 seconds hold more admissions than the limit, however many gateways share the key. The next
 * lease is asked for in the background once the one in hand runs low (`LeaseSpec.prefetchShare`): a busy
 * key admits without waiting on the exchange, and each lease is used within a lifetime of its own grant.
 * Without a store each gateway limits on its own counts (the whole limit). While the entry cannot be reached, or
 * a write's outcome is unknown, a gateway admits requests only from its lease in hand and then from its
 * reserve (a few seconds of its share, counted in the entry before it is needed and renewed at every
 * exchange while the key is in use: the others may lease everything else meanwhile), and tokens and
 * concurrency within its share among the gateways last seen.
 */
@Injectable()
export class KeyLimitsService implements OnModuleDestroy {
  private readonly local = new KeyLimiter();
  private readonly held = new Map<string, Holding>();
  private localOnlyUntil = 0;

  constructor(
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    @Optional() private readonly logger?: Logger,
    @Optional() private readonly shared?: SharedLimitsRepository,
    @Optional() private readonly spec: LeaseSpec = LEASE_SPEC,
  ) {}

  /** Counts the request in, or says which limit it would break (and counts nothing). */
  async admit(keyId: string, limits: KeyLimits, now: number): Promise<LimitExceeded | undefined> {
    const { requestsPerMinute, tokensPerMinute, maxConcurrent } = limits;
    if (!this.shared || !(requestsPerMinute || tokensPerMinute || maxConcurrent)) return this.local.admit(keyId, limits, now);
    const h = this.holding(keyId);
    if (this.clock.now() < this.localOnlyUntil) return this.admitAlone(keyId, limits, h, now);
    // When the lease slot was found fresh: the request is taken from it as of then (no await in between).
    let leaseAt: number;
    for (;;) {
      leaseAt = this.clock.now();
      const inFlight = this.local.concurrent(keyId);
      const needLease = !!requestsPerMinute && nextLeased(h.leases, leaseAt, this.spec) < 0;
      const needSlot = !!maxConcurrent && inFlight + 1 > h.slots;
      const needState = !!tokensPerMinute && (!h.state || this.clock.now() - h.syncedAt > 2 * this.spec.lifetimeMs);
      if (!needLease && !needSlot && !needState) break;
      if (h.exchanging) {
        await h.exchanging.catch(() => undefined);
        continue;
      }
      // On the request path only leases past their lifetime are given back; slots are only added (with headroom).
      const slots = maxConcurrent ? Math.max(h.slots, inFlight + (needSlot ? 1 : 0)) : 0;
      let grant: LeaseGrant;
      try {
        const want = needLease ? leaseWanted(requestsPerMinute!, h.rate, this.spec) : 0;
        grant = await this.exchange(keyId, h, limits, want, slots, false, needSlot);
      } catch (err) {
        this.localOnly(err);
        return this.admitAlone(keyId, limits, h, now);
      }
      if (needLease && grant.requests < 1) return requestsExceeded(grant.state, requestsPerMinute!, this.clock.now(), this.spec);
      // Every slot is in use at this gateway or another.
      if (needSlot && grant.slots < slots)
        return { limit: 'concurrent_requests', used: maxConcurrent!, ceiling: maxConcurrent!, retryAfterSeconds: 1 };
      // Granted; requests admitted meanwhile may have used it, so look again.
    }
    if (tokensPerMinute && h.state) {
      const refused = tokensExceeded(h.state, tokensPerMinute, h.tokens, this.clock.now(), this.spec);
      if (refused) return refused;
    }
    const refused = this.local.admit(keyId, limits, now);
    if (refused) return refused;
    h.limits = limits;
    h.admittedAt = this.clock.now();
    if (requestsPerMinute) {
      this.takeLeased(h, leaseAt);
      this.count(h, h.admittedAt);
    }
    if (maxConcurrent) h.peak = Math.max(h.peak, this.local.concurrent(keyId));
    this.prefetch(keyId, h, limits);
    this.keep(keyId, h);
    return undefined;
  }

  /**
   * Asks for the next lease in the background once the fresh lease in hand falls to the low-water mark, while it
   * still has requests: those are admitted from it meanwhile, and the next ones from the new slot without waiting.
   * Likewise for slots once the headroom over the requests in flight is half used. Nothing fresh is given back; a
   * failure leaves the gateway limiting on its own counts, as on the request path.
   */
  private prefetch(keyId: string, h: Holding, limits: KeyLimits): void {
    if (h.exchanging) return;
    const { requestsPerMinute, maxConcurrent } = limits;
    const fresh = requestsPerMinute ? freshLeased(h.leases, this.clock.now(), this.spec) : 0;
    const leaseLow = !!requestsPerMinute && fresh >= 1 && fresh <= prefetchAt(requestsPerMinute, this.spec, h.rate);
    const inFlight = this.local.concurrent(keyId);
    // Not again within a lifetime of an exchange that found no headroom left (the key is near its concurrency).
    const room =
      maxConcurrent && this.clock.now() - h.headroomDeniedAt >= this.spec.lifetimeMs
        ? slotHeadroom(maxConcurrent, maxConcurrent, h.gateways, this.spec)
        : 0;
    const slotsLow = room > 0 && h.slots - inFlight <= Math.floor(room / 2);
    if (!leaseLow && !slotsLow) return;
    const slots = maxConcurrent ? Math.max(h.slots, inFlight) : 0;
    const want = leaseLow ? leaseWanted(requestsPerMinute!, h.rate, this.spec) : 0;
    this.exchange(keyId, h, limits, want, slots, false, slotsLow).catch((err) => this.localOnly(err));
  }

  /** Counts an admission towards the rate the next lease is sized by. */
  private count(h: Holding, at: number): void {
    const elapsed = at - h.countFrom;
    if (elapsed >= 1000) {
      // A second or more since the count began: its rate (0 after a pause of over two seconds).
      h.rate = elapsed < 2000 ? (h.counted * 1000) / elapsed : 0;
      h.countFrom = at;
      h.counted = 0;
    }
    h.counted += 1;
  }

  /** Takes one request from the oldest fresh lease slot (false when none has one left); a slot used up is dropped. */
  private takeLeased(h: Holding, at: number): boolean {
    const i = nextLeased(h.leases, at, this.spec);
    if (i < 0) return false;
    const n = h.leases[i].n - 1;
    if (n > 0) h.leases[i] = { ...h.leases[i], n };
    else h.leases.splice(i, 1);
    return true;
  }

  /**
   * Admits on this gateway's own counts while the shared state cannot be reached (or the outcome of the last
   * write there is unknown): requests only from the unused lease within its lifetime and then the reserve
   * within its own, which the state already counts (the others may lease all the rest meanwhile); tokens and
   * concurrency within its share.
   */
  private admitAlone(keyId: string, limits: KeyLimits, h: Holding, now: number): LimitExceeded | undefined {
    this.keep(keyId, h); // tries the state again within a lease's lifetime
    const ownRequests = this.local.requestsUsed(keyId, now);
    const at = this.clock.now();
    const fallback = fallbackLimits(
      limits,
      h.gateways,
      h.slots,
      { ownRequests, leases: h.leases, unusedReserve: h.reserve, reservedAt: h.reservedAt },
      at,
      this.spec,
    );
    if (limits.requestsPerMinute && ownRequests >= fallback.requestsPerMinute!)
      return { limit: 'requests_per_minute', used: ownRequests, ceiling: limits.requestsPerMinute, retryAfterSeconds: 1 };
    const refused = this.local.admit(keyId, fallback, now);
    if (refused) return refused;
    if (limits.requestsPerMinute && !this.takeLeased(h, at)) h.reserve -= 1;
    h.limits = limits;
    h.admittedAt = at;
    return undefined;
  }

  /**
   * Counts a finished request's tokens towards the key's token windows at every gateway: sent with
   * the next exchange (within a lease's lifetime), kept in the shared state for `LeaseSpec.recentMs`.
   */
  recordWindowTokens(keyId: string, kind: WindowKind, tokens: number, at: number): void {
    if (!this.shared || tokens <= 0) return;
    const h = this.holding(keyId);
    const pending = h.windowTokens[kind];
    const second = Math.floor(at / 1000);
    const last = pending[pending.length - 1];
    if (last && last[0] === second) last[1] += tokens;
    else pending.push([second, tokens]);
    this.keep(keyId, h);
  }

  /**
   * Window tokens of `kind` every gateway finished from `since` (epoch ms, a whole second) on, this
   * gateway's unsent ones included: what the ledger's totals up to `since` lack. Reads the shared state
   * again when it is older than two lease lifetimes (a round trip then, not per request). Undefined
   * without the shared state, or when it cannot be reached: the caller counts on its own.
   */
  async windowTokensSince(keyId: string, kind: WindowKind, since: number): Promise<number | undefined> {
    if (!this.shared || this.clock.now() < this.localOnlyUntil) return undefined;
    const h = this.holding(keyId);
    if (!h.state || this.clock.now() - h.syncedAt > 2 * this.spec.lifetimeMs) {
      try {
        await (h.exchanging ?? this.exchange(keyId, h, h.limits ?? {}, 0, h.slots, false));
      } catch (err) {
        this.localOnly(err);
        return undefined;
      }
      this.keep(keyId, h);
    }
    if (!h.state) return undefined;
    const from = Math.floor(since / 1000);
    let unsent = 0;
    for (const [s, n] of h.windowTokens[kind]) if (s >= from) unsent += n;
    return windowTokensSince(h.state, kind, since) + unsent;
  }

  /** The request finished: frees its concurrency slot and counts its tokens. */
  release(keyId: string, tokens: number, now: number): void {
    this.local.release(keyId, tokens, now);
    const h = this.held.get(keyId);
    if (h && tokens > 0) h.tokens += tokens;
  }

  /** Where the key stands against its per-minute limits across gateways (a limit the key does not have is absent). */
  standing(keyId: string, limits: KeyLimits, now: number): { requests?: LimitState; tokens?: LimitState } {
    const h = this.held.get(keyId);
    if (!h?.state) return this.local.standing(keyId, limits, now);
    // Every unused lease slot (fresh, or past its lifetime and given back at the next exchange) and the reserve, which
    // goes back at the next exchange too: remaining.
    let unused = Math.max(0, h.reserve);
    for (const slot of h.leases) unused += slot.n;
    return sharedStanding(h.state, limits, unused, h.tokens, now, this.spec);
  }

  onModuleDestroy(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
  }

  private holding(keyId: string): Holding {
    let h = this.held.get(keyId);
    if (!h)
      this.held.set(
        keyId,
        (h = {
          syncedAt: 0,
          leases: [],
          reserve: 0,
          reserveSecond: 0,
          reservedAt: 0,
          admittedAt: 0,
          rate: 0,
          countFrom: 0,
          counted: 0,
          gateways: 1,
          slots: 0,
          peak: 0,
          headroomDeniedAt: 0,
          tokens: 0,
          windowTokens: { chat: [], batch: [] },
          held: [],
        }),
      );
    return h;
  }

  /**
   * One compare-and-set exchange: tokens in, `want` more requests and `slots` slots asked for, the unused lease slots
   * past their lifetime back (the fresh ones too if `giveBackFresh`), and headroom over `slots` if `headroom`.
   */
  private exchange(
    keyId: string,
    h: Holding,
    limits: KeyLimits,
    want: number,
    slots: number,
    giveBackFresh: boolean,
    headroom = false,
  ): Promise<LeaseGrant> {
    // A lease slot given back goes now, each from its own second: requests arriving meanwhile use the fresh slots
    // kept, or wait for this exchange. What this gateway holds is its own account (whatever becomes of the write):
    // the entry is corrected to it at every exchange.
    const at = this.clock.now();
    const from = countedFrom(at, this.spec);
    h.held = h.held.filter(([s]) => s >= from);
    const kept: LeaseSlot[] = [];
    for (const slot of h.leases) {
      if (!giveBackFresh && isFresh(slot, at, this.spec)) {
        kept.push(slot);
        continue;
      }
      const i = h.held.findIndex(([s]) => s === slot.second);
      if (i >= 0 && (h.held[i][1] -= slot.n) <= 0) h.held.splice(i, 1);
    }
    h.leases = kept;
    // The unused reserve goes back with every exchange (a new one is asked for while the key is in use); it stays
    // the gateway's until the exchange is heard to be done, for requests admitted alone meanwhile.
    const sentReserve = Math.max(0, h.reserve);
    const held: [number, number][] = [];
    for (const [s, n] of h.held) {
      const left = s === h.reserveSecond ? n - sentReserve : n;
      if (left > 0) held.push([s, left]);
    }
    const reserve = !!limits.requestsPerMinute && this.clock.now() - h.admittedAt < this.spec.reserveLifetimeMs;
    const tokens = h.tokens;
    const copy = (counts: [number, number][]) => counts.map(([s, n]): [number, number] => [s, n]);
    const windowTokens = { chat: copy(h.windowTokens.chat), batch: copy(h.windowTokens.batch) };
    const gateway = this.shared!.gatewayId;
    const run = async () => {
      const now = this.clock.now();
      const grant = await this.shared!.update(
        keyId,
        (current) =>
          exchange(current, { gateway, want, held, tokens, slots, slotHeadroom: headroom, windowTokens, reserve }, limits, now, this.spec),
        EXCHANGE_TIMEOUT_MS,
      );
      // Sent: what was pending then (later ones were appended after it, and the last second may have grown).
      for (const kind of ['chat', 'batch'] as const) {
        const sent = windowTokens[kind];
        const pending = h.windowTokens[kind];
        if (sent.length === 0) continue;
        const [lastSecond, lastSent] = sent[sent.length - 1];
        pending.splice(0, sent.length - 1);
        if (pending[0]?.[0] === lastSecond) pending[0][1] -= lastSent;
        if (pending[0] && pending[0][1] <= 0) pending.shift();
      }
      // Reached: the request path asks the state again.
      this.localOnlyUntil = 0;
      h.state = grant.state;
      h.syncedAt = this.clock.now();
      h.gateways = sharingGateways(grant.state, gateway, now, this.spec);
      // What the entry now has for this gateway: what was sent, the reserve used alone while the exchange was out
      // (counted again at the next exchange), the new lease and the new reserve.
      const hold = (second: number, n: number) => {
        if (n <= 0) return;
        const i = held.findIndex(([s]) => s >= second);
        if (i < 0) held.push([second, n]);
        else if (held[i][0] === second) held[i][1] += n;
        else held.splice(i, 0, [second, n]);
      };
      hold(h.reserveSecond, sentReserve - Math.max(0, h.reserve));
      if (grant.requests > 0) {
        // A slot of its own after those still held (its lifetime runs from this grant); the slots held are not changed.
        h.leases.push({ n: grant.requests, second: grant.second, leasedAt: now });
        hold(grant.second, grant.requests);
      }
      h.reserve = grant.reserve;
      h.reserveSecond = grant.reserveSecond;
      h.reservedAt = now;
      hold(grant.reserveSecond, grant.reserve);
      h.held = held;
      h.slots = grant.slots;
      if (headroom && grant.slots <= slots) h.headroomDeniedAt = now;
      h.tokens -= tokens;
      return grant;
    };
    const p = run().finally(() => {
      if (h.exchanging === p) h.exchanging = undefined;
    });
    h.exchanging = p;
    return p;
  }

  /**
   * Gives back, after a lease's lifetime, what the key's requests did not use and sends their tokens; repeats while
   * anything is held. A fresh lease slot goes back too once the key has admitted nothing for a lifetime; while the key
   * is in use it is kept, so a busy key does not wait on this exchange every lifetime.
   */
  private keep(keyId: string, h: Holding): void {
    if (h.timer) return;
    h.timer = setTimeout(() => {
      h.timer = undefined;
      const inFlight = this.local.concurrent(keyId);
      const pending = h.windowTokens.chat.length + h.windowTokens.batch.length;
      const cutOff = this.clock.now() < this.localOnlyUntil; // tried again until the state answers
      const reserved = h.reserve > 0 && this.clock.now() - h.reservedAt < this.spec.reserveLifetimeMs;
      if (!cutOff && h.leases.length === 0 && !reserved && h.tokens <= 0 && pending === 0 && h.slots <= inFlight && inFlight === 0) {
        // Its leases of the last minute are still its account of them (forgotten, the next exchange would give them back).
        if (h.held.some(([s]) => s >= countedFrom(this.clock.now(), this.spec))) this.keep(keyId, h);
        else this.held.delete(keyId);
        return;
      }
      const limits = h.limits ?? {};
      const idle = this.clock.now() - h.admittedAt >= this.spec.lifetimeMs;
      // Slots: the most in flight over the last lifetime, with headroom while the key is in use; those in flight once idle.
      const slots = limits.maxConcurrent ? (idle ? inFlight : Math.max(inFlight, h.peak)) : 0;
      h.peak = inFlight;
      const done = h.exchanging ?? this.exchange(keyId, h, limits, 0, slots, idle, !idle);
      done.then(
        () => this.keep(keyId, h),
        (err) => {
          this.localOnly(err);
          this.keep(keyId, h);
        },
      );
    }, this.spec.lifetimeMs);
    h.timer.unref();
  }

  private localOnly(err: unknown): void {
    if (this.clock.now() >= this.localOnlyUntil) {
      this.logger?.warn("shared key limits unreachable; limiting on this gateway's counts", {
        error: (err as Error).message,
        forMs: LOCAL_ONLY_MS,
      });
    }
    this.localOnlyUntil = this.clock.now() + LOCAL_ONLY_MS;
  }
}
