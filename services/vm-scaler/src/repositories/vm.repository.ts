import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { CapacityEvent } from '@maas/scaling';

/** The `vms` inventory: one row per node, updated on every state change. */
@Injectable()
export class VmRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async changed(e: CapacityEvent): Promise<void> {
    const at = new Date(e.at * 1000);
    await this.db.query(
      `INSERT INTO vms (vm_id, provider, vm_type, model, state, state_since, reason, requested_at, ready_at, stopped_at)
       VALUES ($1, $2, $3, $4, $5::text, $6::timestamptz, $7, $6::timestamptz,
               CASE WHEN $5::text = 'ready' THEN $6::timestamptz END, CASE WHEN $5::text IN ('stopped', 'failed') THEN $6::timestamptz END)
       ON CONFLICT (vm_id) DO UPDATE SET
         state = EXCLUDED.state,
         state_since = EXCLUDED.state_since,
         reason = COALESCE(EXCLUDED.reason, vms.reason),
         ready_at = COALESCE(EXCLUDED.ready_at, vms.ready_at),
         stopped_at = COALESCE(EXCLUDED.stopped_at, vms.stopped_at)`,
      [e.vmId, e.provider, e.vmType, e.model, e.to, at, e.reason],
    );
  }
}
