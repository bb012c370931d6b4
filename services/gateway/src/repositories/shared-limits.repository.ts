import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { JSONCodec, KV } from 'nats';
import { MessageBus } from '@maas/nats';
import type { SharedKeyState } from '../policy/limit-lease';

const json = JSONCodec<SharedKeyState>();
/** A key's entry goes once no gateway has written it for this long (its minutes and slots are over by then). */
const ENTRY_TTL_MS = 5 * 60_000;
/** Compare-and-set attempts before an exchange gives up (each conflict is another gateway's write in between). */
const ATTEMPTS = 8;

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
   * otherwise reads again and repeats. Returns what `change` returned for the state written.
   */
  async update<T extends { state: SharedKeyState }>(
    keyId: string,
    change: (current: SharedKeyState | undefined) => T,
    timeoutMs: number,
  ): Promise<T> {
    const kv = await this.kv(timeoutMs);
    const name = encodeKey(keyId);
    for (let attempt = 1; ; attempt++) {
      const entry = await kv.get(name);
      const live = entry && entry.operation === 'PUT' && entry.value.length > 0;
      const result = change(live ? json.decode(entry.value) : undefined);
      try {
        if (entry) await kv.update(name, json.encode(result.state), entry.revision);
        else await kv.create(name, json.encode(result.state));
        return result;
      } catch (err) {
        if (attempt >= ATTEMPTS || !/wrong last sequence|key exists/i.test((err as Error).message)) throw err;
      }
    }
  }
}

/** KV keys allow letters, digits, `-`, `_`, `=` and `.`; anything else in a key id is hex-escaped. */
function encodeKey(keyId: string): string {
  return `k.${keyId.replace(/[^A-Za-z0-9_-]/g, (c) => `=${c.charCodeAt(0).toString(16)}`)}`;
}
