import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { KeyUsageReply, KeyUsageRequest, RequestCompleted } from '@maas/contracts';
import { UsageRecordRepository } from '../repositories/usage-record.repository';

const requests = new Counter({ name: 'maas_requests_total', help: 'API requests by model, endpoint, kind and status', labelNames: ['model', 'endpoint', 'kind', 'status'] });
const tokens = new Counter({ name: 'maas_tokens_total', help: 'Tokens by model, direction (input/output) and kind', labelNames: ['model', 'direction', 'kind'] });

/** The usage ledger: every request once, whatever the redeliveries; counters for Prometheus. */
@Injectable()
export class UsageLedgerService {
  constructor(private readonly records: UsageRecordRepository) {}

  /** Returns false for a redelivered event already in the ledger. */
  async requestCompleted(u: RequestCompleted): Promise<boolean> {
    if (!(await this.records.record(u))) return false;
    requests.inc({ model: u.model, endpoint: u.endpoint, kind: u.kind, status: String(u.status) });
    tokens.inc({ model: u.model, direction: 'input', kind: u.kind }, u.promptTokens);
    tokens.inc({ model: u.model, direction: 'output', kind: u.kind }, u.completionTokens);
    return true;
  }

  /** A key's ledger totals since each asked instant: what several gateways (and a restarted one) agree on. */
  async keyUsage(msg: KeyUsageRequest): Promise<KeyUsageReply> {
    return { keyId: msg.keyId, windows: await this.records.keyTokensSince(msg.keyId, msg.since.map((s) => new Date(s)), msg.until ? new Date(msg.until) : new Date()) };
  }
}
