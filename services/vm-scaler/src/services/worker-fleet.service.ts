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
 * Each node's sum is kept up to date as reports arrive, so a tick reads it in O(1) per node
 * rather than going through every worker for every node.
 */
@Injectable()
export class WorkerFleetService {
  private readonly workers = new Map<string, WorkerOnNode>();
  /** Requests held per node, summed over its workers; a node is here while it has a worker. */
  private readonly byNode = new Map<string, { workers: number; inFlight: number }>();
  /** Nodes that have had a worker: once it deregisters, they hold nothing. */
  private readonly seen = new Set<string>();

  constructor(@Inject(CAPACITY_PROVIDER) private readonly provider: ScalerCapacityProvider) {}

  registered(w: WorkerRegistered): void {
    const existing = this.workers.get(w.workerId);
    const inFlight = w.load ? (w.load.inFlight ?? w.load.running + w.load.waiting) : (existing?.inFlight ?? 0);
    if (existing) this.remove(existing);
    this.add({ vmId: w.vmId, inFlight }, w.workerId);
    this.seen.add(w.vmId);
    if (w.state === undefined || w.state === 'ready') this.provider.workerReady(w.vmId);
  }

  heartbeat(h: WorkerHeartbeat): void {
    const w = this.workers.get(h.workerId);
    if (!w) return; // known once it registers (it re-announces itself every few seconds)
    this.set(w, h.load.inFlight ?? h.load.running + h.load.waiting);
    if (h.state === 'ready') this.provider.workerReady(w.vmId);
  }

  draining(d: WorkerDraining): void {
    const w = this.workers.get(d.workerId);
    if (w) this.set(w, d.inFlight);
  }

  deregistered(d: WorkerDeregistered): void {
    const w = this.workers.get(d.workerId);
    if (!w) return;
    this.workers.delete(d.workerId);
    this.remove(w);
  }

  /** Requests the node's workers hold; 0 once they are gone; null when no worker has ever reported. */
  inFlight(vmId: string): number | null {
    const node = this.byNode.get(vmId);
    if (node) return node.inFlight;
    return this.seen.has(vmId) || !this.provider.hostsWorkers ? 0 : null;
  }

  /** A node ended: nothing more to remember about it. */
  forget(vmId: string): void {
    this.seen.delete(vmId);
    if (!this.byNode.delete(vmId)) return;
    for (const [id, w] of this.workers) if (w.vmId === vmId) this.workers.delete(id);
  }

  private add(w: WorkerOnNode, workerId: string): void {
    this.workers.set(workerId, w);
    const node = this.byNode.get(w.vmId);
    if (node) {
      node.workers += 1;
      node.inFlight += w.inFlight;
    } else this.byNode.set(w.vmId, { workers: 1, inFlight: w.inFlight });
  }

  private remove(w: WorkerOnNode): void {
    const node = this.byNode.get(w.vmId);
    if (!node) return;
    node.workers -= 1;
    node.inFlight -= w.inFlight;
    if (node.workers <= 0) this.byNode.delete(w.vmId);
  }

  private set(w: WorkerOnNode, inFlight: number): void {
    const node = this.byNode.get(w.vmId);
    if (node) node.inFlight += inFlight - w.inFlight;
    w.inFlight = inFlight;
  }
}
