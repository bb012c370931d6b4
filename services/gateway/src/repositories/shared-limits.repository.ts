import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { JSONCodec, KV } from 'nats';
import { MessageBus } from '@maas/nats';
import type { SecondCounts, SharedKeyState } from '../policy/limit-lease';

const json = JSONCodec<unknown>();
/** A key's entry goes once no gateway has written it for this long (its minutes and slots are over by then). */
const ENTRY_TTL_MS = 5 * 60_000;
/** Between compare-and-set attempts (each conflict is another gateway's write in between, or a replica not caught up yet). */
const BACKOFF_MS = [0, 1, 2, 4, 8, 16];

/** Per-key limit state shared by every gateway of a namespace: one entry per key in a NATS KV bucket. */
@Injectable()
export class SharedLimitsRepository {
  /** This process among the gateways: the holder name of its concurrency slots. */
  readonly gatewayId = randomUUID();
  private bucket?: Promise<KV>;

  constructor(private readonly bus: MessageBus) {}

  private kv(timeoutMs: number): Promise<KV> {
    this.bucket ??= this.bus.keyValue('key-limits', { ttl: ENTRY_TTL_MS, timeout: timeoutMs }).catch((err) => {
      this.bucket = undefined;
      throw err;
    });
    return this.bucket;
  }

  /**
   * Reads a key's state, applies `change` and writes the result if nobody wrote in between;
   * otherwise reads again and repeats until `timeoutMs` has passed. Returns what `change` returned
   * for the state written. "Nobody wrote in between" is checked on the whole bucket (the stream's last
   * sequence), not on the entry alone: a NATS 2.9 cluster takes two writes expecting the same revision
   * of an entry when both arrive before the first is applied (nats-server#4320; 101 of 300 pairs here),
   * and the later one drops the other's lease. A write to another key in between is a conflict too.
   */
  async update<T extends { state: SharedKeyState }>(
    keyId: string,
    change: (current: SharedKeyState | undefined) => T,
    timeoutMs: number,
  ): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    const kv = await this.kv(timeoutMs);
    const js = this.bus.nc.jetstream({ timeout: timeoutMs });
    const name = encodeKey(keyId);
    const subject = `$KV.${this.bus.bucketName('key-limits')}.${name}`;
    for (let attempt = 0; ; attempt++) {
      const last = (await kv.status()).streamInfo.state.last_seq;
      const entry = await kv.get(name);
      const live = entry && entry.operation === 'PUT' && entry.value.length > 0;
      const result = change(live ? decodeState(entry.value) : undefined);
      try {
        await js.publish(subject, json.encode(result.state), { expect: { lastSequence: last, lastSubjectSequence: entry?.revision ?? 0 } });
        return result;
      } catch (err) {
        if (!/wrong last sequence|last sequence mismatch|key exists/i.test((err as Error).message)) throw err;
        const pause = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] * (0.5 + Math.random());
        if (performance.now() + pause >= deadline)
          throw new Error(`shared key limits: the entry kept changing for ${timeoutMs} ms (${attempt + 1} attempts)`);
        if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      }
    }
  }
}

/**
 * KV keys allow letters, digits, `-`, `_`, `=` and `.`; anything else in a key id is hex-escaped.
 * `s.` entries hold per-second counts (gateways before them wrote per-minute `k.` entries, left alone).
 */
function encodeKey(keyId: string): string {
  return `s.${keyId.replace(/[^A-Za-z0-9_-]/g, (c) => `=${c.charCodeAt(0).toString(16)}`)}`;
}

const isCounts = (v: unknown): v is SecondCounts =>
  Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entry another gateway wrote; one that does not read as a state counts as empty (the next write replaces it). */
function decodeState(data: Uint8Array): SharedKeyState | undefined {
  try {
    const v = json.decode(data);
    if (!isRecord(v) || !isCounts(v.requests) || !isCounts(v.tokens) || !isRecord(v.slots) || !isRecord(v.gateways)) return undefined;
    const windows = isRecord(v.windows) && isCounts(v.windows.chat) && isCounts(v.windows.batch) ? v.windows : undefined;
    const leased = isRecord(v.leased) && Object.values(v.leased).every(isCounts) ? v.leased : undefined;
    return { ...v, windows, leased } as unknown as SharedKeyState;
  } catch {
    return undefined;
  }
}
