import { Injectable } from '@nestjs/common';
import type { KeyUsageReply } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** metrics-collector's usage ledger over NATS: a key's token totals, the same for every gateway. */
@Injectable()
export class LedgerRepository {
  constructor(private readonly bus: MessageBus) {}

  keyUsage(keyId: string, since: readonly number[], until: number, timeoutMs: number): Promise<KeyUsageReply> {
    const iso = (t: number) => new Date(t).toISOString();
    return this.bus.request('metrics-collector.key-usage', { keyId, since: since.map(iso), until: iso(until) }, timeoutMs);
  }
}
