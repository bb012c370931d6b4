import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { KeyUsageReply, KeyUsageRequest, RequestCompleted, UserUsageReply, UserUsageRequest } from '@maas/contracts';
import { UsageRecordRepository } from '../repositories/usage-record.repository';
import { modelLabel } from './model-label';

// Counted once per request whatever the redeliveries (the ledger decides), so these are the billing view;
// the gateways' maas_gateway_* metrics are the latency view.
const requests = new Counter({
  name: 'maas_requests_total',
  help: 'API requests by model, endpoint, kind and status, once each',
  labelNames: ['model', 'endpoint', 'kind', 'status'],
});
const tokens = new Counter({
  name: 'maas_tokens_total',
  help: 'Tokens by model, direction (input/output) and kind, once per request',
  labelNames: ['model', 'direction', 'kind'],
});

function count(u: RequestCompleted): void {
  const model = modelLabel(u.model, u.workerId !== null);
  requests.inc({ model, endpoint: u.endpoint, kind: u.kind, status: String(u.status) });
  tokens.inc({ model, direction: 'input', kind: u.kind }, u.promptTokens);
  tokens.inc({ model, direction: 'output', kind: u.kind }, u.completionTokens);
}

/** The usage ledger: every request once, whatever the redeliveries; bounded counters for Prometheus. */
@Injectable()
export class UsageLedgerService {
  constructor(private readonly records: UsageRecordRepository) {}

  /** Returns false for a redelivered event already in the ledger. */
  async requestCompleted(u: RequestCompleted): Promise<boolean> {
    if (!(await this.records.record(u))) return false;
    count(u);
    return true;
  }

  /** Many events in one write; returns the request ids that were not in the ledger yet. */
  async requestsCompleted(events: readonly RequestCompleted[]): Promise<Set<string>> {
    const fresh = await this.records.recordMany(events);
    for (const u of events) if (fresh.has(u.requestId)) count(u);
    return fresh;
  }

  /** A key's ledger totals since each asked instant: what several gateways (and a restarted one) agree on. */
  async keyUsage(msg: KeyUsageRequest): Promise<KeyUsageReply> {
    return {
      keyId: msg.keyId,
      windows: await this.records.keyTokensSince(
        msg.keyId,
        msg.since.map((s) => new Date(s)),
        msg.until ? new Date(msg.until) : new Date(),
      ),
    };
  }

  /** A user's usage per day and kind (the portal's chart in auth, which asks rather than reading this ledger). */
  async userUsage(msg: UserUsageRequest): Promise<UserUsageReply> {
    if (!isTimeZone(msg.timeZone)) throw new Error(`timeZone "${msg.timeZone}" is not an IANA time zone (e.g. Asia/Tokyo)`);
    return { userEmail: msg.userEmail, days: await this.records.dailyForUser(msg.userEmail, new Date(msg.since), msg.timeZone) };
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
