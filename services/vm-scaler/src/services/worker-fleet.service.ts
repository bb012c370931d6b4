import { Inject, Injectable } from '@nestjs/common';
import type { WorkerDeregistered, WorkerDraining, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { CAPACITY_PROVIDER, ScalerCapacityProvider } from '../repositories/providers/scaler-provider';

interface WorkerOnNode {
  readonly vmId: string;
  inFlight: number;
}

/**
 * Which workers run on which node and what they hold, from their registrations and heartbeats.
 * A node's in-flight count is what keeps it from being stopped: unknown (null) is never idle.
 */
@Injectable()
export class WorkerFleetService {
  private readonly workers = new Map<string, WorkerOnNode>();
  /** Nodes that have had a worker: once it deregisters, they hold nothing. */
  private readonly seen = new Set<string>();

  constructor(@Inject(CAPACITY_PROVIDER) private readonly provider: ScalerCapacityProvider) {}

  registered(w: WorkerRegistered): void {
    const existing = this.workers.get(w.workerId);
    const inFlight = w.load ? (w.load.inFlight ?? w.load.running + w.load.waiting) : (existing?.inFlight ?? 0);
    this.workers.set(w.workerId, { vmId: w.vmId, inFlight });
    this.seen.add(w.vmId);
    if (w.state === undefined || w.state === 'ready') this.provider.workerReady(w.vmId);
  }

  heartbeat(h: WorkerHeartbeat): void {
    const w = this.workers.get(h.workerId);
    if (!w) return; // known once it registers (it re-announces itself every few seconds)
    w.inFlight = h.load.inFlight ?? h.load.running + h.load.waiting;
    if (h.state === 'ready') this.provider.workerReady(w.vmId);
  }

  draining(d: WorkerDraining): void {
    const w = this.workers.get(d.workerId);
    if (w) w.inFlight = d.inFlight;
  }

  deregistered(d: WorkerDeregistered): void {
    this.workers.delete(d.workerId);
  }

  /** Requests the node's workers hold; 0 once they are gone; null when no worker has ever reported. */
  inFlight(vmId: string): number | null {
    let sum: number | null = null;
    for (const w of this.workers.values()) if (w.vmId === vmId) sum = (sum ?? 0) + w.inFlight;
    if (sum !== null) return sum;
    return this.seen.has(vmId) || !this.provider.hostsWorkers ? 0 : null;
  }

  /** A node ended: nothing more to remember about it. */
  forget(vmId: string): void {
    this.seen.delete(vmId);
    for (const [id, w] of this.workers) if (w.vmId === vmId) this.workers.delete(id);
  }
}
